"""Tidings as it runs in production: ``tidings`` commands and ``tidings serve`` processes of
their own, started, killed and stopped the way an operator or a crash would, sharing one
database.

Used by the resilience, CLI and log tests; everything is checked through the public API, a
real receiver and the database itself."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import httpx

# The command as an operator types it.
TIDINGS = [sys.executable, "-m", "tidings"]
OPERATOR_KEY = "op_resilience_" + "0" * 32
MASTER_KEY = base64.b64encode(b"k" * 32).decode()

# Fast retries and a short lease, so a crashed worker's notifications come back in seconds.
BASE_ENV = {
    "TIDINGS_OPERATOR_KEY": OPERATOR_KEY,
    "TIDINGS_MASTER_KEY": MASTER_KEY,
    "TIDINGS_ALLOW_PRIVATE_NETWORKS": "1",
    "TIDINGS_WORKER_POLL_INTERVAL": "0.5",
    "TIDINGS_RETRY_SCHEDULE": "1s,1s,2s,2s,5s,5s",
    "TIDINGS_RETRY_JITTER": "0",
    "TIDINGS_DELIVERY_TIMEOUT": "3",
    "TIDINGS_LEASE_SECONDS": "10",
    "TIDINGS_SHUTDOWN_GRACE": "3",
    "TIDINGS_KEY_RATE_LIMIT": "0",
    "TIDINGS_LOG_LEVEL": "info",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cli_env(columns: int | None = None) -> dict[str, str]:
    """This environment without its TIDINGS_* settings, logging warnings only (and a terminal
    ``columns`` wide, for tables)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIDINGS_")}
    env["TIDINGS_LOG_LEVEL"] = "warning"
    if columns is not None:
        env["COLUMNS"] = str(columns)
    return env


@dataclass
class Ran:
    """A ``tidings`` command that ran to its end."""

    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err


def tidings(*args: str, columns: int = 200) -> Ran:
    """Run ``tidings *args`` as an operator would, in a terminal ``columns`` wide."""
    result = subprocess.run(
        [*TIDINGS, *args], capture_output=True, text=True, env=cli_env(columns), timeout=120
    )
    return Ran(result.returncode, result.stdout, result.stderr)


def wait_until_serving(
    base_url: str, process: subprocess.Popen[Any], timeout: float = 60.0, name: str = "serve"
) -> None:
    """Block until the ``tidings serve`` at ``base_url`` answers /healthz; fail the test if it
    exits or does not answer within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{name} exited with {process.returncode} before answering")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{name} did not answer /healthz within {timeout}s")


@dataclass
class Process:
    """One ``tidings serve`` process; its JSON log goes to ``log_path``."""

    name: str
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    popen: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Process:
        env = {**os.environ, **self.env, "TIDINGS_PORT": str(self.port)}
        log = self.log_path.open("ab")
        self.popen = subprocess.Popen([*TIDINGS, "serve"], env=env, stdout=log, stderr=log)
        log.close()
        try:
            wait_until_serving(self.base_url, self.popen, timeout, self.name)
        except AssertionError as exc:
            raise AssertionError(f"{exc}:\n{self.log_tail()}") from None
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush — a crash."""
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)

    def terminate(self, sig: int = signal.SIGTERM, timeout: float = 60.0) -> tuple[int, float]:
        """Send ``sig``; the exit code and how long the process took to exit."""
        assert self.popen is not None
        started = time.monotonic()
        self.popen.send_signal(sig)
        code = self.popen.wait(timeout)
        return code, time.monotonic() - started

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            if raw.startswith("{"):
                try:
                    lines.append(json.loads(raw))
                except ValueError:
                    continue
        return lines

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def worker_ids(self) -> list[str]:
        """The ids of the workers this process ran (one per start), from its log."""
        return [
            line["worker_id"] for line in self.log_lines() if line.get("event") == "worker started"
        ]

    def metric(self, name: str) -> float:
        """A metric's value as this process reports it (summed over its label sets)."""
        text = httpx.get(f"{self.base_url}/metrics", timeout=10).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name) and line[len(name)] in " {":
                total += float(line.rsplit(" ", 1)[1])
        return total


