"""Time as integer microseconds since the epoch, behind a clock that tests can move."""

from __future__ import annotations

import time
from datetime import UTC, datetime

MICROS = 1_000_000


class Clock:
    """The wall clock. Tests pass a subclass whose ``now`` they control."""

    def now(self) -> int:
        return time.time_ns() // 1000


def to_iso(micros: int | None) -> str | None:
    """ISO 8601 UTC with a ``Z``, as every API timestamp is written."""
    if micros is None:
        return None
    moment = datetime.fromtimestamp(micros / MICROS, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def from_datetime(moment: datetime) -> int:
    """Microseconds for an aware or naive (taken as UTC) datetime."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * MICROS + delta.microseconds
