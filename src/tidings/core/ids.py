"""Prefixed, time-sortable ids: ``evt_`` and 26 Crockford base32 characters
(48 bits of milliseconds, 80 random bits).

Sorting ids sorts by creation time, which is what cursor pagination and ordered delivery rely
on; within one process ids are strictly increasing, even within one millisecond.
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_lock = threading.Lock()
_last = 0


def _next_value() -> int:
    """Milliseconds and random bits; one more than the last value when the clock has not
    moved on (the monotonic ULID rule)."""
    global _last
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    with _lock:
        if value <= _last:
            value = _last + 1
        _last = value
    return value


def new_id(prefix: str) -> str:
    value = _next_value()
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return prefix + "_" + "".join(reversed(chars))


def new_request_id() -> str:
    """A UUID version 7: 48 bits of milliseconds first, so request ids sort by time."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))
