"""API keys: stored as a lookup prefix and a hash, never in plaintext."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.core import keys
from tidings.core.ids import new_id
from tidings.store.paging import fetch_page
from tidings.store.tables import api_keys


async def create(
    conn: AsyncConnection,
    *,
    account_id: str | None,
    key_type: str,
    name: str,
    now: int,
    permissions: dict[str, str] | None = None,
    categories: list[str] | None = None,
    expires_at: int | None = None,
    created_by: str | None = None,
    plaintext: str | None = None,
) -> tuple[Row[Any], str]:
    """A new key row and its plaintext, which is never stored."""
    new = keys.from_plaintext(plaintext) if plaintext else keys.generate(key_type)
    key_id = new_id("key")
    await conn.execute(
        api_keys.insert().values(
            id=key_id,
            account_id=account_id,
            type=key_type,
            name=name,
            lookup=new.lookup,
            key_hash=new.key_hash,
            last4=new.last4,
            permissions=permissions,
            categories=categories,
            expires_at=expires_at,
            created_by=created_by,
            created_at=now,
        )
    )
    return await get(conn, key_id), new.plaintext  # type: ignore[return-value]


async def get(conn: AsyncConnection, key_id: str, account_id: str | None = None) -> Row[Any] | None:
    query = api_keys.select().where(api_keys.c.id == key_id)
    if account_id is not None:
        query = query.where(api_keys.c.account_id == account_id)
    return (await conn.execute(query)).first()


async def roll(
    conn: AsyncConnection, old: Row[Any], *, old_expires_at: int, now: int, created_by: str | None
) -> tuple[Row[Any], str]:
    """A new key like ``old``; ``old`` keeps working until ``old_expires_at`` and names the new
    one as its successor."""
    row, plaintext = await create(
        conn,
        account_id=old.account_id,
        key_type=old.type,
        name=old.name,
        now=now,
        permissions=old.permissions,
        categories=old.categories,
        created_by=created_by,
    )
    changes: dict[str, Any] = {"replaced_by": row.id}
    if old.expires_at is None or old.expires_at > old_expires_at:
        changes["expires_at"] = old_expires_at
    await conn.execute(api_keys.update().where(api_keys.c.id == old.id).values(changes))
    return row, plaintext


async def revoke(conn: AsyncConnection, key_id: str, now: int) -> None:
    await conn.execute(
        api_keys.update()
        .where(sa.and_(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)))
        .values(revoked_at=now)
    )


async def find(conn: AsyncConnection, plaintext: str) -> Row[Any] | None:
    """The key row whose hash matches ``plaintext``, compared in constant time."""
    row = (
        await conn.execute(api_keys.select().where(api_keys.c.lookup == keys.lookup_of(plaintext)))
    ).first()
    if row is None or not keys.matches(plaintext, row.key_hash):
        return None
    return row


async def has_operator_key(conn: AsyncConnection) -> bool:
    query = sa.select(sa.func.count()).select_from(api_keys).where(api_keys.c.type == "operator")
    return bool((await conn.execute(query)).scalar_one())


async def page(
    conn: AsyncConnection, account_id: str, limit: int, cursor: str | None
) -> tuple[list[Row[Any]], str | None]:
    query = api_keys.select().where(api_keys.c.account_id == account_id)
    return await fetch_page(conn, query, api_keys.c.id, limit, cursor)


async def of_owner(conn: AsyncConnection, account_id: str | None) -> list[Row[Any]]:
    """An account's keys (None: the operator keys), newest first."""
    owner = api_keys.c.account_id == account_id if account_id else api_keys.c.account_id.is_(None)
    query = api_keys.select().where(owner).order_by(api_keys.c.id.desc())
    return list((await conn.execute(query)).all())


_touch = (
    api_keys.update()
    .where(
        sa.and_(
            api_keys.c.id == sa.bindparam("b_id"),
            sa.or_(
                api_keys.c.last_used_at.is_(None),
                api_keys.c.last_used_at < sa.bindparam("b_at"),
            ),
        )
    )
    .values(last_used_at=sa.bindparam("b_at"))
)


async def touch(conn: AsyncConnection, used: dict[str, int]) -> None:
    """Write ``lastUsedAt`` of many keys at once (never moving one back)."""
    await conn.execute(_touch, [{"b_id": k, "b_at": t} for k, t in used.items()])


async def bootstrap_lock(conn: AsyncConnection) -> None:
    """Processes starting together take turns installing the first operator key."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": BOOTSTRAP_LOCK})


BOOTSTRAP_LOCK = 0x74696469_626F6F
