"""The real Tidings server for tests: uvicorn on a loopback socket, in a thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import uvicorn
from aiohttp.abc import AbstractResolver

from tidings.app import create_app
from tidings.config import Settings
from tidings.core.clock import Clock
from tidings.runtime import log_config as logs
from tidings.runtime.bootstrap import ensure_operator_key
from tidings.store.db import Database
from tidings.store.migrate import upgrade

OPERATOR_KEY = "op_testOperatorKey0000000000000000000000000000"


class RunningServer:
    def __init__(
        self,
        settings: Settings,
        clock: Clock | None = None,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        # The served address, as `tidings serve --host --port` would set it.
        self.settings = settings.model_copy(
            update={"operator_key": OPERATOR_KEY, "host": "127.0.0.1", "port": self.port}
        )
        self.operator_key = OPERATOR_KEY
        self.clock = clock or Clock()
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            create_app(self.settings, clock=self.clock, resolver=resolver),
            log_config=None,
            access_log=False,
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    def __enter__(self) -> RunningServer:
        logs.configure("warning")
        url = self.settings.resolved_database_url()
        upgrade(url)
        asyncio.run(_bootstrap(url, self.settings))
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(30)
        self._sock.close()


async def _bootstrap(url: str, settings: Settings) -> None:
    db = Database(url)
    try:
        await ensure_operator_key(db, settings, Clock())
    finally:
        await db.dispose()
