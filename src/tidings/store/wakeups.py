"""Telling other processes: PostgreSQL LISTEN/NOTIFY, to wake idle workers when notifications
become due, and to drop cached API keys when a key or an account changed.

Publishing calls ``notify()`` after its transaction commits. In this process that wakes the
local worker at once; on PostgreSQL it also sends ``NOTIFY tidings_due`` so workers in other
processes wake too. NOTIFYs are coalesced (one in flight at a time, one more if anything was
published meanwhile), so a burst of publishes costs a handful of round trips. A lost
notification, or a listening connection that dropped, only delays: workers poll anyway
(``TIDINGS_WORKER_POLL_INTERVAL``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import structlog
from sqlalchemy.engine import make_url

from tidings.store.db import Database

log = structlog.get_logger("tidings.wakeups")

CHANNEL = "tidings_due"
# Keys or accounts changed: every process forgets the keys it authenticated (runtime/key_cache.py).
KEYS_CHANNEL = "tidings_keys"
# Webhooks, event types or accounts changed: every process forgets where events go
# (runtime/route_cache.py).
ROUTES_CHANNEL = "tidings_routes"
MAX_BACKOFF = 10.0


class Wakeups:
    def __init__(
        self,
        db: Database,
        on_wake: Callable[[], None] | None,
        on_keys_changed: Callable[[], None] = lambda: None,
        on_routes_changed: Callable[[], None] = lambda: None,
    ) -> None:
        self._db = db
        self._on_wake = on_wake
        # What each announcement channel does when another process speaks on it.
        self._heard_on = {KEYS_CHANNEL: on_keys_changed, ROUTES_CHANNEL: on_routes_changed}
        self._announcing: set[asyncio.Task[None]] = set()
        self._conn: Any = None  # asyncpg.Connection while connected
        self._task: asyncio.Task[None] | None = None
        self._sending: asyncio.Task[None] | None = None
        self._again = False
        self._lost = asyncio.Event()

    @property
    def listening(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    def start(self) -> None:
        if not self._db.is_sqlite:
            self._task = asyncio.create_task(self._keep_connected(), name="tidings-wakeups")

    async def stop(self) -> None:
        for task in (self._task, self._sending):
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await self._close()

    def notify(self) -> None:
        """New notifications were committed: wake the workers, here and elsewhere."""
        if self._on_wake:
            self._on_wake()
        if self._task is None:
            return
        if self._sending and not self._sending.done():
            self._again = True
            return
        self._sending = asyncio.create_task(self._send())

    def keys_changed(self) -> None:
        """Tell the other processes that a key or an account changed."""
        self._announce(KEYS_CHANNEL)

    def routes_changed(self) -> None:
        """Tell the other processes that webhooks, event types or accounts changed."""
        self._announce(ROUTES_CHANNEL)

    def _announce(self, channel: str) -> None:
        if self._task is None:
            return
        task = asyncio.create_task(self._notify(channel))
        self._announcing.add(task)
        task.add_done_callback(self._announcing.discard)

    async def _notify(self, channel: str) -> None:
        conn = self._conn
        if conn is None or conn.is_closed():
            return  # they see it within their cache's TTL
        try:
            await conn.execute(f"NOTIFY {channel}")
        except Exception:
            log.warning("NOTIFY failed; other processes see the change within a second")

    def _announced(self, _conn: object, _pid: int, channel: str, _payload: str) -> None:
        self._heard_on[channel]()

    async def _send(self) -> None:
        while True:
            self._again = False
            conn = self._conn
            if conn is None or conn.is_closed():
                return  # the workers' polling covers the gap
            try:
                await conn.execute(f"NOTIFY {CHANNEL}")
            except Exception:
                log.warning("NOTIFY failed; workers will find the notifications by polling")
                return
            if not self._again:
                return

    def _heard(self, *_args: object) -> None:
        if self._on_wake:
            self._on_wake()

    async def _keep_connected(self) -> None:
        backoff = 0.5
        while True:
            try:
                conn = await asyncpg.connect(self._db.asyncpg_dsn(), timeout=10)
                conn.add_termination_listener(lambda _c: self._lost.set())
                for channel, forget in self._heard_on.items():
                    await conn.add_listener(channel, self._announced)
                    # Changes made while we were not listening: forget what may be stale.
                    forget()
                if self._on_wake:
                    await conn.add_listener(CHANNEL, self._heard)
                    # Anything published while we were not listening is due now.
                    self._on_wake()
                self._conn = conn
                self._lost.clear()
                backoff = 0.5
                log.info("listening for wake-ups", channel=CHANNEL)
                while not conn.is_closed():
                    # Termination listeners fire on a clean close; a silent network drop is
                    # found by the periodic check.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._lost.wait(), timeout=15.0)
                    if not conn.is_closed():
                        await conn.execute("SELECT 1", timeout=5.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "wake-up connection lost; retrying",
                    error=type(exc).__name__,
                    retry_in=backoff,
                )
            await self._close()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and not conn.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=2.0)


async def announce_keys_changed(db: Database) -> None:
    """From a process that runs no ``Wakeups`` (the command line): tell running servers to
    forget the keys they cached (PostgreSQL: a NOTIFY; SQLite: the marker file is replaced)."""
    marker = keys_marker(db)
    if marker is not None:
        written = marker.with_name(f"{marker.name}.{os.getpid()}")
        written.write_text(str(time.time_ns()))
        os.replace(written, marker)  # a new inode: a server's stat sees the change at once
        return
    if db.is_sqlite:
        return
    async with db.write() as conn:
        await conn.exec_driver_sql(f"NOTIFY {KEYS_CHANNEL}")


def keys_marker(db: Database) -> Path | None:
    """SQLite's stand-in for ``NOTIFY tidings_keys``: a file beside the database that the
    command line replaces after changing keys or accounts (None: not a SQLite file)."""
    if not db.is_sqlite:
        return None
    database = make_url(db.url).database
    if not database or database == ":memory:":
        return None
    return Path(f"{database}-keys")


def marker_version(marker: Path) -> tuple[int, int] | None:
    """What identifies the marker's last replacement (None: never written): one stat, no
    database round trip, so a server can check it on every request."""
    try:
        found = os.stat(marker)
    except FileNotFoundError:
        return None
    return found.st_ino, found.st_mtime_ns
