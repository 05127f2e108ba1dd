"""Durations written the way people write them: ``500ms``, ``5s``, ``1m``, ``3h``, ``1d``."""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "": 1.0}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|)\s*$")


def parse_duration(text: str) -> float:
    """Seconds in ``text``; a bare number is seconds. Raises ValueError on anything else."""
    match = _PATTERN.match(text)
    if not match:
        raise ValueError(f"invalid duration {text!r}: use a number with ms, s, m, h or d")
    return float(match.group(1)) * _UNITS[match.group(2)]


MAX_EXPIRES_IN = 7 * 86400.0


def parse_expires_in(value: object) -> float:
    """Seconds until a rolled key or secret stops working: ``now``, a duration such as ``1h``
    or ``24h``, or a number of seconds; at most 7 days."""
    if isinstance(value, str):
        seconds = 0.0 if value.strip().lower() == "now" else parse_duration(value)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        raise ValueError("use 'now', a duration such as '1h', or a number of seconds")
    if not math.isfinite(seconds):
        raise ValueError("must be a finite number of seconds")
    if seconds < 0:
        raise ValueError("must not be negative")
    if seconds > MAX_EXPIRES_IN:
        raise ValueError("must be at most 7 days (604800 seconds)")
    return seconds
