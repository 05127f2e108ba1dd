"""Webhooks: a partner's endpoints, always read within one account."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.store.tables import webhooks


async def get(conn: AsyncConnection, account_id: str, webhook_id: str) -> Row[Any] | None:
    query = webhooks.select().where(
        sa.and_(webhooks.c.id == webhook_id, webhooks.c.account_id == account_id)
    )
    return (await conn.execute(query)).first()


async def url_taken(
    conn: AsyncConnection, account_id: str, url: str, except_id: str | None = None
) -> bool:
    query = sa.select(webhooks.c.id).where(
        sa.and_(webhooks.c.account_id == account_id, webhooks.c.url == url)
    )
    if except_id:
        query = query.where(webhooks.c.id != except_id)
    return (await conn.execute(query)).first() is not None


async def active_rows(conn: AsyncConnection, account_id: str) -> list[Any]:
    """The account's Active webhooks: id, subscribed event types (empty: all) and ordering."""
    query = sa.select(webhooks.c.id, webhooks.c.event_types, webhooks.c.ordered).where(
        sa.and_(webhooks.c.account_id == account_id, webhooks.c.status == "Active")
    )
    return list((await conn.execute(query)).all())


async def active_for(conn: AsyncConnection, account_id: str, event_type: str) -> list[Row[Any]]:
    """The account's Active webhooks subscribed to ``event_type`` (an empty list means all)."""
    rows = await active_rows(conn, account_id)
    return [r for r in rows if not r.event_types or event_type in r.event_types]


async def count(conn: AsyncConnection, account_id: str) -> int:
    query = (
        sa.select(sa.func.count()).select_from(webhooks).where(webhooks.c.account_id == account_id)
    )
    return int((await conn.execute(query)).scalar_one())


async def lock_ordered(conn: AsyncConnection, webhook_ids: list[str]) -> None:
    """Serialize publishing to ordered webhooks, so that event ids (made after the lock) are
    in commit order and a worker never sees a later event before an earlier one commits.
    SQLite's single writer already does this; PostgreSQL takes a transaction-scoped lock."""
    if conn.dialect.name != "postgresql":
        return
    for webhook_id in sorted(webhook_ids):  # one order everywhere: no deadlocks
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(webhook_id))))
