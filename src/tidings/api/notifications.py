"""``/v1/notifications``: one event for one webhook, with every attempt to deliver it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from tidings.api.deps import Ctx, allow
from tidings.api.model import DEFAULT_LIMIT, MAX_LIMIT, ApiOut, Page
from tidings.api.timerange import From, To
from tidings.core.access import Access
from tidings.services import notifications as service

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
    rows, next_cursor = await service.page(
        ctx,
        access,
        webhook_id=webhook_id,
        status=status,
        event_type=event_type,
        event_id=event_id,
        start=start,
        end=end,
        limit=limit,
        cursor=cursor,
    )
    return Page(data=[NotificationOut(**r) for r in rows], next_cursor=next_cursor)


@router.get("/{notification_id}", response_model=NotificationDetail)
async def get_notification(notification_id: str, ctx: Ctx, access: Read) -> NotificationDetail:
    return NotificationDetail(**await service.get(ctx, access, notification_id))


@router.post("/{notification_id}/resend", status_code=202, response_model=NotificationDetail)
async def resend_notification(notification_id: str, ctx: Ctx, access: Write) -> NotificationDetail:
    """Deliver the notification again now, with the same id and a fresh retry schedule."""
    return NotificationDetail(**await service.resend(ctx, access, notification_id))
