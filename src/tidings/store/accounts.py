"""Accounts: the operator's partners (merchants, tenants)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.core.ids import new_id
from tidings.store.paging import fetch_page
from tidings.store.tables import accounts


async def create(conn: AsyncConnection, name: str, now: int) -> Row[Any]:
    account_id = new_id("acc")
    await conn.execute(
        accounts.insert().values(id=account_id, name=name, created_at=now, updated_at=now)
    )
    return await get(conn, account_id)  # type: ignore[return-value]


async def get(conn: AsyncConnection, account_id: str) -> Row[Any] | None:
    """The account, unless it does not exist or was deleted."""
    query = accounts.select().where(
        sa.and_(accounts.c.id == account_id, accounts.c.deleted_at.is_(None))
    )
    return (await conn.execute(query)).first()


async def page(
    conn: AsyncConnection, limit: int, cursor: str | None
) -> tuple[list[Row[Any]], str | None]:
    return await fetch_page(conn, accounts.select(), accounts.c.id, limit, cursor)


async def all_active(conn: AsyncConnection) -> list[Row[Any]]:
    """Every account not deleted, newest first."""
    query = accounts.select().where(accounts.c.deleted_at.is_(None))
    return list((await conn.execute(query.order_by(accounts.c.id.desc()))).all())


async def rename(conn: AsyncConnection, account_id: str, name: str, now: int) -> None:
    await conn.execute(
        accounts.update().where(accounts.c.id == account_id).values(name=name, updated_at=now)
    )


async def mark_deleted(conn: AsyncConnection, account_id: str, now: int) -> None:
    await conn.execute(
        accounts.update().where(accounts.c.id == account_id).values(deleted_at=now, updated_at=now)
    )
