"""What the worker tells about each outcome: metrics and a log line."""

from __future__ import annotations

import logging

import structlog

from tidings.core.clock import to_iso
from tidings.runtime import metrics
from tidings.store.queue.jobs import Outcome

log = structlog.get_logger("tidings.worker")


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
