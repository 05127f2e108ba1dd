"""The webhooks ``tidings listen`` connections are (``webhooks.listener_id`` set)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.store.tables import webhooks


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(webhooks.insert().values(values))


async def of_listener(conn: AsyncConnection, account_id: str, listener_id: str) -> Row[Any] | None:
    query = webhooks.select().where(
        sa.and_(webhooks.c.account_id == account_id, webhooks.c.listener_id == listener_id)
    )
    return (await conn.execute(query)).first()


async def touch(conn: AsyncConnection, webhook_id: str, now: int) -> None:
    """The listener is still there (``updated_at`` is its last sign of life)."""
    await conn.execute(webhooks.update().where(webhooks.c.id == webhook_id).values(updated_at=now))


async def stale(conn: AsyncConnection, account_id: str | None, before: int) -> list[str]:
    """Listener webhooks (of one account, or all) not seen since ``before``."""
    query = sa.select(webhooks.c.id).where(
        sa.and_(webhooks.c.listener_id.is_not(None), webhooks.c.updated_at < before)
    )
    if account_id is not None:
        query = query.where(webhooks.c.account_id == account_id)
    return list((await conn.execute(query)).scalars())


async def delete(conn: AsyncConnection, webhook_id: str) -> None:
    await conn.execute(webhooks.delete().where(webhooks.c.id == webhook_id))
