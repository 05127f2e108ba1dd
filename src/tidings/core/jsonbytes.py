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


def non_finite_path(value: Any, path: str) -> str | None:
    """The path of a NaN or infinite number (which JSON cannot carry; a lenient parser lets
    ``NaN`` or ``1e400`` through), or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, dict):
        items: Any = ((f"{path}.{k}", v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{path}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for child_path, child in items:
        found = non_finite_path(child, child_path)
        if found:
            return found
    return None
