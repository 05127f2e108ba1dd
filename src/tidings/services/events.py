"""Events as partners read them: the event, the request that published it, and every
notification with its attempts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tidings.core.access import Access
from tidings.core.clock import to_iso
from tidings.core.errors import not_found
from tidings.core.jsonbytes import loads
from tidings.runtime.context import Context
from tidings.services import logs
from tidings.services.notifications import attempt_view, notification_view
from tidings.services.paging import Page, account_page
from tidings.store import events as store


def source_key(source_id: str, key: str) -> str:
    """A push's idempotency key as stored: per source, apart from the account's own keys."""
    return f"{source_id}:{key}"


def shown_key(stored: str | None, source_id: str | None) -> str | None:
    if stored is not None and source_id is not None:
        return stored.removeprefix(f"{source_id}:")
    return stored


def event_view(row: Any, notifications: list[Mapping[Any, Any]] | None) -> dict[str, Any]:
    """An event row as shown; ``notifications`` None in lists."""
    return {
        "id": row.id,
        "event_type": row.event_type,
        "event_data": loads(row.data),
        "idempotency_key": shown_key(row.idempotency_key, row.source_id),
        "test": row.is_test,
        "source_id": row.source_id,
        "pull_id": row.pull_id,
        "created_at": to_iso(row.created_at),
        "notifications": None
        if notifications is None
        else [notification_view(n) for n in notifications],
    }


async def page(
    ctx: Context, access: Access, *, limit: int, cursor: str | None = None, **filters: Any
) -> Page:
    """``filters``: event_type, log_id, start, end (see store/events.py)."""
    return await account_page(
        ctx,
        access,
        store.page,
        lambda r: event_view(r, None),
        limit=limit,
        cursor=cursor,
        **filters,
    )


async def get(ctx: Context, access: Access, event_id: str) -> dict[str, Any]:
    """The whole story of one event: the event, the API request that published it, and every
    notification with its attempts."""
    async with ctx.db.read() as conn:
        row = await store.get(conn, access.account_id, event_id, access.categories)
        if row is None:
            raise not_found("event", event_id)
        notifications = await store.notifications_of(conn, event_id)
        attempts = await store.attempts_of(conn, [n.id for n in notifications])
        request = await logs.summary(conn, row.log_id, None) if row.log_id else None
    return {
        **event_view(row, None),
        "request": request,
        "notifications": [
            {
                **notification_view(n._mapping),
                "attempts": [attempt_view(a) for a in attempts.get(n.id, [])],
            }
            for n in notifications
        ],
    }
