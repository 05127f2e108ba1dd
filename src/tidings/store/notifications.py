"""Reading notifications and their attempts, always within one account."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.store.event_types import names_in_categories
from tidings.store.paging import fetch_page
from tidings.store.sql import within
from tidings.store.tables import attempts, notifications


def _visible(account_id: str, categories: list[str] | None) -> list[sa.ColumnElement[bool]]:
    conditions = [notifications.c.account_id == account_id]
    if categories is not None:
        conditions.append(
            notifications.c.event_type.in_(names_in_categories(account_id, categories))
        )
    return conditions


async def page(
    conn: AsyncConnection,
    account_id: str,
    *,
    categories: list[str] | None,
    webhook_id: str | None = None,
    status: str | None = None,
    event_type: str | None = None,
    event_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Row[Any]], str | None]:
    conditions = [
        *_visible(account_id, categories),
        *within(notifications.c.created_at, start, end),
    ]
    for column, value in (
        (notifications.c.webhook_id, webhook_id),
        (notifications.c.status, status),
        (notifications.c.event_type, event_type),
        (notifications.c.event_id, event_id),
    ):
        if value is not None:
            conditions.append(column == value)
    query = notifications.select().where(sa.and_(*conditions))
    return await fetch_page(conn, query, notifications.c.id, limit, cursor)


async def get(
    conn: AsyncConnection,
    account_id: str,
    notification_id: str,
    categories: list[str] | None = None,
) -> Row[Any] | None:
    query = notifications.select().where(
        sa.and_(notifications.c.id == notification_id, *_visible(account_id, categories))
    )
    return (await conn.execute(query)).first()


async def attempts_of(conn: AsyncConnection, notification_id: str) -> list[Row[Any]]:
    query = (
        attempts.select()
        .where(attempts.c.notification_id == notification_id)
        .order_by(attempts.c.attempted_at, attempts.c.id)
    )
    return list((await conn.execute(query)).all())
