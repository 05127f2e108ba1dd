"""``lastUsedAt`` of API keys, kept in memory and written in one batch every few seconds, so
that authenticating a request never writes to the database."""

from __future__ import annotations

import asyncio
import contextlib

import sqlalchemy as sa
import structlog

from tidings.store.db import Database
from tidings.store.tables import api_keys

log = structlog.get_logger("tidings.key_usage")

_update = (
    api_keys.update()
    .where(
        sa.and_(
            api_keys.c.id == sa.bindparam("b_id"),
            sa.or_(
                api_keys.c.last_used_at.is_(None),
                api_keys.c.last_used_at < sa.bindparam("b_at"),
            ),
        )
    )
    .values(last_used_at=sa.bindparam("b_at"))
)


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
                await conn.execute(_update, [{"b_id": k, "b_at": t} for k, t in batch.items()])
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
