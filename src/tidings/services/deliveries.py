"""The delivery side of notifications, as the worker (delivery/worker.py) drives it: claim
what is due, record what each attempt did (and the webhook health it changes, and the
operational events that follows from it), hand back what was not sent."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from tidings.config import Settings
from tidings.core.clock import MICROS, to_iso
from tidings.core.durations import parse_duration
from tidings.core.health import HealthRules
from tidings.core.ids import new_id
from tidings.core.masking import mask_url
from tidings.core.retry import after_failure
from tidings.outbound.sender import Response
from tidings.runtime.context import Context
from tidings.services.publish import OPERATIONAL, publish_operational
from tidings.store.queue import claim as claims
from tidings.store.queue import outcomes as recorder
from tidings.store.queue import transitions
from tidings.store.queue.jobs import Disabled, Job, Outcome


def rules(ctx: Context) -> HealthRules:
    settings = ctx.settings
    return HealthRules.of(
        settings.breaker_threshold,
        settings.breaker_probe_interval,
        settings.auto_disable_after,
        settings.auto_disable_min_failures,
    )


async def claim(
    ctx: Context,
    worker_id: str,
    *,
    limit: Callable[[], int],
    rooms: Callable[[], Mapping[str, int]],
    health: HealthRules,
    ahead: Callable[[], Mapping[str, int]] | None = None,
) -> claims.Claimed:
    """Up to ``limit()`` due notifications, leased to ``worker_id`` (see store/queue/claim.py;
    ``ahead()``: the part of each room beyond the webhook's cap, granted only to a worker
    alone on it, asked right after ``rooms()`` so that the two agree). ``limit`` and ``rooms``
    are asked once the write lock is held: deliveries that finished while the claim waited for
    it (an outcome batch being written) make room it can fill."""
    settings = ctx.settings
    async with ctx.db.write() as conn:
        now = ctx.clock.now()
        return await claims.claim(
            conn,
            worker_id=worker_id,
            now=now,
            lease_until=now + int(settings.lease_seconds * 1_000_000),
            limit=limit(),
            rooms=rooms(),
            default_room=settings.webhook_concurrency,
            rules=health,
            ahead=ahead() if ahead else None,
        )


async def next_due(ctx: Context, exclude: Collection[str]) -> int | None:
    async with ctx.db.read() as conn:
        return await claims.next_due(conn, exclude)


@dataclass(frozen=True)
class Recorded:
    disabled: list[Disabled]
    # Operational events' notifications made: a worker should look for them at once.
    notifications_made: int


async def record(
    ctx: Context, worker_id: str, outcomes: list[Outcome], health: HealthRules
) -> Recorded:
    """Write a batch of outcomes and, in the same transaction, the operational events they
    cause: ``webhook.disabled`` for each webhook the health rules disabled, and
    ``notification.failed`` for each notification that failed for good."""
    now = ctx.clock.now()
    made = 0
    async with ctx.db.write() as conn:
        disabled = await recorder.record(conn, worker_id, outcomes, now, health)
        for webhook in disabled:
            data: dict[str, object] = {
                "webhookId": webhook.webhook_id,
                "url": mask_url(webhook.url),
                "reason": webhook.reason,
                "disabledAt": to_iso(now),
            }
            made += await publish_operational(
                conn, ctx, webhook.account_id, "webhook.disabled", data
            )
        for outcome in outcomes:
            if outcome.status != "failed" or not outcome.attempted:
                continue
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
                conn, ctx, outcome.account_id, "notification.failed", data
            )
    if disabled:
        ctx.routes.changed()  # publishing stops sending to them
    return Recorded(disabled, made)


@functools.lru_cache(maxsize=256)
def _schedule(items: tuple[str, ...]) -> list[float]:
    return [parse_duration(item) for item in items]


def outcome_of(job: Job, started: int, response: Response, settings: Settings, now: int) -> Outcome:
    """What the answer to ``job``'s attempt begun at ``started`` (``now``: when it answered)
    means: succeeded (any 2xx), due again later (the webhook's retry schedule, the receiver's
    Retry-After), or failed for good (schedule spent, or 410 Gone)."""
    webhook = job.webhook
    status, next_at, retry_index = "succeeded", None, job.retry_index
    if not response.ok:
        schedule = (
            _schedule(tuple(webhook.retry_schedule))
            if webhook.retry_schedule is not None
            else settings.retry_schedule
        )
        delay = after_failure(
            schedule,
            job.retry_index,
            settings.retry_jitter,
            response.status_code,
            response.retry_after,
            now / MICROS,
        )
        if delay is None:
            status = "failed"
        else:
            status, retry_index = "pending", job.retry_index + 1
            next_at = now + int(delay * MICROS)
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


def ended(job: Job, now: int, reason: str) -> Outcome:
    """A notification that ends failed without an attempt (its webhook is gone or disabled)."""
    return Outcome(
        notification_id=job.notification_id,
        account_id=job.account_id,
        webhook_id=job.webhook_id,
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


async def release(ctx: Context, worker_id: str, jobs: Collection[Job]) -> int:
    """Hand back leases unsent (shutdown): due again at once, for any worker."""
    async with ctx.db.write() as conn:
        return await transitions.release(conn, worker_id, jobs, ctx.clock.now())