class Cluster:
    """Processes sharing one database, started and stopped by the test."""

    def __init__(self, database_url: str, directory: Path, **settings: str) -> None:
        self.database_url = database_url
        self.directory = directory
        self.env = {
            **BASE_ENV,
            "TIDINGS_DATABASE_URL": database_url,
            "TIDINGS_DATA_DIR": str(directory / "data"),
            **{f"TIDINGS_{k.upper()}": v for k, v in settings.items()},
        }
        self.processes: list[Process] = []

    def start(self, role: str = "all", **settings: str) -> Process:
        index = len(self.processes)
        process = Process(
            name=f"{role}-{index}",
            env={
                **self.env,
                "TIDINGS_ROLE": role,
                **{f"TIDINGS_{k.upper()}": v for k, v in settings.items()},
            },
            log_path=self.directory / f"{role}-{index}.log",
        )
        self.processes.append(process)
        return process.start()

    def restart(self, process: Process) -> Process:
        return process.start()

    def stop_all(self) -> None:
        for process in self.processes:
            if process.running:
                try:
                    process.terminate(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.log_tail()}" for p in self.processes)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop_all()


def publish_many(
    base_url: str,
    api_key: str,
    event_types: list[str],
    count: int,
    *,
    concurrency: int = 32,
    give_up_after: float = 120.0,
) -> dict[str, list[str]]:
    """Publish ``count`` events (types in rotation), each with its own Idempotency-Key,
    retrying an event whose answer was lost or was not a 202 (a process or the database
    being away) until it is accepted. The accepted events: event id -> notification ids.
    Every answer must be a 202 or a 503 or no answer at all: never a 500."""
    accepted: dict[str, list[str]] = {}
    deadline = time.monotonic() + give_up_after

    async def one(http: aiohttp.ClientSession, index: int) -> None:
        body = {"eventType": event_types[index % len(event_types)], "eventData": {"n": index}}
        headers = {"Idempotency-Key": f"event-{index}"}
        while True:
            status, found = 0, None
            try:
                async with http.post(f"{base_url}/v1/events", json=body, headers=headers) as answer:
                    code = answer.status
                    found = await answer.json() if code == 202 else await answer.text()
                    status = code  # only once the whole answer arrived
            except (aiohttp.ClientError, TimeoutError):
                # The answer was lost (a process killed after its status line, say): the same
                # Idempotency-Key makes the retry safe.
                pass
            if status == 202:
                assert isinstance(found, dict)
                accepted[found["id"]] = [n["id"] for n in found["notifications"]]
                return
            if status:
                assert status == 503, f"{status}: {found}"
            assert time.monotonic() < deadline, f"event {index} never accepted"
            await asyncio.sleep(0.2)

    async def run() -> None:
        # aiohttp rather than httpx: the publisher must not take the CPU the server needs.
        async with aiohttp.ClientSession(
            headers={"X-Api-Key": api_key},
            timeout=aiohttp.ClientTimeout(total=30),
            connector=aiohttp.TCPConnector(limit=concurrency),
        ) as http:
            queue = iter(range(count))

            async def lane() -> None:
                for index in queue:
                    await one(http, index)

            await asyncio.gather(*(lane() for _ in range(concurrency)))

    asyncio.run(run())
    return accepted


def query(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` straight from the database (the tests' own view of what is stored)."""
    if database_url.startswith("sqlite"):
        path = database_url.split("///", 1)[1]
        with sqlite3.connect(path, timeout=30) as conn:
            return [tuple(row) for row in conn.execute(sql).fetchall()]

    async def run() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(database_url, timeout=10)
        try:
            return [tuple(row) for row in await conn.fetch(sql)]
        finally:
            await conn.close()

    return asyncio.run(run())


def notification_id(headers: dict[str, str]) -> str:
    for name, value in headers.items():
        if name.lower() == "webhook-id":
            return value
    raise AssertionError(f"no webhook-id header in {headers}")


def interruptible() -> None:
    """``preexec_fn`` for a command the test stops with Ctrl-C (SIGINT): a suite started as a
    background job (``pytest … &``) ignores SIGINT, and its children would inherit that."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
