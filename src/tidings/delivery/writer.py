"""The worker's outcome writer: outcomes gather while requests are in flight and are written
in batches (services/deliveries.py ``record``), one transaction each."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog

from tidings.core.health import HealthRules
from tidings.runtime.context import Context
from tidings.services import deliveries
from tidings.store.queue.jobs import Outcome

log = structlog.get_logger("tidings.worker")

BATCH = 1000


class OutcomeWriter:
    def __init__(
        self, ctx: Context, worker_id: str, health: HealthRules, on_new_work: Callable[[], None]
    ) -> None:
        self._ctx = ctx
        self._worker_id = worker_id
        self._health = health
        # Operational events made notifications: the worker should look for them.
        self._on_new_work = on_new_work
        self._outcomes: list[Outcome] = []
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def push(self, outcome: Outcome) -> None:
        self._outcomes.append(outcome)
        self._ready.set()

    @property
    def pending(self) -> int:
        return len(self._outcomes)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="tidings-writer")

    async def stop(self) -> None:
        """Stop the loop once the batch it is writing is written (cancelling a write midway
        could leave its commit done but the batch still queued); the caller flushes what
        remains (``flush``)."""
        self._stopping = True
        self._ready.set()
        if self._task:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while not self._stopping:
            await self._ready.wait()
            self._ready.clear()
            if self._stopping:
                return
            try:
                await self.flush()
            except Exception:
                # The outcomes stay queued; the leases keep the notifications from re-sending
                # until they expire, and the next flush tries again.
                log.exception("writing delivery outcomes failed; retrying")
                if not self._stopping:
                    await asyncio.sleep(1.0)
                self._ready.set()

    async def flush(self) -> None:
        """Write every queued outcome, a batch per transaction; a failed batch stays queued."""
        while self._outcomes:
            batch = self._outcomes[:BATCH]
            recorded = await deliveries.record(self._ctx, self._worker_id, batch, self._health)
            del self._outcomes[: len(batch)]
            for webhook in recorded.disabled:
                log.warning(
                    "webhook disabled", webhook_id=webhook.webhook_id, reason=webhook.reason
                )
            if recorded.notifications_made:
                self._on_new_work()
