"""The delivery queue is the notifications table: claim what is due, record what happened."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.store.tables import attempts, events, notifications, webhooks


@dataclass(frozen=True, slots=True)
class Job:
    """A claimed notification with what is needed to send it."""

    notification_id: str
    account_id: str
    event_id: str
    event_type: str
    retry_index: int
    is_test: bool
    event_created_at: int
    data: bytes
    webhook: Row[Any] | None


@dataclass(frozen=True, slots=True)
class Outcome:
    notification_id: str
    account_id: str
    webhook_id: str
    attempt_id: str | None
    attempted_at: int
    status: str  # pending (retry due later), succeeded or failed
    retry_index: int
    next_attempt_at: int | None
    status_code: int | None
    response_body: str | None
    duration_ms: float
    error: str | None


async def claim(conn: AsyncConnection, now: int, lease_until: int, limit: int) -> list[Job]:
    """Take up to ``limit`` due notifications, moving them out of reach until ``lease_until``."""
    due = (
        sa.select(notifications.c.id)
        .where(sa.and_(notifications.c.status == "pending", notifications.c.next_attempt_at <= now))
        .order_by(notifications.c.next_attempt_at)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    claimed = (
        await conn.execute(
            notifications.update()
            .where(notifications.c.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=lease_until)
            .returning(
                notifications.c.id,
                notifications.c.account_id,
                notifications.c.event_id,
                notifications.c.webhook_id,
                notifications.c.event_type,
                notifications.c.retry_index,
                notifications.c.is_test,
            )
        )
    ).all()
    if not claimed:
        return []
    event_rows = await conn.execute(
        sa.select(events.c.id, events.c.data, events.c.created_at).where(
            events.c.id.in_({c.event_id for c in claimed})
        )
    )
    by_event = {r.id: r for r in event_rows}
    webhook_rows = await conn.execute(
        webhooks.select().where(webhooks.c.id.in_({c.webhook_id for c in claimed}))
    )
    by_webhook = {r.id: r for r in webhook_rows}
    return [
        Job(
            notification_id=c.id,
            account_id=c.account_id,
            event_id=c.event_id,
            event_type=c.event_type,
            retry_index=c.retry_index,
            is_test=c.is_test,
            event_created_at=by_event[c.event_id].created_at,
            data=by_event[c.event_id].data,
            webhook=by_webhook.get(c.webhook_id),
        )
        for c in sorted(claimed, key=lambda c: c.id)
    ]


async def next_due(conn: AsyncConnection) -> int | None:
    """When the earliest pending notification falls due."""
    query = sa.select(sa.func.min(notifications.c.next_attempt_at)).where(
        notifications.c.status == "pending"
    )
    value = (await conn.execute(query)).scalar()
    return int(value) if value is not None else None


_record_notification = (
    notifications.update()
    .where(notifications.c.id == sa.bindparam("b_id"))
    .values(
        status=sa.bindparam("b_status"),
        attempt_count=notifications.c.attempt_count + sa.bindparam("b_attempted"),
        retry_index=sa.bindparam("b_retry_index"),
        next_attempt_at=sa.bindparam("b_next"),
        last_attempt_at=sa.bindparam("b_at"),
        last_status_code=sa.bindparam("b_code"),
        last_error=sa.bindparam("b_error"),
        updated_at=sa.bindparam("b_at"),
    )
)


async def record(conn: AsyncConnection, outcomes: list[Outcome]) -> None:
    """Write a batch of outcomes: the attempts, then each notification's new state."""
    attempt_rows = [
        {
            "id": o.attempt_id,
            "notification_id": o.notification_id,
            "account_id": o.account_id,
            "webhook_id": o.webhook_id,
            "attempted_at": o.attempted_at,
            "status_code": o.status_code,
            "response_body": o.response_body,
            "duration_ms": o.duration_ms,
            "error": o.error,
            "outcome": "succeeded" if o.status == "succeeded" else "failed",
        }
        for o in outcomes
        if o.attempt_id is not None
    ]
    if attempt_rows:
        await conn.execute(attempts.insert(), attempt_rows)
    await conn.execute(
        _record_notification,
        [
            {
                "b_id": o.notification_id,
                "b_status": o.status,
                "b_attempted": 1 if o.attempt_id is not None else 0,
                "b_retry_index": o.retry_index,
                "b_next": o.next_attempt_at,
                "b_at": o.attempted_at,
                "b_code": o.status_code,
                "b_error": o.error,
            }
            for o in outcomes
        ],
    )
