"""Webhooks: a partner's endpoints, always read within one account. Values come in sealed
(secrets encrypted by the caller, see core/sealing.py) and go out as stored."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.store.owned import Owned
from tidings.store.paging import fetch_page
from tidings.store.tables import webhooks

_rows = Owned(webhooks)
get = _rows.get
insert = _rows.insert
update = _rows.update
delete = _rows.delete


async def exists(conn: AsyncConnection, webhook_id: str) -> bool:
    query = sa.select(webhooks.c.id).where(webhooks.c.id == webhook_id)
    return (await conn.execute(query)).first() is not None


async def page(
    conn: AsyncConnection,
    account_id: str,
    *,
    status: str | None = None,
    category: str | None = None,
    categories: list[str] | None = None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Row[Any]], str | None]:
    """``categories``: only webhooks of these (a category-limited key's view). Listener
    connections (``tidings listen``) are not listed."""
    query = _rows.listing(account_id, categories).where(webhooks.c.listener_id.is_(None))
    if status is not None:
        query = query.where(webhooks.c.status == status)
    if category is not None:
        query = query.where(webhooks.c.category == category)
    return await fetch_page(conn, query, webhooks.c.id, limit, cursor)


async def urls(conn: AsyncConnection, account_id: str) -> list[tuple[str, str]]:
    """Each webhook of the account: its id and URL."""
    query = sa.select(webhooks.c.id, webhooks.c.url).where(webhooks.c.account_id == account_id)
    return [(row.id, row.url) for row in await conn.execute(query)]


async def count(conn: AsyncConnection, account_id: str) -> int:
    query = (
        sa.select(sa.func.count()).select_from(webhooks).where(webhooks.c.account_id == account_id)
    )
    return int((await conn.execute(query)).scalar_one())


async def disable_all(conn: AsyncConnection, account_id: str, reason: str, now: int) -> None:
    values = {"status": "Disabled", "disabled_reason": reason, "updated_at": now}
    await _rows.disable_all(conn, account_id, values)


async def active_rows(conn: AsyncConnection, account_id: str) -> list[Any]:
    """The account's Active webhooks: id, subscribed event types, category and ordering."""
    query = sa.select(
        webhooks.c.id, webhooks.c.event_types, webhooks.c.category, webhooks.c.ordered
    ).where(sa.and_(webhooks.c.account_id == account_id, webhooks.c.status == "Active"))
    return list((await conn.execute(query)).all())


async def lock_ordered(conn: AsyncConnection, webhook_ids: list[str]) -> None:
    """Serialize publishing to ordered webhooks, so that event ids (made after the lock) are
    in commit order and a worker never sees a later event before an earlier one commits.
    SQLite's single writer already does this; PostgreSQL takes a transaction-scoped lock."""
    if conn.dialect.name != "postgresql":
        return
    for webhook_id in sorted(webhook_ids):  # one order everywhere: no deadlocks
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext(webhook_id))))


async def batch_after(conn: AsyncConnection, last_id: str, size: int) -> list[Row[Any]]:
    """Every account's webhooks in id order, ``size`` after ``last_id`` (re-encryption)."""
    query = webhooks.select().where(webhooks.c.id > last_id).order_by(webhooks.c.id).limit(size)
    return list((await conn.execute(query)).all())


async def count_all(conn: AsyncConnection) -> int:
    return int((await conn.execute(sa.select(sa.func.count()).select_from(webhooks))).scalar_one())
