"""Tidings processes for a run, and the API calls that set an account up and publish to it.

Only the public interface is used: ``python -m tidings serve`` configured by ``TIDINGS_*``
variables, and the HTTP API."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from common import PYTHON, RunFailed, event_data, free_port, proc_status, spawn, stop


@dataclass
class Deployment:
    """What every process sharing one database is given."""

    work_dir: Path
    database_url: str = ""  # empty: SQLite in data_dir
    env: dict[str, str] = field(default_factory=dict)
    operator_key: str = field(default_factory=lambda: "op_bench" + secrets.token_hex(16))
    master_key: str = field(
        default_factory=lambda: base64.b64encode(secrets.token_bytes(32)).decode()
    )

    @property
    def data_dir(self) -> Path:
        path = self.work_dir / "data"
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def sqlite_file(self) -> Path:
        return self.data_dir / "tidings.db"

    @property
    def engine(self) -> str:
        return "PostgreSQL" if self.database_url else "SQLite"


class Tidings:
    """One ``tidings serve`` process."""

    def __init__(self, deployment: Deployment, role: str, name: str) -> None:
        self.deployment = deployment
        self.role = role
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = deployment.work_dir / f"{name}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self.started_at = 0.0
        self.exit_code: int | None = None
        self.stopped = False

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def env(self) -> dict[str, str]:
        d = self.deployment
        return {
            **os.environ,
            "TIDINGS_OPERATOR_KEY": d.operator_key,
            "TIDINGS_MASTER_KEY": d.master_key,
            "TIDINGS_ALLOW_PRIVATE_NETWORKS": "1",
            "TIDINGS_LOG_LEVEL": "warning",
            "TIDINGS_KEY_RATE_LIMIT": "0",
            "TIDINGS_DATA_DIR": str(d.data_dir),
            "TIDINGS_DATABASE_URL": d.database_url,
            "TIDINGS_PORT": str(self.port),
            "TIDINGS_ROLE": self.role,
            **d.env,
        }

    def start(self) -> None:
        self.started_at = time.time()
        self._proc = spawn([PYTHON, "-m", "tidings", "serve"], self.log, self.env())

    async def ready(self, within: float = 90.0) -> None:
        """Wait for /healthz."""
        assert self._proc is not None
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    raise RunFailed(
                        f"{self.name} exited with {self._proc.returncode} at start: " + self.tail()
                    )
                try:
                    async with session.get(f"{self.base}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise RunFailed(f"{self.name} did not answer /healthz within {within:.0f} s")

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def memory(self) -> dict[str, int]:
        return proc_status(self.pid) if self._proc is not None else {}

    def cpu_seconds(self) -> float:
        """CPU time the process has used so far (user + system): unlike a rate, hardly
        changed by what else runs on the machine."""
        if self._proc is None:
            return 0.0
        try:
            raw = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return 0.0
        fields = raw[raw.rfind(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, grace: float = 20.0) -> None:
        if self._proc is not None:
            self.exit_code = stop(self._proc, grace)
            self.stopped = True
            self._proc = None

    def tail(self, chars: int = 1500) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def problems(self) -> list[str]:
        """Warnings, errors and tracebacks the process logged, counted."""
        found: Counter[str] = Counter()
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return []
        in_traceback = False
        for line in lines:
            if line.startswith("Traceback"):
                in_traceback = True
                continue
            if in_traceback:
                if line and not line.startswith((" ", "\t")):
                    found[f"traceback: {line[:200]}"] += 1
                    in_traceback = False
                continue
            try:
                record = json.loads(line)
            except ValueError:
                if any(w in line.lower() for w in ("error", "warning", "exception")):
                    found[line[:200]] += 1
                continue
            if isinstance(record, dict) and record.get("level") in ("warning", "error", "critical"):
                text = f"{record['level']}: {record.get('event', line[:200])}"
                exception = [
                    x
                    for x in str(record.get("exception") or "").strip().splitlines()
                    if x.strip() and not x.startswith("(Background on this error")
                ]
                found[text + (f" ({exception[-1][:200]})" if exception else "")] += 1
        if self.stopped and self.exit_code is None:
            found["did not stop on SIGTERM in time: killed"] += 1
        elif self.exit_code not in (0, None):
            found[f"exited with status {self.exit_code}"] += 1
        return [f"{self.name}: {text}" + (f" (x{n})" if n > 1 else "") for text, n in found.items()]


class Processes:
    """The processes of one run: all stopped when the run ends, whatever happened."""

    def __init__(self) -> None:
        self.all: list[Tidings] = []

    def add(self, proc: Tidings) -> Tidings:
        self.all.append(proc)
        return proc

    async def start(self, *procs: Tidings) -> None:
        for proc in procs:
            self.add(proc)
            proc.start()
        await asyncio.gather(*(proc.ready() for proc in procs))

    async def stop(self, *procs: Tidings) -> None:
        await asyncio.gather(*(asyncio.to_thread(p.stop) for p in procs or self.all))

    def problems(self) -> list[str]:
        return [p for proc in self.all for p in proc.problems()]


@dataclass
class Published:
    """What publishing returned: each notification id with when its POST was sent."""

    sent: dict[str, float] = field(default_factory=dict)
    accepted: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    # 503 answers ("the database is unavailable right now; try again shortly"), retried.
    retried: Counter[str] = field(default_factory=Counter)
    first_sent: float = 0.0
    last_accepted: float = 0.0
    # Seconds from send to 202, one per accepted event.
    answer_times: list[float] = field(default_factory=list)
    # CPU the API process used while publishing them.
    cpu_seconds: float = 0.0

    @property
    def seconds(self) -> float:
        return max(self.last_accepted - self.first_sent, 1e-9)

    @property
    def rate(self) -> float:
        return self.accepted / self.seconds


# How many times a publish answered 503 is tried again.
RETRIES_503 = 8


class Api:
    """An account on a Tidings API, reached with aiohttp."""

    def __init__(self, base: str, operator_key: str, connections: int = 64) -> None:
        self.base = base
        self.operator_key = operator_key
        self.key = ""
        # Closed here before uvicorn closes them (after 5 s idle): a publish never meets a
        # connection the server has just dropped, between the latency runs' phases.
        connector = aiohttp.TCPConnector(limit=connections, keepalive_timeout=2.0)
        self.session = aiohttp.ClientSession(
            base, connector=connector, timeout=aiohttp.ClientTimeout(total=120)
        )

    async def __aenter__(self) -> Api:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.session.close()

    async def _call(
        self, method: str, path: str, body: Any, headers: dict[str, str], expect: int
    ) -> Any:
        async with self.session.request(method, path, json=body, headers=headers) as response:
            text = await response.text()
            if response.status != expect:
                raise RunFailed(f"{method} {path}: {response.status} {text[:300]}")
            return json.loads(text) if text else None

    async def call(self, method: str, path: str, body: Any = None, expect: int = 201) -> Any:
        return await self._call(method, path, body, {"X-Api-Key": self.key}, expect)

    async def open_account(self, name: str = "bench") -> None:
        op = {"Authorization": f"Bearer {self.operator_key}"}
        account = await self._call("POST", "/v1/accounts", {"name": name}, op, 201)
        as_account = {**op, "Tidings-Account": account["id"]}
        made = await self._call("POST", "/v1/api-keys", {"name": name}, as_account, 201)
        self.key = made["key"]

    async def event_type(self, name: str) -> None:
        await self.call("POST", "/v1/event-types", {"name": name})

    async def webhook(self, url: str, event_types: list[str]) -> str:
        made = await self.call("POST", "/v1/webhooks", {"url": url, "eventTypes": event_types})
        return str(made["id"])

    async def publish(
        self,
        event_type: str,
        count: int,
        *,
        concurrency: int = 64,
        rate: float | None = None,
        advance: Callable[[int], None] | None = None,
        start_index: int = 0,
        only_webhook: str | None = None,
    ) -> Published:
        """Publish ``count`` events: as fast as ``concurrency`` publishers go, or at ``rate``
        events per second, open loop (each send at its slot, whatever the answers do). The
        notifications kept are those of ``only_webhook`` when given, else all."""
        out = Published()
        headers = {"X-Api-Key": self.key, "Content-Type": "application/json"}
        bodies = (
            json.dumps({"eventType": event_type, "eventData": event_data(start_index + i)})
            for i in range(count)
        )

        async def send(body: str) -> None:
            sent = time.time()
            for attempt in range(RETRIES_503 + 1):
                try:
                    async with self.session.post("/v1/events", data=body, headers=headers) as r:
                        payload = await r.read()
                        status = r.status
                except (aiohttp.ClientError, TimeoutError) as exc:
                    out.errors[f"{type(exc).__name__}: {exc}"[:200]] += 1
                    return
                if status != 503 or attempt == RETRIES_503:
                    break
                # What a well-behaved publisher does; counted, and reported by the run.
                out.retried[payload[:200].decode(errors="replace")] += 1
                await asyncio.sleep(min(0.25 * 2**attempt, 5.0))
            done = time.time()
            if status != 202:
                out.errors[f"{status} {payload[:200].decode(errors='replace')}"] += 1
                return
            for notification in json.loads(payload)["notifications"]:
                if only_webhook is None or notification["webhookId"] == only_webhook:
                    out.sent[notification["id"]] = sent
            out.accepted += 1
            out.answer_times.append(done - sent)
            out.last_accepted = max(out.last_accepted, done)
            if advance:
                advance(1)

        out.first_sent = time.time()
        if rate is None:
            queue = iter(bodies)

            async def publisher() -> None:
                for body in queue:
                    await send(body)

            await asyncio.gather(*(publisher() for _ in range(concurrency)))
        else:
            begin = time.time() + 0.01
            out.first_sent = begin
            tasks = []
            for i, body in enumerate(bodies):
                slot = begin + i / rate
                delay = slot - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(send(body)))
            await asyncio.gather(*tasks)
        return out
