"""The delivery worker: claims due notifications in batches, sends them concurrently on one
HTTP session, and writes outcomes in batches while the next requests are in flight."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import Counter
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings import metrics
from tidings.context import Context
from tidings.core.clock import MICROS, to_iso
from tidings.core.durations import parse_duration
from tidings.core.jsonbytes import event_bytes
from tidings.core.masking import mask_url
from tidings.core.retry import next_delay, parse_retry_after
from tidings.core.sealing import open_webhook
from tidings.delivery import request
from tidings.delivery.sender import Response, Sender
from tidings.ids import new_id
from tidings.store import delivery as store
from tidings.store.db import is_unavailable
from tidings.store.delivery import Health, Job, Outcome, Recorded
from tidings.store.events import OPERATIONAL, publish_operational

log = structlog.get_logger("tidings.worker")

_WRITE_BATCH = 1000


@functools.lru_cache(maxsize=256)
def _schedule(items: tuple[str, ...]) -> list[float]:
    return [parse_duration(item) for item in items]


# How long a nearly full worker lets deliveries finish before claiming more.
REFILL_PAUSE = 0.005
# Backoff between claims while the database is unreachable.
MAX_BACKOFF = 10.0
# Decrypted webhooks kept (a worker reaching more forgets them all and starts again).
OPEN_WEBHOOKS = 10_000
# The webhook columns a delivery is made of: a change to any of them opens the row again.
_SENT = (
    "updated_at",
    "url",
    "secret",
    "old_secrets",
    "headers",
    "username",
    "password",
    "format",
    "signature_scheme",
    "ssl_verification_disabled",
)


class Worker:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        settings = ctx.settings
        # Written on every lease this worker takes: the leases it holds are recognisable
        # (released at shutdown, not counted twice against a webhook's concurrency).
        self.worker_id = new_id("wrk")
        self._concurrency = settings.worker_concurrency
        self._sender: Sender | None = None
        self._wake = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._outcomes: list[Outcome] = []
        self._outcomes_ready = asyncio.Event()
        # Each delivery task and the job it holds the lease of.
        self._in_flight: dict[asyncio.Task[None], Job] = {}
        # Webhooks with their secrets decrypted: id -> (what is sent, as stored; opened row).
        self._open_webhooks: dict[str, tuple[tuple[Any, ...], Any]] = {}
        # Jobs held per webhook (sending, or waiting for a rate-limit slot).
        self._held: Counter[str] = Counter()
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None
        self._writer_task: asyncio.Task[None] | None = None
        self._health = Health(
            breaker_threshold=settings.breaker_threshold,
            probe_interval=int(settings.breaker_probe_interval * MICROS),
            disable_after=int(settings.auto_disable_after * MICROS),
            disable_min_failures=settings.auto_disable_min_failures,
        )

    def wake(self) -> None:
        self._wake.set()

    async def start(self) -> None:
        settings = self.ctx.settings
        self._sender = Sender(
            concurrency=self._concurrency,
            timeout=settings.delivery_timeout,
            policy=settings.address_policy(),
            resolver=self.ctx.resolver,
        )
        self._writer_task = asyncio.create_task(self._write_loop(), name="tidings-writer")
        self._loop_task = asyncio.create_task(self._claim_loop(), name="tidings-worker")
        log.info(
            "worker started",
            worker_id=self.worker_id,
            concurrency=self._concurrency,
            webhook_concurrency=settings.webhook_concurrency,
        )

    async def stop(self, grace: float | None = None) -> None:
        """Stop claiming; let in-flight deliveries finish for up to ``grace`` seconds
        (``TIDINGS_SHUTDOWN_GRACE``); write their outcomes; hand the unfinished leases back so
        another worker takes them at once instead of after the lease."""
        grace = self.ctx.settings.shutdown_grace if grace is None else grace
        self._stopping = True
        self._wake.set()
        self._slot_free.set()
        if self._loop_task:
            await self._loop_task
        if self._in_flight:
            await asyncio.wait(list(self._in_flight), timeout=grace)
        unfinished = [job for task, job in list(self._in_flight.items()) if task.cancel()]
        if unfinished:
            await asyncio.gather(*self._in_flight, return_exceptions=True)
        if self._writer_task:
            self._writer_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer_task
        await self._settle(unfinished)
        if self._sender:
            await self._sender.close()
        log.info("worker stopped", worker_id=self.worker_id, released=len(unfinished))

    async def _settle(self, unfinished: list[Job], attempts: int = 5) -> None:
        """Write the last outcomes and release the leases of ``unfinished``; a database that is
        away gets a few tries (if it stays away, the leases simply expire)."""
        for attempt in range(attempts):
            try:
                await self._flush()
                if unfinished:
                    async with self.ctx.db.write() as conn:
                        await store.release(conn, self.worker_id, unfinished, self.ctx.clock.now())
                    metrics.LEASES_RELEASED.inc(len(unfinished))
                return
            except Exception:
                log.exception("writing at shutdown failed", attempt=attempt + 1)
                await asyncio.sleep(min(2.0**attempt, 5.0))

    async def _claim_loop(self) -> None:
        backoff = 0.0
        while not self._stopping:
            self.ctx.worker_heartbeat = time.monotonic()
            try:
                claimed = await self._claim_some()
                backoff = 0.0
            except Exception as exc:
                # The database is restarting or unreachable: keep going, slower each time.
                backoff = min(max(backoff * 2, 0.25), MAX_BACKOFF)
                if is_unavailable(exc):
                    log.warning("database unavailable; retrying", retry_in=backoff)
                else:
                    log.exception("claim failed; retrying", retry_in=backoff)
                await asyncio.sleep(backoff)
                continue
            if claimed <= 0:
                await self._idle()

    def _rooms(self) -> dict[str, int]:
        """How many more this worker may send now to each webhook it holds some of."""
        cap = self.ctx.settings.webhook_concurrency
        return {webhook_id: cap - held for webhook_id, held in self._held.items()}

    async def _claim_some(self) -> int:
        free = self._concurrency - len(self._in_flight)
        if free <= 0:
            self._slot_free.clear()
            await self._slot_free.wait()
            return len(self._in_flight)
        if free < self._concurrency // 4:
            # Few slots free: let a few more finish first, so that one claim (a transaction)
            # serves several deliveries rather than one each.
            await asyncio.sleep(REFILL_PAUSE)
            if self._stopping:
                return 0
            free = self._concurrency - len(self._in_flight)
        settings = self.ctx.settings
        now = self.ctx.clock.now()
        async with self.ctx.db.write() as conn:
            jobs = await store.claim(
                conn,
                worker_id=self.worker_id,
                now=now,
                lease_until=now + int(settings.lease_seconds * MICROS),
                limit=min(free, settings.worker_batch_size),
                rooms=self._rooms(),
                default_room=settings.webhook_concurrency,
                health=self._health,
            )
        for job in jobs:
            webhook_id = job.webhook.id if job.webhook else ""
            self._held[webhook_id] += 1
            task = asyncio.create_task(self._deliver(job))
            self._in_flight[task] = job
            task.add_done_callback(functools.partial(self._done, webhook_id))
        return len(jobs)

    def _done(self, webhook_id: str, task: asyncio.Task[None]) -> None:
        self._in_flight.pop(task, None)
        self._held[webhook_id] -= 1
        cap = self.ctx.settings.webhook_concurrency
        if self._held[webhook_id] == cap - max(1, cap // 4):
            # The webhook was full and a quarter of its room is free again: claim for it in
            # one go rather than one claim per finished delivery.
            self._wake.set()
        if self._held[webhook_id] <= 0:
            del self._held[webhook_id]
        self._slot_free.set()

    async def _idle(self) -> None:
        """Sleep until woken, until the next notification falls due, or the poll interval."""
        # Cleared first: a wake-up that comes while the query runs is not lost.
        self._wake.clear()
        try:
            delay = await self._until_next_due()
        except Exception:
            delay = self.ctx.settings.worker_poll_interval  # the next claim reports it
        if self._stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def _until_next_due(self) -> float:
        poll = self.ctx.settings.worker_poll_interval
        # Webhooks this worker has filled wake it when they have room (see _done).
        full = [webhook_id for webhook_id, room in self._rooms().items() if room <= 0]
        async with self.ctx.db.read() as conn:
            due = await store.next_due(conn, full)
        if due is None:
            return poll
        return max(0.0, min(poll, (due - self.ctx.clock.now()) / MICROS))

    async def _deliver(self, job: Job) -> None:
        webhook = job.webhook
        if webhook is None or (webhook.status != "Active" and not job.is_test):
            reason = "webhook deleted" if webhook is None else "webhook is disabled"
            now = self.ctx.clock.now()
            self._push(_final(job, webhook.id if webhook else "", now, reason))
            return
        if job.send_at is not None:
            await asyncio.sleep(max(0.0, (job.send_at - self.ctx.clock.now()) / MICROS))
        webhook = self._opened(webhook)
        now = self.ctx.clock.now()
        assert self._sender is not None
        headers, body = request.build(job, webhook, self.ctx.settings.brand, now)
        response = await self._sender.post(
            webhook.url,
            headers,
            body,
            verify_ssl=not webhook.ssl_verification_disabled,
            username=webhook.username,
            password=webhook.password,
        )
        self._push(self._outcome(job, now, response))

    def _opened(self, row: Any) -> Any:
        """The webhook with its secrets decrypted: once per version of what is sent, rather
        than once per delivery."""
        version = tuple(getattr(row, name) for name in _SENT)
        cached = self._open_webhooks.get(row.id)
        if cached is not None and cached[0] == version:
            return cached[1]
        if len(self._open_webhooks) >= OPEN_WEBHOOKS:
            self._open_webhooks.clear()
        opened = open_webhook(row, self.ctx.keyring)
        self._open_webhooks[row.id] = (version, opened)
        return opened

    def _outcome(self, job: Job, started: int, response: Response) -> Outcome:
        settings = self.ctx.settings
        webhook = job.webhook
        assert webhook is not None
        status, next_at, retry_index = "succeeded", None, job.retry_index
        if not response.ok:
            schedule = (
                _schedule(tuple(webhook.retry_schedule))
                if webhook.retry_schedule is not None
                else settings.retry_schedule
            )
            delay = (
                None  # 410 Gone: the receiver says the endpoint will never be back.
                if response.status_code == 410
                else next_delay(
                    schedule,
                    job.retry_index,
                    settings.retry_jitter,
                    parse_retry_after(response.retry_after, self.ctx.clock.now() / MICROS),
                )
            )
            if delay is None:
                status = "failed"
            else:
                status, retry_index = "pending", job.retry_index + 1
                next_at = self.ctx.clock.now() + int(delay * MICROS)
        return Outcome(
            notification_id=job.notification_id,
            account_id=job.account_id,
            webhook_id=webhook.id,
            event_type=job.event_type,
            event_id=job.event_id,
            attempt_id=new_id("att"),
            attempted_at=started,
            status=status,
            retry_index=retry_index,
            next_attempt_at=next_at,
            status_code=response.status_code,
            response_body=response.body,
            duration_ms=response.duration_ms,
            error=response.error,
            lease_until=job.lease_until,
        )

    def _push(self, outcome: Outcome) -> None:
        _log_outcome(outcome)
        if outcome.attempted:
            metrics.ATTEMPTS.labels(
                "succeeded" if outcome.status == "succeeded" else "failed"
            ).inc()
            metrics.ATTEMPT_SECONDS.observe(outcome.duration_ms / 1000)
        if outcome.status != "pending":
            metrics.NOTIFICATIONS_DONE.labels(outcome.status).inc()
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
            now = self.ctx.clock.now()
            async with self.ctx.db.write() as conn:
                recorded = await store.record(conn, self.worker_id, batch, now, self._health)
                published = await self._publish_operational(conn, recorded, now)
            del self._outcomes[: len(batch)]
            for row, reason in recorded.disabled:
                log.warning("webhook disabled", webhook_id=row.id, reason=reason)
            if recorded.disabled:
                self.ctx.routes.changed()  # publishing stops sending to them
            if published:
                self.wake()

    async def _publish_operational(
        self, conn: AsyncConnection, recorded: Recorded, now: int
    ) -> int:
        """``webhook.disabled`` and ``notification.failed``, as ordinary events of the account,
        in the same transaction as the outcome that caused them."""
        made = 0
        for row, reason in recorded.disabled:
            data = {
                "webhookId": row.id,
                "url": mask_url(row.url),
                "reason": reason,
                "disabledAt": to_iso(now),
            }
            made += await publish_operational(
                conn, row.account_id, "webhook.disabled", event_bytes(data), now
            )
        for outcome in recorded.failed:
            if outcome.event_type in OPERATIONAL:
                continue  # never report a failed report: no loops
            data = {
                "notificationId": outcome.notification_id,
                "webhookId": outcome.webhook_id,
                "eventId": outcome.event_id,
                "eventType": outcome.event_type,
                "lastStatusCode": outcome.status_code,
                "lastError": outcome.error,
                "failedAt": to_iso(outcome.attempted_at),
            }
            made += await publish_operational(
                conn, outcome.account_id, "notification.failed", event_bytes(data), now
            )
        return made


_LEVELS = {"succeeded": logging.DEBUG, "pending": logging.INFO, "failed": logging.WARNING}


def _log_outcome(o: Outcome) -> None:
    """One line per attempt: successes at debug (there can be thousands a second), retries at
    info, a notification that failed for good at warning."""
    level = _LEVELS[o.status]
    if not log.isEnabledFor(level):
        return
    log.log(
        level,
        "delivery attempt" if o.attempted else "notification ended",
        notification_id=o.notification_id,
        event_id=o.event_id,
        event_type=o.event_type,
        webhook_id=o.webhook_id,
        account_id=o.account_id,
        outcome=o.status,
        status_code=o.status_code,
        duration_ms=round(o.duration_ms, 3),
        error=o.error,
        next_attempt_at=to_iso(o.next_attempt_at) if o.next_attempt_at else None,
    )


def _final(job: Job, webhook_id: str, now: int, reason: str) -> Outcome:
    """A notification that ends failed without an attempt (its webhook is gone or disabled)."""
    return Outcome(
        notification_id=job.notification_id,
        account_id=job.account_id,
        webhook_id=webhook_id,
        event_type=job.event_type,
        event_id=job.event_id,
        attempt_id=None,
        attempted_at=now,
        status="failed",
        retry_index=job.retry_index,
        next_attempt_at=None,
        status_code=None,
        response_body=None,
        duration_ms=0.0,
        error=reason,
        lease_until=job.lease_until,
    )
