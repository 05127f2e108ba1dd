"""What every part of the benchmark shares: ports, payloads, child processes, the event loop."""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable

# A delivery body of this many bytes: what the ceiling client sends, and what Tidings sends
# for every benchmark event (the event data is padded to it).
BODY_BYTES = 1024

# Every child process the harness started, killed at exit whatever happened.
_children: list[subprocess.Popen[bytes]] = []


class RunFailed(Exception):
    """A run did not complete: it lost notifications, stalled, or a process failed."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def use_uvloop() -> str:
    """Install uvloop's event loop policy when uvloop is importable; name the loop used."""
    try:
        import uvloop
    except ImportError:
        return "asyncio"
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return "uvloop"


def envelope_overhead() -> int:
    """Bytes of Tidings' full-format envelope around the event data."""
    sample = {
        "id": "ntf_01KAV5RQ5ZJ1Y9X4XW2YHMJ7QK",
        "webhookId": "wh_01KAV5RQ5ZJ1Y9X4XW2YHMJ7QK",
        "eventType": "bench.event",
        "eventRaisedAt": "2026-11-24T10:05:06.197Z",
        "eventData": {},
    }
    return len(json.dumps(sample, separators=(",", ":"))) - 2


def event_data(i: int) -> dict[str, object]:
    """Event data that makes a delivery body of about ``BODY_BYTES``."""
    base = len(json.dumps({"i": i, "pad": ""}, separators=(",", ":")))
    return {"i": i, "pad": "x" * max(0, BODY_BYTES - envelope_overhead() - base)}


def sample_body() -> bytes:
    """A body shaped and sized as Tidings delivers one (the ceiling client sends it)."""
    body = {
        "id": "ntf_01KAV5RQ5ZJ1Y9X4XW2YHMJ7QK",
        "webhookId": "wh_01KAV5RQ5ZJ1Y9X4XW2YHMJ7QK",
        "eventType": "bench.event",
        "eventRaisedAt": "2026-11-24T10:05:06.197Z",
        "eventData": event_data(123456),
    }
    return json.dumps(body, separators=(",", ":")).encode()


def standard_signature(secret: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """Standard Webhooks v1: base64 HMAC-SHA256 of ``id.timestamp.body``."""
    mac = hmac.new(secret, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def spawn(
    cmd: Sequence[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` in a process group of its own, its output appended to ``log``."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(cmd),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
    _children.append(proc)
    return proc


def stop(proc: subprocess.Popen[bytes], grace: float = 15.0) -> int | None:
    """SIGTERM the process group, SIGKILL it after ``grace`` seconds; the exit status (None if
    it had to be killed)."""
    code: int | None = None
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            code = proc.wait(grace)
        except subprocess.TimeoutExpired:
            code = None
    else:
        code = proc.returncode
    _signal_group(proc, signal.SIGKILL)  # whatever it left behind in its group
    if proc.poll() is None:
        proc.wait(5)
    if proc in _children:
        _children.remove(proc)
    return code


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


@atexit.register
def _kill_children() -> None:
    for proc in list(_children):
        _signal_group(proc, signal.SIGKILL)


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of ``pid`` in kB (empty once it has gone)."""
    found: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return found
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0])
    return found


def wait_tcp(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RunFailed(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")
