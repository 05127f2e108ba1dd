"""What an attempt's answer means for its notification: succeeded, due again later (the
webhook's retry schedule, the receiver's Retry-After), or failed for good (schedule spent,
or 410 Gone)."""

from __future__ import annotations

import functools
import logging

import structlog

from tidings.config import Settings
from tidings.core.clock import MICROS, to_iso
from tidings.core.durations import parse_duration
from tidings.core.ids import new_id
from tidings.core.retry import after_failure
from tidings.outbound.sender import Response
from tidings.runtime import metrics
from tidings.store.queue.jobs import Job, Outcome

log = structlog.get_logger("tidings.worker")


@functools.lru_cache(maxsize=256)
def _schedule(items: tuple[str, ...]) -> list[float]:
    return [parse_duration(item) for item in items]


def of_response(
    job: Job, started: int, response: Response, settings: Settings, now: int
) -> Outcome:
    """The outcome of ``job``'s attempt begun at ``started`` (``now``: when it answered)."""
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


_LEVELS = {"succeeded": logging.DEBUG, "pending": logging.INFO, "failed": logging.WARNING}


def observe(o: Outcome) -> None:
    """Metrics, and one log line per attempt: successes at debug (there can be thousands a
    second), retries at info, a notification that failed for good at warning."""
    if o.attempted:
        metrics.ATTEMPTS.labels("succeeded" if o.status == "succeeded" else "failed").inc()
        metrics.ATTEMPT_SECONDS.observe(o.duration_ms / 1000)
    if o.status != "pending":
        metrics.NOTIFICATIONS_DONE.labels(o.status).inc()
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
