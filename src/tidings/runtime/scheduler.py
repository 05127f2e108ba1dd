"""Periodic housekeeping: today, retention (deleting old logs, attempts and events).

Exactly one process runs it at a time (store/leader.py), once when it becomes the leader (a
process restarted more often than the interval must still clean up) and then every
``TIDINGS_RETENTION_INTERVAL``. Auto-disabling failing webhooks needs no periodic pass: it is
decided when each failed attempt is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

import structlog

from tidings.core.clock import MICROS
from tidings.runtime import metrics
from tidings.runtime.context import Context
from tidings.store import retention
from tidings.store.leader import Leadership

log = structlog.get_logger("tidings.scheduler")

DAY = 86400 * MICROS
LEADER_TICK = 5.0


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
    """Runs the periodic jobs in whichever one process holds the scheduler lock."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self._task: asyncio.Task[None] | None = None
        self._leadership = Leadership(ctx.db)
        # Housekeeping run at every tick by the leader (registered by the app: the sweep of
        # listeners whose process died, say).
        self.sweeps: list[Callable[[], Awaitable[None]]] = []

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="tidings-scheduler")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._leadership.release()
        metrics.SCHEDULER_LEADER.set(0)

    async def _loop(self) -> None:
        interval = self.ctx.settings.retention_interval
        # How soon a follower notices the leader is gone, and takes over.
        tick = min(interval, LEADER_TICK) if interval > 0 else LEADER_TICK
        next_run = 0.0
        while True:
            leader = await self._leadership.check()
            metrics.SCHEDULER_LEADER.set(1 if leader else 0)
            if leader:
                for sweep in self.sweeps:
                    try:
                        await sweep()
                    except Exception:
                        log.exception("a scheduled sweep failed; trying again", sweep=repr(sweep))
            if leader and interval > 0 and time.monotonic() >= next_run:
                try:
                    counts = await run_retention(self.ctx)
                    if any(counts.values()):
                        log.info("retention", **counts)
                except Exception:
                    log.exception("retention failed; trying again at the next interval")
                next_run = time.monotonic() + interval
            elif not leader:
                # Whoever leads next runs the jobs at once: the old leader's interval is lost.
                next_run = 0.0
            await asyncio.sleep(tick)
