"""Which events an endpoint takes: by event-type name, by ``prefix.*`` pattern, by category.

Seed 000 sets each endpoint up under one category and picks its events from that category's
list. An endpoint (webhook, source or pull) with a category takes the types of that category
only; with no ``eventTypes`` it takes every type of its category, or every type at all when it
has no category either. ``payment.*`` matches ``payment.created`` and ``payment.refund.failed``.
"""

from __future__ import annotations

from collections.abc import Sequence

PATTERN_SUFFIX = ".*"


def is_pattern(entry: str) -> bool:
    return entry.endswith(PATTERN_SUFFIX) and len(entry) > len(PATTERN_SUFFIX)


def entry_matches(entry: str, event_type: str) -> bool:
    if is_pattern(entry):
        return event_type.startswith(entry[: -len(PATTERN_SUFFIX)] + ".")
    return entry == event_type


def named(entries: Sequence[str], event_type: str) -> bool:
    """Whether ``event_type`` is named by an entry (exactly or by a pattern)."""
    return any(entry_matches(entry, event_type) for entry in entries)


def takes(
    event_types: Sequence[str],
    category: str | None,
    event_type: str,
    event_category: str | None,
) -> bool:
    """Whether an endpoint subscribed to ``event_types`` under ``category`` takes an event of
    ``event_type`` (whose type belongs to ``event_category``)."""
    if category is not None and event_category != category:
        return False
    return not event_types or named(event_types, event_type)
