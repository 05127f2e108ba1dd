"""API keys: made, rolled and revoked by the API and the command line alike. The plaintext is
shown once, in the create (or roll) answer; a key never grants more than the key that made
it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tidings.core import permissions
from tidings.core.access import Caller
from tidings.core.clock import MICROS, from_datetime, to_iso
from tidings.core.errors import DomainError, invalid, not_found
from tidings.core.key_status import key_status
from tidings.runtime.context import Context
from tidings.store import accounts as account_store
from tidings.store import keys as store
from tidings.store.db import Connection


def view(ctx: Context, row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "account_id": row.account_id,
        "name": row.name,
        "type": row.type,
        "permissions": permissions.effective(row.type, row.permissions),
        "categories": row.categories,
        "prefix": row.lookup.split("_", 1)[0] + "_",
        "last4": row.last4,
        "created_at": to_iso(row.created_at),
        "last_used_at": to_iso(ctx.key_usage.last_used(row.id, row.last_used_at)),
        "expires_at": to_iso(row.expires_at),
        "revoked_at": to_iso(row.revoked_at),
        "replaced_by": row.replaced_by,
        "status": key_status(row.revoked_at, row.expires_at, ctx.clock.now()),
    }


def _shape(key_type: str, wanted: dict[str, str] | None, categories: list[str] | None) -> None:
    """Permissions and categories belong to restricted keys, which need permissions."""
    if key_type not in permissions.KEY_TYPES:
        raise invalid("type", "type must be secret, restricted or publishable")
    if key_type != "restricted":
        for field, value in (("permissions", wanted), ("categories", categories)):
            if value is not None:
                raise invalid(field, f"{field} apply to restricted keys only")
    elif wanted is None:
        raise invalid("permissions", "a restricted key needs permissions")
    for resource, level in (wanted or {}).items():
        if resource not in permissions.RESOURCES:
            raise invalid(f"permissions.{resource}", f"permissions: unknown resource {resource!r}")
        if level not in permissions.LEVELS:
            raise invalid(
                f"permissions.{resource}", f"permissions.{resource}: must be none, read or write"
            )


def check_grant(
    caller: Caller, key_type: str, wanted: dict[str, str] | None, categories: list[str] | None
) -> None:
    """403 when the new key would hold more than the caller's own key."""
    beyond = permissions.exceeds(
        permissions.effective(key_type, wanted), categories, caller.permissions, caller.categories
    )
    if beyond:
        raise DomainError(
            403,
            f"a key cannot grant more than the key that creates it: this one lacks {beyond}",
            details=[{"field": "permissions", "message": beyond}],
        )


def _owner(caller: Caller) -> str | None:
    """Whose keys: the caller's account; None (every key) only for the operator acting for
    no account."""
    if caller.account_id is None and not caller.is_operator:
        raise DomainError(400, "this call acts for an account", field="Tidings-Account")
    return caller.account_id


async def create(
    ctx: Context,
    caller: Caller,
    *,
    name: str = "",
    key_type: str = "secret",
    wanted: dict[str, str] | None = None,
    categories: list[str] | None = None,
    expires_at: datetime | None = None,
) -> tuple[dict[str, Any], str]:
    """A new key of the caller's account; its view and its plaintext, shown once."""
    caller.require("api_keys", "write")
    _shape(key_type, wanted, categories)
    account_id = _owner(caller)
    if account_id is None:
        raise DomainError(400, "a key belongs to an account", field="Tidings-Account")
    check_grant(caller, key_type, wanted, categories)
    return await _create(ctx, caller, account_id, key_type, name, wanted, categories, expires_at)


async def create_operator(
    ctx: Context, caller: Caller, *, name: str = "", expires_at: datetime | None = None
) -> tuple[dict[str, Any], str]:
    """A new operator key (acting for every account), by the operator only."""
    caller.require_operator()
    return await _create(ctx, caller, None, "operator", name, None, None, expires_at)


async def _create(
    ctx: Context,
    caller: Caller,
    account_id: str | None,
    key_type: str,
    name: str,
    wanted: dict[str, str] | None,
    categories: list[str] | None,
    expires_at: datetime | None,
) -> tuple[dict[str, Any], str]:
    now = ctx.clock.now()
    expires = from_datetime(expires_at) if expires_at else None
    if expires is not None and expires <= now:
        raise invalid("expiresAt", "expiresAt must be in the future")
    async with ctx.db.write() as conn:
        if account_id is not None and await account_store.get(conn, account_id) is None:
            raise not_found("account", account_id)
        row, plaintext = await store.create(
            conn,
            account_id=account_id,
            key_type=key_type,
            name=name,
            now=now,
            permissions=wanted,
            categories=categories,
            expires_at=expires,
            created_by=caller.key_id,
        )
    return view(ctx, row), plaintext


async def page(
    ctx: Context, caller: Caller, *, limit: int, cursor: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    caller.require("api_keys", "read")
    account_id = caller.account_id
    if account_id is None:
        raise DomainError(400, "this call acts for an account", field="Tidings-Account")
    async with ctx.db.read() as conn:
        rows, next_cursor = await store.page(conn, account_id, limit, cursor)
    return [view(ctx, r) for r in rows], next_cursor


async def of_owner(ctx: Context, caller: Caller, account_id: str | None) -> list[dict[str, Any]]:
    """Every key of an account, or the operator keys (None), newest first: the operator's
    command line."""
    caller.require_operator()
    async with ctx.db.read() as conn:
        rows = await store.of_owner(conn, account_id)
    return [view(ctx, r) for r in rows]


async def _existing(conn: Connection, caller: Caller, key_id: str) -> Any:
    row = await store.get(conn, key_id, _owner(caller))
    if row is None:
        raise not_found("API key", key_id)
    return row


async def get(ctx: Context, caller: Caller, key_id: str) -> dict[str, Any]:
    caller.require("api_keys", "read")
    async with ctx.db.read() as conn:
        return view(ctx, await _existing(conn, caller, key_id))


async def roll(
    ctx: Context, caller: Caller, key_id: str, expires_in: float
) -> tuple[dict[str, Any], str]:
    """A new key with the same type and permissions. The old one keeps working for
    ``expires_in`` seconds, then answers 401 saying it expired."""
    caller.require("api_keys", "write")
    now = ctx.clock.now()
    async with ctx.db.write() as conn:
        old = await _existing(conn, caller, key_id)
        if old.revoked_at is not None:
            raise DomainError(409, "a revoked key cannot be rolled")
        if old.replaced_by is not None:
            raise DomainError(
                409,
                f"this key was already rolled: its successor is {old.replaced_by}; roll that one",
                details=[{"field": "replacedBy", "message": old.replaced_by}],
            )
        check_grant(caller, old.type, old.permissions, old.categories)
        row, plaintext = await store.roll(
            conn,
            old,
            old_expires_at=now + int(expires_in * MICROS),
            now=now,
            created_by=caller.key_id,
        )
    ctx.keys.changed()  # the old key's expiry is new
    return view(ctx, row), plaintext


async def revoke(ctx: Context, caller: Caller, key_id: str) -> None:
    """Revoke the key at once: every later request with it answers 401."""
    caller.require("api_keys", "write")
    async with ctx.db.write() as conn:
        await _existing(conn, caller, key_id)
        await store.revoke(conn, key_id, ctx.clock.now())
    ctx.keys.changed()
