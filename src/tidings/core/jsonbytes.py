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
