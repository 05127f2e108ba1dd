"""Query strings are checked like bodies: a parameter the operation does not take is a 422
naming it (a misspelt ``?webhook_id=`` must not silently list everything), and a ``cursor``
that is not one the API gave out is a 400 naming ``cursor`` (not an empty page)."""

from __future__ import annotations

import re
from typing import Any

from fastapi import Request
from fastapi.dependencies.models import Dependant

from tidings.core.errors import DomainError

# Cursors are the ids of list items: prefixed ids (``evt_…``, ``et_builtin_…``) or log UUIDs.
_CURSOR = re.compile(
    r"^(?:[a-z]{2,8}_[0-9A-Za-z_]{1,64}"
    r"|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)
_known: dict[int, frozenset[str]] = {}


def _query_names(dependant: Dependant) -> frozenset[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return frozenset(names)


async def check_query(request: Request) -> None:
    """An app-wide dependency for ``/v1/`` operations."""
    if not request.url.path.startswith("/v1/"):
        return
    route: Any = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = _known.get(id(route))
    if known is None:
        known = _known[id(route)] = _query_names(dependant)
    for name in request.query_params:
        if name not in known:
            allowed = ", ".join(sorted(known)) or "none"
            raise DomainError(
                422,
                f"unknown query parameter {name!r} (this call takes: {allowed})",
                field=name,
            )
    cursor = request.query_params.get("cursor")
    # An empty cursor (what a client sends for "none yet") is the first page.
    if cursor and "cursor" in known and not _CURSOR.match(cursor):
        raise DomainError(
            400, "cursor is not one this API gave out: use nextCursor", field="cursor"
        )
