"""The delivery worker: claims due notifications in batches, sends them concurrently on one
HTTP session, and writes outcomes in batches while the next requests are in flight."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from tidings.context import Context
from tidings.core.clock import MICROS
from tidings.core.retry import next_delay, parse_retry_after
from tidings.delivery import request
from tidings.delivery.sender import Response, Sender
from tidings.ids import new_id
from tidings.store import delivery as store
from tidings.store.delivery import Job, Outcome

log = structlog.get_logger("tidings.worker")

_WRITE_BATCH = 1000


class Worker:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        settings = ctx.settings
        self._concurrency = settings.worker_concurrency
        self._sender: Sender | None = None
        self._wake = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._outcomes: list[Outcome] = []
        self._outcomes_ready = asyncio.Event()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None
        self._writer_task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        settings = self.ctx.settings
        self._sender = Sender(
            concurrency=self._concurrency,
            timeout=settings.delivery_timeout,
            allow_private=settings.allow_private_networks,
        )
        self._writer_task = asyncio.create_task(self._write_loop(), name="tidings-writer")
        self._loop_task = asyncio.create_task(self._claim_loop(), name="tidings-worker")

    async def stop(self, grace: float = 10.0) -> None:
        """Stop claiming, let in-flight deliveries finish (up to ``grace`` s), write outcomes."""
        self._stopping = True
        self._wake.set()
        if self._loop_task:
            await self._loop_task
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=grace)
        for task in self._in_flight:
            task.cancel()
        self._outcomes_ready.set()
        if self._writer_task:
            self._writer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer_task
        await self._flush()
        if self._sender:
            await self._sender.close()

    async def _claim_loop(self) -> None:
        while not self._stopping:
            try:
                claimed = await self._claim_some()
            except Exception:
                log.exception("claim failed; retrying")
                claimed = -1
            if claimed == 0 or claimed < 0:
                await self._idle(self.ctx.settings.worker_poll_interval if claimed < 0 else None)

    async def _claim_some(self) -> int:
        free = self._concurrency - len(self._in_flight)
        if free <= 0:
            self._slot_free.clear()
            await self._slot_free.wait()
            return len(self._in_flight)
        limit = min(free, self.ctx.settings.worker_batch_size)
        now = self.ctx.clock.now()
        lease_until = now + int(self.ctx.settings.lease_seconds * MICROS)
        async with self.ctx.db.write() as conn:
            jobs = await store.claim(conn, now, lease_until, limit)
        for job in jobs:
            task = asyncio.create_task(self._deliver(job))
            self._in_flight.add(task)
            task.add_done_callback(self._done)
        return len(jobs)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        self._slot_free.set()

    async def _idle(self, fixed: float | None) -> None:
        """Sleep until woken, until the next notification falls due, or the poll interval."""
        delay = fixed if fixed is not None else await self._until_next_due()
        self._wake.clear()
        if self._stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def _until_next_due(self) -> float:
        poll = self.ctx.settings.worker_poll_interval
        async with self.ctx.db.read() as conn:
            due = await store.next_due(conn)
        if due is None:
            return poll
        return max(0.0, min(poll, (due - self.ctx.clock.now()) / MICROS))

    async def _deliver(self, job: Job) -> None:
        settings = self.ctx.settings
        webhook = job.webhook
        now = self.ctx.clock.now()
        if webhook is None or (webhook.status != "Active" and not job.is_test):
            reason = "webhook deleted" if webhook is None else "webhook is disabled"
            self._push(_final(job, webhook.id if webhook else "", now, reason))
            return
        assert self._sender is not None
        headers, body = request.build(job, settings.brand, now // MICROS)
        response = await self._sender.post(
            webhook.url, headers, body, verify_ssl=not webhook.ssl_verification_disabled
        )
        self._push(self._outcome(job, webhook.id, now, response))

    def _outcome(self, job: Job, webhook_id: str, started: int, response: Response) -> Outcome:
        settings = self.ctx.settings
        status, next_at, retry_index = "succeeded", None, job.retry_index
        if not response.ok:
            delay = next_delay(
                settings.retry_schedule,
                job.retry_index,
                settings.retry_jitter,
                parse_retry_after(response.retry_after),
            )
            if delay is None:
                status = "failed"
            else:
                status, retry_index = "pending", job.retry_index + 1
                next_at = self.ctx.clock.now() + int(delay * MICROS)
        return Outcome(
            notification_id=job.notification_id,
            account_id=job.account_id,
            webhook_id=webhook_id,
            attempt_id=new_id("att"),
            attempted_at=started,
            status=status,
            retry_index=retry_index,
            next_attempt_at=next_at,
            status_code=response.status_code,
            response_body=response.body,
            duration_ms=response.duration_ms,
            error=response.error,
        )

    def _push(self, outcome: Outcome) -> None:
        self._outcomes.append(outcome)
        self._outcomes_ready.set()

    async def _write_loop(self) -> None:
        while True:
            await self._outcomes_ready.wait()
            self._outcomes_ready.clear()
            try:
                await self._flush()
            except Exception:
                # The outcomes stay queued; the leases keep the notifications from re-sending
                # until they expire, and the next flush tries again.
                log.exception("writing delivery outcomes failed; retrying")
                await asyncio.sleep(1.0)
                self._outcomes_ready.set()

    async def _flush(self) -> None:
        while self._outcomes:
            batch = self._outcomes[:_WRITE_BATCH]
            async with self.ctx.db.write() as conn:
                await store.record(conn, batch)
            del self._outcomes[: len(batch)]


def _final(job: Job, webhook_id: str, now: int, reason: str) -> Outcome:
    """A notification that ends failed without an attempt (its webhook is gone or disabled)."""
    return Outcome(
        notification_id=job.notification_id,
        account_id=job.account_id,
        webhook_id=webhook_id,
        attempt_id=None,
        attempted_at=now,
        status="failed",
        retry_index=job.retry_index,
        next_attempt_at=None,
        status_code=None,
        response_body=None,
        duration_ms=0.0,
        error=reason,
    )
