"""Notifications (one event for one webhook) as partners read them, and resending one."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tidings.core.access import Access
from tidings.core.clock import to_iso
from tidings.core.errors import not_found
from tidings.runtime.context import Context
from tidings.services.paging import Page, account_page
from tidings.store import notifications as store
from tidings.store import webhooks as webhook_store
from tidings.store.db import Connection
from tidings.store.queue import transitions


def notification_view(values: Mapping[Any, Any]) -> dict[str, Any]:
    """A notification row's mapping (or the dict it was inserted from), as shown."""
    pending = values["status"] == "pending"
    return {
        "id": values["id"],
        "event_id": values["event_id"],
        "webhook_id": values["webhook_id"],
        "event_type": values["event_type"],
        "status": values["status"],
        "attempt_count": values["attempt_count"],
        "next_attempt_at": to_iso(values["next_attempt_at"]) if pending else None,
        "last_attempt_at": to_iso(values.get("last_attempt_at")),
        "last_status_code": values.get("last_status_code"),
        "last_error": values.get("last_error"),
        "test": values["is_test"],
        "created_at": to_iso(values["created_at"]),
    }


def attempt_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "attempted_at": to_iso(row.attempted_at),
        "status_code": row.status_code,
        "response_body": row.response_body,
        "duration_ms": row.duration_ms,
        "error": row.error,
        "outcome": row.outcome,
    }


async def page(
    ctx: Context, access: Access, *, limit: int, cursor: str | None = None, **filters: Any
) -> Page:
    """``filters``: webhook_id, status, event_type, event_id, start, end (see the store's)."""
    return await account_page(
        ctx, access, store.page, _row_view, limit=limit, cursor=cursor, **filters
    )


def _row_view(row: Any) -> dict[str, Any]:
    return notification_view(row._mapping)


async def _detail(conn: Connection, access: Access, notification_id: str) -> dict[str, Any]:
    row = await store.get(conn, access.account_id, notification_id, access.categories)
    if row is None:
        raise not_found("notification", notification_id)
    attempts = await store.attempts_of(conn, row.id)
    return {**notification_view(row._mapping), "attempts": [attempt_view(a) for a in attempts]}


async def get(ctx: Context, access: Access, notification_id: str) -> dict[str, Any]:
    """The notification with every attempt, oldest first."""
    async with ctx.db.read() as conn:
        return await _detail(conn, access, notification_id)


async def resend(ctx: Context, access: Access, notification_id: str) -> dict[str, Any]:
    """Deliver the notification again now, with the same id and a fresh retry schedule."""
    now = ctx.clock.now()
    async with ctx.db.write() as conn:
        row = await store.get(conn, access.account_id, notification_id, access.categories)
        if row is None:
            raise not_found("notification", notification_id)
        if not await webhook_store.exists(conn, row.webhook_id):
            raise not_found("webhook", row.webhook_id)
        await transitions.requeue(conn, row.id, now)
        detail = await _detail(conn, access, notification_id)
    ctx.wake_worker()
    return detail
