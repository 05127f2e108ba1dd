"""JSON Pointers (RFC 6901), e.g. ``/type`` or ``/data/items``: where a push names its event
type, where a pull's records and their ids are."""

from __future__ import annotations

from typing import Any

MISSING = object()


def check(pointer: str) -> str | None:
    """Why ``pointer`` is not a JSON Pointer, or None when it is."""
    if pointer and not pointer.startswith("/"):
        return "a JSON Pointer is empty or starts with '/', e.g. /type"
    for token in pointer.split("/")[1:]:
        rest = token.replace("~0", "").replace("~1", "")
        if "~" in rest:
            return "'~' must be written ~0, and '/' in a name ~1"
    return None


def resolve(document: Any, pointer: str) -> Any:
    """The value at ``pointer`` in ``document``, or ``MISSING``."""
    if not pointer:
        return document
    value = document
    for raw in pointer.split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict):
            if token not in value:
                return MISSING
            value = value[token]
        elif isinstance(value, list):
            if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
                return MISSING
            index = int(token)
            if index >= len(value):
                return MISSING
            value = value[index]
        else:
            return MISSING
    return value
