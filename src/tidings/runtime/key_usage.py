"""``lastUsedAt`` of API keys, kept in memory and written in one batch every few seconds, so
that authenticating a request never writes to the database."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from tidings.store import keys as key_store
from tidings.store.db import Database

log = structlog.get_logger("tidings.key_usage")


class KeyUsage:
    def __init__(self) -> None:
        self._pending: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    def touch(self, key_id: str, now: int) -> None:
        self._pending[key_id] = now

    def last_used(self, key_id: str, stored: int | None) -> int | None:
        """The newest of the stored time and one not written yet."""
        pending = self._pending.get(key_id)
        if pending is None or (stored is not None and stored >= pending):
            return stored
        return pending

    async def flush(self, db: Database) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        try:
            async with db.write() as conn:
                await key_store.touch(conn, batch)
        except Exception:
            # Keep what was not written; a newer touch wins over the older value.
            self._pending = {**batch, **self._pending}
            raise

    def start(self, db: Database, interval: float) -> None:
        async def loop() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.flush(db)
                except Exception:
                    log.exception("writing lastUsedAt failed; retrying")

        self._task = asyncio.create_task(loop(), name="tidings-key-usage")

    async def stop(self, db: Database) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush(db)
