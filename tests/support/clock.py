"""A clock the test moves by hand, for a ``RunningServer(settings, clock=FakeClock())``: time
stands still until the test sets or advances it, so expiry is tested without sleeping."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from tidings.core.clock import MICROS, Clock


class FakeClock(Clock):
    """Integer microseconds since the epoch, like ``Clock.now``. Starts at the current whole
    second (or at ``start``) and moves only when told to."""

    def __init__(self, start: int | None = None) -> None:
        self._lock = threading.Lock()
        self._now = start if start is not None else (time.time_ns() // 1000 // MICROS) * MICROS

    def now(self) -> int:
        with self._lock:
            return self._now

    def set(self, micros: int) -> None:
        with self._lock:
            self._now = micros

    def advance(self, seconds: float = 0.0, *, micros: int = 0) -> int:
        """Move forward by ``seconds`` plus ``micros``; returns the new time."""
        with self._lock:
            self._now += round(seconds * MICROS) + micros
            return self._now

    def as_datetime(self) -> datetime:
        """The current fake time as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now() / MICROS, tz=UTC)
