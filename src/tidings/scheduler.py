"""Periodic housekeeping: today, retention (deleting old logs, attempts and events).

The loop runs once at start (a process restarted more often than the interval must still
clean up) and then every ``TIDINGS_RETENTION_INTERVAL``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog

from tidings.context import Context
from tidings.core.clock import MICROS
from tidings.store import retention

log = structlog.get_logger("tidings.scheduler")

DAY = 86400 * MICROS


async def run_retention(ctx: Context) -> dict[str, int]:
    """Delete what is older than each retention setting (0 keeps forever); the counts."""
    settings = ctx.settings
    now = ctx.clock.now()
    counts = {"events": 0, "notifications": 0, "attempts": 0, "logs": 0}
    # Events first: their attempts go with them, leaving fewer for the attempts pass.
    if settings.event_retention_days > 0:
        before = now - int(settings.event_retention_days * DAY)
        counts["events"], counts["notifications"] = await retention.delete_events(ctx.db, before)
    if settings.attempt_retention_days > 0:
        before = now - int(settings.attempt_retention_days * DAY)
        counts["attempts"] = await retention.delete_attempts(ctx.db, before)
    if settings.log_retention_days > 0:
        before = now - int(settings.log_retention_days * DAY)
        counts["logs"] = await retention.delete_logs(ctx.db, before)
    return counts


class Scheduler:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.ctx.settings.retention_interval > 0:
            self._task = asyncio.create_task(self._loop(), name="tidings-scheduler")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.asynccontextmanager
    async def _leadership(self) -> AsyncIterator[bool]:
        """Whether this process may run the periodic jobs now.

        Issue 7 puts the one-scheduler-at-a-time rule here: take a PostgreSQL advisory lock
        (``pg_try_advisory_lock``) and yield False when another process holds it. Until then
        every process runs retention; that is safe, only redundant (deletes are idempotent).
        """
        yield True

    async def _loop(self) -> None:
        while True:
            try:
                async with self._leadership() as leader:
                    if leader:
                        counts = await run_retention(self.ctx)
                        if any(counts.values()):
                            log.info("retention", **counts)
            except Exception:
                log.exception("retention failed; trying again at the next interval")
            await asyncio.sleep(self.ctx.settings.retention_interval)
