"""Sources: inbound endpoints partners push to, always read within one account (except by
id from the ingest URL, which names no account)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.store.paging import fetch_page
from tidings.store.tables import sources


async def get(conn: AsyncConnection, account_id: str, source_id: str) -> Row[Any] | None:
    query = sources.select().where(
        sa.and_(sources.c.id == source_id, sources.c.account_id == account_id)
    )
    return (await conn.execute(query)).first()


async def by_id(conn: AsyncConnection, source_id: str) -> Row[Any] | None:
    """The source an ingest URL names, whichever account it belongs to."""
    return (await conn.execute(sources.select().where(sources.c.id == source_id))).first()


async def page(
    conn: AsyncConnection,
    account_id: str,
    *,
    categories: list[str] | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Row[Any]], str | None]:
    query = sources.select().where(sources.c.account_id == account_id)
    if categories is not None:
        query = query.where(sources.c.category.in_(categories))
    return await fetch_page(conn, query, sources.c.id, limit, cursor)


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(sources.insert().values(values))


async def update(conn: AsyncConnection, source_id: str, values: dict[str, Any]) -> None:
    await conn.execute(sources.update().where(sources.c.id == source_id).values(values))


async def delete(conn: AsyncConnection, source_id: str) -> None:
    await conn.execute(sources.delete().where(sources.c.id == source_id))
