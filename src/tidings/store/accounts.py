"""Accounts (partners, merchants, tenants) and their API keys."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.core import keys
from tidings.ids import new_id
from tidings.store.tables import accounts, api_keys


async def create_account(conn: AsyncConnection, name: str, now: int) -> Row[Any]:
    account_id = new_id("acc")
    await conn.execute(
        accounts.insert().values(id=account_id, name=name, created_at=now, updated_at=now)
    )
    return await get_account(conn, account_id)  # type: ignore[return-value]


async def get_account(conn: AsyncConnection, account_id: str) -> Row[Any] | None:
    return (await conn.execute(accounts.select().where(accounts.c.id == account_id))).first()


async def create_key(
    conn: AsyncConnection,
    *,
    account_id: str | None,
    key_type: str,
    name: str,
    now: int,
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
            created_at=now,
        )
    )
    row = (await conn.execute(api_keys.select().where(api_keys.c.id == key_id))).one()
    return row, new.plaintext


async def find_key(conn: AsyncConnection, plaintext: str) -> Row[Any] | None:
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
