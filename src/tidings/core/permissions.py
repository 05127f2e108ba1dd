"""What a key may do: a level per resource, by key type, and never more than its creator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, get_args

# The names as types (the API's models use them) and as tuples (the rules below).
Resource = Literal[
    "webhooks",
    "events",
    "event_types",
    "notifications",
    "logs",
    "api_keys",
    "sources",
    "pulls",
    "users",
]
Level = Literal["none", "read", "write"]
KeyType = Literal["secret", "restricted", "publishable"]
RESOURCES: tuple[str, ...] = get_args(Resource)
LEVELS: tuple[str, ...] = get_args(Level)
KEY_TYPES: tuple[str, ...] = get_args(KeyType)

_RANK = {level: rank for rank, level in enumerate(LEVELS)}

FULL: dict[str, str] = dict.fromkeys(RESOURCES, "write")
# A publishable key reads public data only: the event-type catalog.
PUBLIC: dict[str, str] = {**dict.fromkeys(RESOURCES, "none"), "event_types": "read"}


def effective(key_type: str, stored: Mapping[str, str] | None) -> dict[str, str]:
    """The level per resource that a key of ``key_type`` holds."""
    if key_type in ("operator", "secret") or (key_type == "user" and stored is None):
        # A dashboard user holds every permission on its account unless given fewer.
        return dict(FULL)
    if key_type == "publishable":
        return dict(PUBLIC)
    return {resource: (stored or {}).get(resource, "none") for resource in RESOURCES}


def allows(permissions: Mapping[str, str], resource: str, level: str) -> bool:
    """Write implies read."""
    return _RANK[permissions.get(resource, "none")] >= _RANK[level]


def exceeds(
    wanted: Mapping[str, str],
    wanted_categories: list[str] | None,
    held: Mapping[str, str],
    held_categories: list[str] | None,
) -> str | None:
    """What ``wanted`` grants beyond ``held`` (a key may not create a stronger one), or None."""
    for resource in RESOURCES:
        if not allows(held, resource, wanted.get(resource, "none")):
            return f"{resource}:{wanted[resource]}"
    if held_categories is not None:
        if wanted_categories is None:
            return "every event-type category"
        extra = sorted(set(wanted_categories) - set(held_categories))
        if extra:
            return f"categories {', '.join(extra)}"
    return None
