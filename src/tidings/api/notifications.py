"""``/v1/notifications``: one event for one webhook, with every attempt to deliver it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.api.deps import Access, Ctx, allow, in_categories
from tidings.api.errors import not_found
from tidings.api.model import ApiOut, Page
from tidings.api.timerange import From, To, within
from tidings.core.clock import to_iso
from tidings.store.paging import DEFAULT_LIMIT, MAX_LIMIT, fetch_page
from tidings.store.tables import attempts, notifications, webhooks

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])

Read = Annotated[Access, Depends(allow("notifications", "read"))]
Write = Annotated[Access, Depends(allow("notifications", "write"))]

Status = Literal["pending", "succeeded", "failed"]


class NotificationOut(ApiOut):
    id: str
    event_id: str
    webhook_id: str
    event_type: str
    status: Status
    attempt_count: int
    next_attempt_at: str | None
    last_attempt_at: str | None
    last_status_code: int | None
    last_error: str | None
    test: bool
    created_at: str


class AttemptOut(ApiOut):
    id: str
    attempted_at: str
    status_code: int | None
    response_body: str | None
    duration_ms: float
    error: str | None
    outcome: Literal["succeeded", "failed"]


class NotificationDetail(NotificationOut):
    attempts: list[AttemptOut]


def notification_fields(values: Mapping[Any, Any]) -> dict[str, Any]:
    """Response fields from a notification row's mapping (or the dict it was inserted from)."""
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


def attempt_out(row: Row[Any]) -> AttemptOut:
    return AttemptOut(
        id=row.id,
        attempted_at=to_iso(row.attempted_at),
        status_code=row.status_code,
        response_body=row.response_body,
        duration_ms=row.duration_ms,
        error=row.error,
        outcome=row.outcome,
    )


@router.get("", response_model=Page[NotificationOut])
async def list_notifications(
    ctx: Ctx,
    access: Read,
    webhook_id: Annotated[str | None, Query(alias="webhookId")] = None,
    status: Status | None = None,
    event_type: Annotated[str | None, Query(alias="eventType")] = None,
    event_id: Annotated[str | None, Query(alias="eventId")] = None,
    start: From = None,
    end: To = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[NotificationOut]:
    conditions = [
        notifications.c.account_id == access.account_id,
        *in_categories(access, notifications.c.event_type),
    ]
    conditions += within(notifications.c.created_at, start, end)
    for column, value in (
        (notifications.c.webhook_id, webhook_id),
        (notifications.c.status, status),
        (notifications.c.event_type, event_type),
        (notifications.c.event_id, event_id),
    ):
        if value is not None:
            conditions.append(column == value)
    query = notifications.select().where(sa.and_(*conditions))
    async with ctx.db.read() as conn:
        rows, next_cursor = await fetch_page(conn, query, notifications.c.id, limit, cursor)
    return Page(
        data=[NotificationOut(**notification_fields(r._mapping)) for r in rows],
        next_cursor=next_cursor,
    )


async def _existing(conn: AsyncConnection, access: Access, notification_id: str) -> Row[Any]:
    query = notifications.select().where(
        sa.and_(
            notifications.c.id == notification_id,
            notifications.c.account_id == access.account_id,
            *in_categories(access, notifications.c.event_type),
        )
    )
    row = (await conn.execute(query)).first()
    if row is None:
        raise not_found("notification", notification_id)
    return row


async def _detail(conn: AsyncConnection, row: Row[Any]) -> NotificationDetail:
    query = (
        attempts.select()
        .where(attempts.c.notification_id == row.id)
        .order_by(attempts.c.attempted_at, attempts.c.id)
    )
    rows = (await conn.execute(query)).all()
    return NotificationDetail(
        **notification_fields(row._mapping), attempts=[attempt_out(a) for a in rows]
    )


@router.get("/{notification_id}", response_model=NotificationDetail)
async def get_notification(notification_id: str, ctx: Ctx, access: Read) -> NotificationDetail:
    async with ctx.db.read() as conn:
        return await _detail(conn, await _existing(conn, access, notification_id))


@router.post("/{notification_id}/resend", status_code=202, response_model=NotificationDetail)
async def resend_notification(notification_id: str, ctx: Ctx, access: Write) -> NotificationDetail:
    """Deliver the notification again now, with the same id and a fresh retry schedule."""
    now = ctx.clock.now()
    async with ctx.db.write() as conn:
        row = await _existing(conn, access, notification_id)
        exists = await conn.execute(sa.select(webhooks.c.id).where(webhooks.c.id == row.webhook_id))
        if exists.first() is None:
            raise not_found("webhook", row.webhook_id)
        await conn.execute(
            notifications.update()
            .where(notifications.c.id == row.id)
            .values(
                status="pending",
                retry_index=0,
                next_attempt_at=now,
                leased_by=None,
                updated_at=now,
            )
        )
        detail = await _detail(conn, await _existing(conn, access, notification_id))
    ctx.wake_worker()
    return detail
