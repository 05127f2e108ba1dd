"""A real webhook receiver for tests: an aiohttp server on 127.0.0.1 in its own thread,
answering from a script and keeping every request it got; over HTTPS with ``tls=True``."""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import trustme
from aiohttp import web


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Reply:
    status: int = 200
    body: str = "ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class Receiver:
    """``tls=True``: served over HTTPS with a certificate for 127.0.0.1 from a CA nobody
    trusts (a self-signed certificate, as far as Tidings can tell)."""

    def __init__(
        self, *replies: Reply | int, default: Reply | int = 200, tls: bool = False
    ) -> None:
        self.requests: list[Received] = []
        self._script: deque[Reply] = deque(_reply(r) for r in replies)
        # What it answers once the script is used up (a test may change it mid-run).
        self.default = _reply(default)
        # The most requests it was answering at once.
        self.max_in_flight = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0
        self._ssl: ssl.SSLContext | None = None
        if tls:
            self._ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            trustme.CA().issue_cert("127.0.0.1", "localhost").configure_cert(self._ssl)

    @property
    def url(self) -> str:
        scheme = "https" if self._ssl else "http"
        return f"{scheme}://127.0.0.1:{self.port}/hook"

    def __enter__(self) -> Receiver:
        self._thread.start()
        if not self._ready.wait(60):
            raise RuntimeError("test receiver did not start")
        return self

    def __exit__(self, *_exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def wait(self, count: int, timeout: float = 30.0) -> list[Received]:
        """Block until ``count`` requests arrived; fail the test if they do not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.02)
        raise AssertionError(f"receiver got {len(self.requests)} requests, expected {count}")

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._lock:
            self.requests.append(
                Received(request.path, dict(request.headers), body, time.monotonic())
            )
            reply = self._script.popleft() if self._script else self.default
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if reply.delay:
                await asyncio.sleep(reply.delay)
        finally:
            self._in_flight -= 1
        return web.Response(status=reply.status, text=reply.body, headers=reply.headers)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # On exit, a second for the requests still being answered (a test's hanging replies).
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self._ssl)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())


def _reply(value: Reply | int) -> Reply:
    return value if isinstance(value, Reply) else Reply(status=value)


def sooner_than_rate(requests: Sequence[Received], rate: float, since: float) -> list[float]:
    """The arrivals (seconds after ``since``) that came sooner than ``rate`` a second allows when
    counting from ``since`` (a ``time.monotonic()`` taken before the first of them was
    published): the n-th to arrive (from 0) may not come before ``since + n / rate``.

    A rate limit hands out send slots ``1 / rate`` apart from the first claim on, which is after
    ``since``; a loaded machine only sends later than the slot, never sooner, so this holds on
    any machine, while without a limit nearly all arrive at once and most come too soon."""
    times = sorted(r.at - since for r in requests)
    # 50 ms for timers that fire a hair early and for the server's clock against this one.
    return [round(t, 3) for n, t in enumerate(times) if t < n / rate - 0.05]
