"""Dashboard sessions and portal links. Only hashes of their tokens are stored."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.store.tables import portal_links, sessions


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(sessions.insert().values(**values))


async def by_token(conn: AsyncConnection, token_hash: str) -> Row[Any] | None:
    query = sessions.select().where(sessions.c.token_hash == token_hash)
    return (await conn.execute(query)).first()


async def update(conn: AsyncConnection, session_id: str, values: dict[str, Any]) -> None:
    await conn.execute(sessions.update().where(sessions.c.id == session_id).values(**values))


async def delete(conn: AsyncConnection, session_id: str) -> None:
    await conn.execute(sessions.delete().where(sessions.c.id == session_id))


async def delete_of_user(conn: AsyncConnection, user_id: str) -> None:
    await conn.execute(sessions.delete().where(sessions.c.user_id == user_id))


async def delete_idle(conn: AsyncConnection, seen_before: int) -> None:
    await conn.execute(sessions.delete().where(sessions.c.last_seen_at < seen_before))


async def insert_link(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(portal_links.insert().values(**values))


async def link_by_token(conn: AsyncConnection, token_hash: str) -> Row[Any] | None:
    query = portal_links.select().where(portal_links.c.token_hash == token_hash)
    return (await conn.execute(query)).first()


async def use_link(conn: AsyncConnection, link_id: str, now: int) -> bool:
    """Mark the link used; False when it already was (single use, even under a race)."""
    result = await conn.execute(
        portal_links.update()
        .where(sa.and_(portal_links.c.id == link_id, portal_links.c.used_at.is_(None)))
        .values(used_at=now)
    )
    return bool(result.rowcount)
