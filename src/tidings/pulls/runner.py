"""The pull runner: beside the delivery worker, every ``TIDINGS_PULL_POLL_INTERVAL`` seconds
it claims the pulls that are due (services/pull_runs.py leases them, so that several workers
never run one pull twice) and runs them on one HTTP session."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from tidings.core.ids import new_id
from tidings.outbound.fetcher import Fetcher
from tidings.runtime.context import Context
from tidings.services import pull_runs
from tidings.store.db import is_unavailable

log = structlog.get_logger("tidings.pulls")

MAX_BACKOFF = 10.0


class PullRunner:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        # Written on every lease this runner takes.
        self.runner_id = new_id("prn")
        self._fetcher: Fetcher | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._fetcher = pull_runs.make_fetcher(self.ctx)
        self._task = asyncio.create_task(self._loop(), name="tidings-pulls")
        log.info("pull runner started", runner_id=self.runner_id)

    async def stop(self, grace: float | None = None) -> None:
        """Stop claiming; runs in progress get ``TIDINGS_SHUTDOWN_GRACE`` to finish, then are
        cancelled and give their leases back (they run again at once elsewhere)."""
        grace = self.ctx.settings.shutdown_grace if grace is None else grace
        self._stop.set()
        if self._task:
            done, _ = await asyncio.wait([self._task], timeout=grace)
            if not done:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        if self._fetcher:
            await self._fetcher.close()
        log.info("pull runner stopped", runner_id=self.runner_id)

    async def _loop(self) -> None:
        assert self._fetcher is not None
        interval = self.ctx.settings.pull_poll_interval
        backoff = 0.0
        while not self._stop.is_set():
            wait = interval
            try:
                # Many due at once: go on claiming without waiting.
                ran = await pull_runs.run_due(self.ctx, self._fetcher, self.runner_id)
                backoff = 0.0
                if ran >= pull_runs.CLAIM_BATCH:
                    wait = 0.0
            except Exception as exc:
                backoff = min(max(backoff * 2, 0.25), MAX_BACKOFF)
                wait = max(interval, backoff)
                if is_unavailable(exc):
                    log.warning("database unavailable; retrying", retry_in=wait)
                else:
                    log.exception("claiming due pulls failed; retrying", retry_in=wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=wait)
