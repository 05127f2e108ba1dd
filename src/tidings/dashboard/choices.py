"""What the dashboard's forms offer to choose from: how long a rolled key or secret keeps
working, and the account's event types by category."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from tidings.dashboard.web import View
from tidings.services import event_types as event_type_service

EXPIRIES = [("now", "Now"), ("1h", "1 hour"), ("2h", "2 hours"), ("24h", "24 hours")]

Groups = list[tuple[str, list[dict[str, Any]]]]


def by_category(items: Iterable[dict[str, Any]]) -> Groups:
    """Items grouped by category in alphabetical order, the uncategorised ("") last."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        groups[item["category"] or ""].append(item)
    return sorted(groups.items(), key=lambda g: (g[0] == "", g[0].lower()))


async def catalog(view: View) -> Groups:
    """The event types the account may use, grouped by category."""
    types, _ = await event_type_service.page(view.ctx, view.caller, limit=250)
    return by_category(types)
