"""Dashboard users, their invites, and the failed sign-ins that limit guessing."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.core.ids import new_id
from tidings.store.paging import fetch_page
from tidings.store.tables import invites, login_failures, users


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(users.insert().values(**values))


async def get(conn: AsyncConnection, user_id: str) -> Row[Any] | None:
    return (await conn.execute(users.select().where(users.c.id == user_id))).first()


async def by_email(conn: AsyncConnection, email: str) -> Row[Any] | None:
    return (await conn.execute(users.select().where(users.c.email == email))).first()


async def page(
    conn: AsyncConnection, account_id: str, limit: int, cursor: str | None
) -> tuple[list[Row[Any]], str | None]:
    """The account's users, newest first."""
    query = users.select().where(users.c.account_id == account_id)
    return await fetch_page(conn, query, users.c.id, limit, cursor)


async def update(conn: AsyncConnection, user_id: str, values: dict[str, Any]) -> None:
    await conn.execute(users.update().where(users.c.id == user_id).values(**values))


async def use_totp_step(conn: AsyncConnection, user_id: str, step: int, now: int) -> bool:
    """Record ``step`` as used; False when it (or a later one) was used already. One
    conditional UPDATE, so two requests racing with the same code cannot both pass."""
    result = await conn.execute(
        users.update()
        .where(
            sa.and_(
                users.c.id == user_id,
                sa.or_(users.c.totp_last_step.is_(None), users.c.totp_last_step < step),
            )
        )
        .values(totp_last_step=step, updated_at=now)
    )
    return bool(result.rowcount)


async def delete(conn: AsyncConnection, user_id: str) -> None:
    await conn.execute(invites.delete().where(invites.c.user_id == user_id))
    await conn.execute(users.delete().where(users.c.id == user_id))


async def insert_invite(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(invites.insert().values(**values))


async def invite_by_token(conn: AsyncConnection, token_hash: str) -> Row[Any] | None:
    query = invites.select().where(invites.c.token_hash == token_hash)
    return (await conn.execute(query)).first()


async def use_invite(conn: AsyncConnection, invite_id: str, now: int) -> bool:
    """Mark the invite used; False when it already was (single use, even under a race)."""
    result = await conn.execute(
        invites.update()
        .where(sa.and_(invites.c.id == invite_id, invites.c.used_at.is_(None)))
        .values(used_at=now)
    )
    return bool(result.rowcount)


async def record_failure(conn: AsyncConnection, subject: str, now: int) -> None:
    await conn.execute(login_failures.insert().values(id=new_id("lf"), subject=subject, at=now))


async def failures_since(conn: AsyncConnection, subject: str, since: int) -> list[int]:
    """When each failure for ``subject`` since ``since`` happened, oldest first."""
    query = (
        sa.select(login_failures.c.at)
        .where(sa.and_(login_failures.c.subject == subject, login_failures.c.at >= since))
        .order_by(login_failures.c.at)
    )
    return list((await conn.execute(query)).scalars())


async def forget_failures(conn: AsyncConnection, before: int) -> None:
    await conn.execute(login_failures.delete().where(login_failures.c.at < before))


async def sealed_seeds(conn: AsyncConnection) -> list[Row[Any]]:
    """Every user with a TOTP seed: (id, totp_secret), for a master-key rotation."""
    columns = [users.c.id, users.c.totp_secret]
    query = sa.select(*columns).where(users.c.totp_secret.is_not(None))
    return list((await conn.execute(query)).all())
