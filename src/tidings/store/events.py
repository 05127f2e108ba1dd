"""Publishing: an event and its notifications, written in one transaction."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.ids import new_id
from tidings.store.tables import attempts, events, notifications, webhooks


def event_row(
    event_id: str,
    *,
    account_id: str,
    event_type: str,
    data: bytes,
    now: int,
    idempotency_key: str | None = None,
    request_hash: str | None = None,
    is_test: bool = False,
    log_id: str | None = None,
) -> dict[str, Any]:
    return {
        "id": event_id,
        "account_id": account_id,
        "event_type": event_type,
        "data": data,
        "idempotency_key": idempotency_key,
        "request_hash": request_hash,
        "is_test": is_test,
        "created_at": now,
        "log_id": log_id,
    }


def notification_rows(
    event_id: str,
    *,
    account_id: str,
    event_type: str,
    webhook_ids: list[str],
    now: int,
    is_test: bool = False,
) -> list[dict[str, Any]]:
    """One notification per webhook, due at once."""
    return [
        {
            "id": new_id("ntf"),
            "account_id": account_id,
            "event_id": event_id,
            "webhook_id": webhook_id,
            "event_type": event_type,
            "is_test": is_test,
            "status": "pending",
            "attempt_count": 0,
            "retry_index": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for webhook_id in webhook_ids
    ]


async def insert_event(
    conn: AsyncConnection,
    *,
    account_id: str,
    event_type: str,
    data: bytes,
    webhook_ids: list[str],
    now: int,
    is_test: bool = False,
    log_id: str | None = None,
) -> tuple[str, list[dict[str, Any]]]:
    """Insert the event and one due notification per webhook; returns their ids. (Publishing
    through the API goes through store/publisher.py, which writes many at once.)"""
    event_id = new_id("evt")
    await conn.execute(
        events.insert().values(
            event_row(
                event_id,
                account_id=account_id,
                event_type=event_type,
                data=data,
                now=now,
                is_test=is_test,
                log_id=log_id,
            )
        )
    )
    rows = notification_rows(
        event_id,
        account_id=account_id,
        event_type=event_type,
        webhook_ids=webhook_ids,
        now=now,
        is_test=is_test,
    )
    if rows:
        await conn.execute(notifications.insert(), rows)
    return event_id, rows


async def by_idempotency_key(conn: AsyncConnection, account_id: str, key: str) -> Row[Any] | None:
    query = events.select().where(
        sa.and_(events.c.account_id == account_id, events.c.idempotency_key == key)
    )
    return (await conn.execute(query)).first()


async def notifications_of(conn: AsyncConnection, event_id: str) -> list[Row[Any]]:
    query = (
        notifications.select()
        .where(notifications.c.event_id == event_id)
        .order_by(notifications.c.id)
    )
    return list((await conn.execute(query)).all())


async def attempts_of(
    conn: AsyncConnection, notification_ids: list[str]
) -> dict[str, list[Row[Any]]]:
    """The attempts of each notification, oldest first."""
    if not notification_ids:
        return {}
    query = (
        attempts.select()
        .where(attempts.c.notification_id.in_(notification_ids))
        .order_by(attempts.c.attempted_at, attempts.c.id)
    )
    grouped: dict[str, list[Row[Any]]] = {}
    for row in await conn.execute(query):
        grouped.setdefault(row.notification_id, []).append(row)
    return grouped


OPERATIONAL = ("webhook.disabled", "notification.failed")


async def publish_operational(
    conn: AsyncConnection, account_id: str, event_type: str, data: bytes, now: int
) -> int:
    """Publish one of Tidings' own events to the account's webhooks that subscribed to it by
    name (an empty subscription, meaning "everything", does not include these, so that a
    failing webhook is never told about its own failures). Returns the notifications made."""
    query = sa.select(webhooks.c.id, webhooks.c.event_types).where(
        sa.and_(webhooks.c.account_id == account_id, webhooks.c.status == "Active")
    )
    targets = [r.id for r in (await conn.execute(query)).all() if event_type in r.event_types]
    _event_id, rows = await insert_event(
        conn, account_id=account_id, event_type=event_type, data=data, webhook_ids=targets, now=now
    )
    return len(rows)
