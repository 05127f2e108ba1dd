"""Accounts (partners, merchants, tenants) and their API keys."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.core import keys
from tidings.ids import new_id
from tidings.store.tables import accounts, api_keys, notifications, webhooks


async def create_account(conn: AsyncConnection, name: str, now: int) -> Row[Any]:
    account_id = new_id("acc")
    await conn.execute(
        accounts.insert().values(id=account_id, name=name, created_at=now, updated_at=now)
    )
    return await get_account(conn, account_id)  # type: ignore[return-value]


async def get_account(conn: AsyncConnection, account_id: str) -> Row[Any] | None:
    """The account, unless it does not exist or was deleted."""
    query = accounts.select().where(
        sa.and_(accounts.c.id == account_id, accounts.c.deleted_at.is_(None))
    )
    return (await conn.execute(query)).first()


async def create_key(
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
    return await get_key(conn, key_id), new.plaintext  # type: ignore[return-value]


async def get_key(
    conn: AsyncConnection, key_id: str, account_id: str | None = None
) -> Row[Any] | None:
    query = api_keys.select().where(api_keys.c.id == key_id)
    if account_id is not None:
        query = query.where(api_keys.c.account_id == account_id)
    return (await conn.execute(query)).first()


async def roll_key(
    conn: AsyncConnection, old: Row[Any], *, old_expires_at: int, now: int, created_by: str | None
) -> tuple[Row[Any], str]:
    """A new key like ``old``; ``old`` keeps working until ``old_expires_at``."""
    if old.expires_at is None or old.expires_at > old_expires_at:
        await conn.execute(
            api_keys.update().where(api_keys.c.id == old.id).values(expires_at=old_expires_at)
        )
    return await create_key(
        conn,
        account_id=old.account_id,
        key_type=old.type,
        name=old.name,
        now=now,
        permissions=old.permissions,
        categories=old.categories,
        created_by=created_by,
    )


async def revoke_key(conn: AsyncConnection, key_id: str, now: int) -> None:
    await conn.execute(
        api_keys.update()
        .where(sa.and_(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None)))
        .values(revoked_at=now)
    )


# A key that stops working within this window (as a rolled key does) is "expiring".
EXPIRING_WINDOW = 7 * 86400 * 1_000_000


def key_status(row: Row[Any], now: int) -> str:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None:
        if row.expires_at <= now:
            return "expired"
        if row.expires_at - now <= EXPIRING_WINDOW:
            return "expiring"
    return "active"


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


async def delete_account(conn: AsyncConnection, account_id: str, now: int) -> None:
    """Mark the account deleted, disable its webhooks and end its pending notifications."""
    await conn.execute(
        accounts.update().where(accounts.c.id == account_id).values(deleted_at=now, updated_at=now)
    )
    await conn.execute(
        webhooks.update()
        .where(sa.and_(webhooks.c.account_id == account_id, webhooks.c.status == "Active"))
        .values(status="Disabled", disabled_reason="account deleted", updated_at=now)
    )
    await conn.execute(
        notifications.update()
        .where(
            sa.and_(notifications.c.account_id == account_id, notifications.c.status == "pending")
        )
        .values(
            status="failed",
            next_attempt_at=None,
            leased_by=None,
            last_error="account deleted",
            updated_at=now,
        )
    )
