"""One scheduler at a time: a PostgreSQL session-level advisory lock.

Whichever process takes the lock runs the periodic jobs; it holds the lock on a connection of
its own for as long as that connection lives, so a process that dies or loses the database
hands leadership to the next one that asks. On SQLite there is one process: it always leads.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import asyncpg
import structlog

from tidings.store.db import Database

log = structlog.get_logger("tidings.leader")

# Any constant shared by every Tidings process on the database ("tidings" in ASCII).
LOCK_KEY = 0x74696469_6E6773


class Leadership:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._conn: Any = None  # asyncpg.Connection holding the lock

    async def check(self) -> bool:
        """Whether this process leads now: keep the lock, or try to take it."""
        if self._db.is_sqlite:
            return True
        if self._conn is not None:
            try:
                await self._conn.execute("SELECT 1", timeout=5.0)
                return True
            except Exception:
                log.warning("lost the scheduler lock's connection")
                await self.release()
        conn = None
        try:
            conn = await asyncpg.connect(self._db.asyncpg_dsn(), timeout=10)
            if await conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY, timeout=5.0):
                self._conn, conn = conn, None
                log.info("this process now runs the scheduled jobs")
                return True
            return False
        except Exception as exc:
            log.warning("cannot reach the database for the scheduler lock", error=repr(exc))
            return False
        finally:
            if conn is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(conn.close(), timeout=2.0)

    async def release(self) -> None:
        """Closing the session frees the lock (also when the server is already gone)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=2.0)
