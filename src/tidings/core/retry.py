"""When to try a failed delivery again."""

from __future__ import annotations

import random
from email.utils import parsedate_to_datetime

from tidings.core.durations import parse_duration
from tidings.core.health import is_gone

# A receiver's Retry-After is honoured up to this long.
MAX_RETRY_AFTER = 24 * 3600.0


def next_delay(
    schedule: list[float], retry_index: int, jitter: float, retry_after: float | None = None
) -> float | None:
    """Seconds until the next attempt after the attempt at ``retry_index`` failed, or None
    when the schedule is spent. Jitter spreads retries of a burst of failures (±jitter)."""
    if retry_index >= len(schedule):
        return None
    delay = schedule[retry_index] * random.uniform(1 - jitter, 1 + jitter)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def after_failure(
    schedule: list[float],
    retry_index: int,
    jitter: float,
    status_code: int | None,
    retry_after: str | None,
    now: float,
) -> float | None:
    """Seconds until a failed notification is tried again, or None when it has failed for
    good: its schedule is spent, or the receiver answered 410 Gone. ``retry_after`` is the
    receiver's header, ``now`` the time in epoch seconds."""
    if is_gone(status_code):
        return None
    return next_delay(schedule, retry_index, jitter, parse_retry_after(retry_after, now))


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait: delta-seconds or an HTTP date (``now``
    is the current time in epoch seconds); None when absent or unreadable."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError, IndexError):
            return None
        return max(seconds, 0.0)
    return seconds if seconds >= 0 else None


MAX_RETRIES = 20
MAX_DELAY = 86400.0
MAX_SPAN = 7 * 86400.0


def check_schedule(items: list[str]) -> list[str]:
    """A per-webhook schedule (``["1m", "5m", ...]``): bounded in count, delay and span."""
    if len(items) > MAX_RETRIES:
        raise ValueError(f"at most {MAX_RETRIES} retries")
    delays = [parse_duration(item) for item in items]
    if any(d > MAX_DELAY for d in delays):
        raise ValueError("each delay must be at most 24h")
    if sum(delays) > MAX_SPAN:
        raise ValueError("the delays must add up to at most 7 days")
    return items
