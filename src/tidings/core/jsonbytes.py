"""Compact JSON bytes, as receivers get them: orjson, or the standard library for the integers
beyond 64 bits that orjson refuses (JSON allows them, so Tidings must too)."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson


def dumps(value: Any, *, sort_keys: bool = False) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS if sort_keys else 0)
    except orjson.JSONEncodeError:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)
        return text.encode()


def event_bytes(value: Any) -> bytes:
    """Event data as stored and sent: compact JSON written the way JavaScript's
    ``JSON.stringify`` writes it (integer-like keys first, ``10`` not ``10.0``, ``0.000001`` not
    ``1e-6``), so a receiver that re-serialises the parsed body gets the signed bytes back."""
    return orjson.dumps(_js_form(value))


def _js_form(value: Any) -> Any:
    if isinstance(value, dict):
        index_keys = sorted((k for k in value if _is_index(k)), key=int)
        ordered = index_keys + [k for k in value if not _is_index(k)]
        return {k: _js_form(value[k]) for k in ordered}
    if isinstance(value, list):
        return [_js_form(v) for v in value]
    if isinstance(value, float):
        return orjson.Fragment(js_number(value))
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return orjson.Fragment(str(value))  # beyond 64 bits: JSON allows it, orjson does not
    return value


def _is_index(key: str) -> bool:
    """An array-index key in JavaScript's sense: the canonical decimal form of 0..2**32-2."""
    return key.isdigit() and key.isascii() and str(int(key)) == key and int(key) < 2**32 - 1


def js_number(value: float) -> str:
    """ECMAScript Number::toString for a finite double."""
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    # repr gives the shortest digits that round-trip, as ECMAScript requires.
    mantissa, _, exponent = repr(abs(value)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    point = len(whole) + int(exponent or 0)  # where the decimal point sits in digits
    stripped = digits.lstrip("0")
    n = point - (len(digits) - len(stripped))
    digits = stripped.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        e = n - 1
        text = (
            digits[0]
            + ("." + digits[1:] if k > 1 else "")
            + "e"
            + ("+" if e > 0 else "-")
            + str(abs(e))
        )
    return sign + text


def loads(data: bytes) -> Any:
    """Parse stored JSON exactly: orjson would turn integers beyond 64 bits into floats."""
    return json.loads(data)


def payload_problem(value: Any, path: str, max_depth: int) -> tuple[str, str] | None:
    """Where a payload cannot be carried faithfully, and why: nesting deeper than
    ``max_depth``, or a NaN or infinite number (JSON has none; a lenient parser lets ``NaN``
    and ``1e400`` through)."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, "NaN and infinite numbers are not JSON")
    if isinstance(value, dict):
        items: Any = ((f"{path}.{k}", v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    if max_depth <= 0:
        return path, "nested too deeply"
    for child_path, child in items:
        found = payload_problem(child, child_path, max_depth - 1)
        if found:
            return found
    return None
