"""The delivery worker: claims due notifications in batches, sends them concurrently on one
HTTP session, and hands outcomes to the writer (delivery/writer.py), which records them in
batches while the next requests are in flight."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, deque
from typing import Any

import structlog

from tidings.core import attempt
from tidings.core.clock import MICROS
from tidings.core.ids import new_id
from tidings.core.sealing import open_webhook
from tidings.delivery import outcome
from tidings.delivery.handoff import Handoff
from tidings.delivery.writer import OutcomeWriter
from tidings.outbound.sender import Sender
from tidings.runtime import metrics
from tidings.runtime.context import Context
from tidings.services import deliveries
from tidings.store.db import is_unavailable
from tidings.store.queue.jobs import Job

log = structlog.get_logger("tidings.worker")

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
        self._health = deliveries.rules(ctx)
        self._sender: Sender | None = None
        self._wake = asyncio.Event()
        self._slot_free = asyncio.Event()
        self._writer = OutcomeWriter(ctx, self.worker_id, self._health, self.wake)
        # Claimed jobs not finished yet (queued for a sender, or being sent), by notification.
        self._holding: dict[str, Job] = {}
        # A fixed pool of sender coroutines takes claimed jobs from this queue: no task per
        # delivery.
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        self._senders: list[asyncio.Task[None]] = []
        self._all_done = asyncio.Event()
        # Each webhook ready to send to: id -> (the row it was built from, what is sent as
        # stored, its secrets opened and its fixed headers built).
        self._prepared: dict[str, tuple[Any, tuple[Any, ...], attempt.Prepared]] = {}
        # Jobs held per webhook (queued, parked, sending, or waiting for a rate-limit slot).
        self._held: Counter[str] = Counter()
        # Of those, the ones being sent (or waiting for their rate-limit slot): at most the
        # webhook's cap. Leased ahead of it (see _ahead), the rest wait parked.
        self._sending: Counter[str] = Counter()
        self._parked: dict[str, deque[Job]] = {}
        # Webhooks the last claim found this worker alone on and sending freely: it may hold
        # leases ahead of their cap.
        self._alone: set[str] = set()
        # Webhooks whose last attempt here failed: no lease ahead until one succeeds (the
        # failure may not be recorded yet when the next claim comes).
        self._failing: set[str] = set()
        # Per webhook, the most its last claim let this worker hold (see _done).
        self._limit: dict[str, int] = {}
        # A parked lease waits up to one delivery timeout for a slot, then its own request
        # takes up to another: leasing ahead needs leases that outlast both.
        self._may_lease_ahead = settings.lease_seconds > 2 * settings.delivery_timeout + 5
        # Parked leases being handed back (a failure ended their webhook's lease ahead).
        self._handing_back: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None
        # Slots held for notifications a publish in this process is writing leased to this
        # worker (delivery/handoff.py), not handed over yet.
        self._reserved = 0
        # The limit the last claim was given (see _claim_limit).
        self._asked = 0
        # Set by accept_handoffs: on PostgreSQL it stays None and costs nothing.
        self.handoff: Handoff | None = None

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
        self._writer.start()
        self._senders = [
            asyncio.create_task(self._send_loop(), name="tidings-sender")
            for _ in range(self._concurrency)
        ]
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
        if self._holding:
            self._all_done.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_done.wait(), timeout=grace)
        for sender in self._senders:
            sender.cancel()
        await asyncio.gather(*self._senders, *self._handing_back, return_exceptions=True)
        # Still queued, or cut off mid-send: handed back unsent.
        unfinished = list(self._holding.values())
        await self._writer.stop()
        await self._settle(unfinished)
        if self._sender:
            await self._sender.close()
        log.info("worker stopped", worker_id=self.worker_id, released=len(unfinished))

    async def _settle(self, unfinished: list[Job], attempts: int = 5) -> None:
        """Write the last outcomes and release the leases of ``unfinished``; a database that is
        away gets a few tries (if it stays away, the leases simply expire)."""
        for attempt_number in range(attempts):
            try:
                await self._writer.flush()
                if unfinished:
                    await deliveries.release(self.ctx, self.worker_id, unfinished)
                    metrics.LEASES_RELEASED.inc(len(unfinished))
                return
            except Exception:
                log.exception("writing at shutdown failed", attempt=attempt_number + 1)
                await asyncio.sleep(min(2.0**attempt_number, 5.0))

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
        """How many more this worker may hold for each webhook it holds some of: its cap, and
        as much again ahead of it where this worker is alone (see _ahead)."""
        cap = self.ctx.settings.webhook_concurrency
        ahead = self._ahead()
        return {w: cap + ahead.get(w, 0) - held for w, held in self._held.items()}

    def _ahead(self) -> dict[str, int]:
        """The part of each room beyond the webhook's cap. A worker alone on a webhook that
        sends freely leases up to twice its cap and sends at most the cap at once: claims are
        then larger than the gap between two, and the next requests are already leased when
        the in-flight ones answer. The claim grants it only while no other worker holds leases
        on the webhook (store/queue/claim.py). None while fewer than two caps' worth of the
        worker's slots are free: a hung endpoint's leases ahead must not starve the other
        webhooks (see also _claim_limit)."""
        cap = self.ctx.settings.webhook_concurrency
        if self._free() < 2 * cap:
            return {}
        return dict.fromkeys(self._alone, cap)

    async def _claim_some(self) -> int:
        free = self._free()
        if free <= 0:
            self._slot_free.clear()
            await self._slot_free.wait()
            return len(self._holding)
        if free < self._concurrency // 4:
            # Few slots free: let a few more finish first, so that one claim (a transaction)
            # serves several deliveries rather than one each.
            await asyncio.sleep(REFILL_PAUSE)
            if self._stopping:
                return 0
        claimed = await deliveries.claim(
            self.ctx,
            self.worker_id,
            limit=self._claim_limit,
            rooms=self._rooms,
            health=self._health,
            ahead=self._ahead,
        )
        jobs = claimed.jobs
        cap = self.ctx.settings.webhook_concurrency
        webhook_ids = {job.webhook_id for job in jobs}
        for webhook_id in webhook_ids:
            alone = webhook_id in claimed.alone and webhook_id not in self._failing
            if alone and self._may_lease_ahead:
                self._alone.add(webhook_id)
            else:
                self._alone.discard(webhook_id)
        ahead = self._ahead()
        for webhook_id in webhook_ids:
            self._limit[webhook_id] = cap + ahead.get(webhook_id, 0)
        if self.handoff is not None:
            # A full claim: more may be due, which new notifications must not overtake.
            self.handoff.caught_up = len(jobs) < self._asked or not self._asked
            for row in {job.webhook_id: job.webhook for job in jobs if job.webhook}.values():
                self.handoff.learn(row)
        for job in jobs:
            self._take(job)
        return len(jobs)

    def _claim_limit(self) -> int:
        """How many a claim may take, asked when it holds the write lock (remembered)."""
        self._asked = min(self._free(), self.ctx.settings.worker_batch_size)
        if self._ahead():
            # Leases ahead never take the worker's last cap's worth of slots: they stay free
            # for other webhooks (the next claim, with fewer free, leases nothing ahead).
            self._asked = min(self._asked, self._free() - self.ctx.settings.webhook_concurrency)
        return self._asked

    def _free(self) -> int:
        return self._concurrency - len(self._holding) - self._reserved

    # --- hand-off (delivery/handoff.py) -------------------------------------------------------

    def accept_handoffs(self) -> Handoff:
        """Let this process's publishes hand notifications to this worker (the only worker)."""
        self.handoff = Handoff(self)
        return self.handoff

    def hold(self, webhook_id: str) -> bool:
        """Reserve a slot for a notification to ``webhook_id`` if both caps allow it now."""
        if self._stopping or self._free() <= 0:
            return False
        if self._held[webhook_id] >= self.ctx.settings.webhook_concurrency:
            return False
        self._held[webhook_id] += 1
        self._reserved += 1
        return True

    def unhold(self, webhook_id: str) -> None:
        self._reserved -= 1
        self._held[webhook_id] -= 1
        if self._held[webhook_id] <= 0:
            self._forget(webhook_id)
        self._slot_free.set()

    def adopt(self, job: Job) -> None:
        """A reserved notification, committed leased to this worker: send it."""
        self._reserved -= 1
        self._holding[job.notification_id] = job
        self._queue.put_nowait(job)
        metrics.HANDED_OFF.inc()

    def _take(self, job: Job) -> None:
        """Hold a job leased to this worker and queue it for a sender."""
        self._held[job.webhook_id] += 1
        self._holding[job.notification_id] = job
        self._queue.put_nowait(job)

    async def _send_loop(self) -> None:
        cap = self.ctx.settings.webhook_concurrency
        while True:
            job: Job | None = await self._queue.get()
            while job is not None:
                webhook_id = job.webhook_id
                if self._sending[webhook_id] >= cap:
                    # Leased ahead: sent when one of the webhook's requests answers.
                    self._parked.setdefault(webhook_id, deque()).append(job)
                    break
                self._sending[webhook_id] += 1
                try:
                    await self._deliver(job)
                except asyncio.CancelledError:
                    raise  # stopping: the job stays held, and its lease is handed back
                except Exception:
                    # Its lease expires and another attempt is made then.
                    log.exception("delivery failed", notification_id=job.notification_id)
                finally:
                    self._sending[webhook_id] -= 1
                    if self._sending[webhook_id] <= 0:
                        del self._sending[webhook_id]
                self._done(job)
                job = self._next_parked(webhook_id)

    def _next_parked(self, webhook_id: str) -> Job | None:
        parked = self._parked.get(webhook_id)
        if not parked:
            return None
        job = parked.popleft()
        if not parked:
            del self._parked[webhook_id]
        return job

    def _hand_back_parked(self, webhook_id: str) -> None:
        """A webhook that failed sends no more of what was leased ahead of its cap: those leases
        go back, due at once, for the next claim to judge under the webhook's health rules."""
        self._alone.discard(webhook_id)
        parked = self._parked.pop(webhook_id, None)
        if parked:
            task = asyncio.create_task(self._release(list(parked)))
            self._handing_back.add(task)
            task.add_done_callback(self._handing_back.discard)

    async def _release(self, jobs: list[Job]) -> None:
        try:
            await deliveries.release(self.ctx, self.worker_id, jobs)
            metrics.LEASES_RELEASED.inc(len(jobs))
        except Exception:
            log.exception("handing back leases failed; they expire", count=len(jobs))
        finally:
            for job in jobs:
                self._done(job)

    def _done(self, job: Job) -> None:
        webhook_id = job.webhook_id
        if self._holding.get(job.notification_id) is job:
            # (A lease handed back may have been claimed again already: that job stays held.)
            del self._holding[job.notification_id]
        self._held[webhook_id] -= 1
        # Against what the last claim let it hold (not _rooms(), which moves with the free
        # slots: a threshold that moves can be passed without being met).
        full = self._limit.get(webhook_id, self.ctx.settings.webhook_concurrency)
        if self._held[webhook_id] == full - max(1, full // 4):
            # The webhook was full and a quarter of its room is free again: claim for it in
            # one go rather than one claim per finished delivery.
            self._wake.set()
        if self._held[webhook_id] <= 0:
            self._forget(webhook_id)
        self._slot_free.set()
        if not self._holding:
            self._all_done.set()

    def _forget(self, webhook_id: str) -> None:
        """This worker holds nothing of ``webhook_id`` any more."""
        del self._held[webhook_id]
        self._alone.discard(webhook_id)
        self._limit.pop(webhook_id, None)

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
        due = await deliveries.next_due(self.ctx, full)
        if due is None:
            return poll
        return max(0.0, min(poll, (due - self.ctx.clock.now()) / MICROS))

    async def _deliver(self, job: Job) -> None:
        webhook = job.webhook
        if webhook is None or (webhook.status != "Active" and not job.is_test):
            reason = "webhook deleted" if webhook is None else "webhook is disabled"
            self._push(deliveries.ended(job, self.ctx.clock.now(), reason))
            return
        if job.send_at is not None:
            await asyncio.sleep(max(0.0, (job.send_at - self.ctx.clock.now()) / MICROS))
        prepared = self._prepare(webhook)
        opened = prepared.webhook
        started = self.ctx.clock.now()
        assert self._sender is not None
        headers, body = prepared.request(job, started)
        response = await self._sender.post(
            opened.url,
            headers,
            body,
            verify_ssl=not opened.ssl_verification_disabled,
            username=opened.username,
            password=opened.password,
        )
        self._push(
            deliveries.outcome_of(job, started, response, self.ctx.settings, self.ctx.clock.now())
        )

    def _push(self, result: Any) -> None:
        outcome.observe(result)
        if result.status == "succeeded":
            self._failing.discard(result.webhook_id)
        else:
            self._failing.add(result.webhook_id)
            self._hand_back_parked(result.webhook_id)
            if self.handoff is not None:
                self.handoff.forget(result.webhook_id)  # its health is the claim's to judge
        self._writer.push(result)

    def _prepare(self, row: Any) -> attempt.Prepared:
        """The webhook with its secrets decrypted and its fixed headers built: once per
        version of what is sent, rather than once per delivery."""
        cached = self._prepared.get(row.id)
        if cached is not None and cached[0] is row:
            return cached[2]  # the same claimed row: nothing can have changed
        version = tuple(getattr(row, name) for name in _SENT)
        if cached is not None and cached[1] == version:
            self._prepared[row.id] = (row, version, cached[2])
            return cached[2]
        if len(self._prepared) >= OPEN_WEBHOOKS:
            self._prepared.clear()
        prepared = attempt.Prepared(open_webhook(row, self.ctx.keyring), self.ctx.settings.brand)
        self._prepared[row.id] = (row, version, prepared)
        return prepared
