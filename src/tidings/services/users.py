"""Dashboard users: invited by email (a single-use link, 72 h), who set their password on the
invite page. Users of an account act for it; operator users pick the account from a switcher."""

from __future__ import annotations

import re
from typing import Any

from tidings.core import passwords
from tidings.core.access import Access, Caller
from tidings.core.clock import MICROS, to_iso
from tidings.core.errors import DomainError, invalid, not_found
from tidings.core.ids import new_id
from tidings.core.tokens import hash_token, new_token
from tidings.runtime.context import Context
from tidings.store import accounts as account_store
from tidings.store import sessions as session_store
from tidings.store import users as store
from tidings.store.db import is_conflict

INVITE_SECONDS = 72 * 3600
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "account_id": row.account_id,
        "email": row.email,
        "operator": row.account_id is None,
        "status": "active" if row.password_hash else "invited",
        "two_factor_enabled": row.totp_enabled_at is not None,
        "created_at": to_iso(row.created_at),
        "updated_at": to_iso(row.updated_at),
    }


def normal_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > 320 or not _EMAIL.match(email):
        raise invalid("email", "email must be an address such as name@example.com")
    return email


def invite_url(ctx: Context, token: str) -> str:
    return f"{ctx.settings.public_base()}/dashboard/invite/{token}"


async def invite(
    ctx: Context, caller: Caller, email: str, account_id: str | None
) -> dict[str, Any]:
    """A new user of ``account_id`` (None: an operator user, by the operator only), and the
    invite link that sets its password (in ``invite_url``, shown once)."""
    caller.require("users", "write")
    if account_id is None:
        caller.require_operator()
    elif caller.account_id != account_id and not caller.is_operator:
        raise not_found("account", account_id)
    address = normal_email(email)
    now = ctx.clock.now()
    user_id = new_id("usr")
    token = new_token()
    try:
        async with ctx.db.write() as conn:
            if account_id is not None and await account_store.get(conn, account_id) is None:
                raise not_found("account", account_id)
            if await store.by_email(conn, address) is not None:
                raise _taken(address)
            await store.insert(
                conn,
                {
                    "id": user_id,
                    "account_id": account_id,
                    "email": address,
                    "created_at": now,
                    "updated_at": now,
                },
            )
            await store.insert_invite(
                conn,
                {
                    "id": new_id("inv"),
                    "token_hash": hash_token(token),
                    "user_id": user_id,
                    "created_at": now,
                    "expires_at": now + INVITE_SECONDS * MICROS,
                },
            )
            row = await store.get(conn, user_id)
    except Exception as exc:
        if is_conflict(exc):
            raise _taken(address) from None
        raise
    return {
        **view(row),
        "invite_url": invite_url(ctx, token),
        "invite_expires_at": to_iso(now + INVITE_SECONDS * MICROS),
    }


def _taken(email: str) -> DomainError:
    return DomainError(409, f"a user with the email {email!r} exists already", field="email")


async def page(
    ctx: Context, access: Access, *, limit: int, cursor: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    access.caller.require("users", "read")
    async with ctx.db.read() as conn:
        rows, next_cursor = await store.page(conn, access.account_id, limit, cursor)
    return [view(r) for r in rows], next_cursor


async def _existing(conn: Any, access: Access, user_id: str) -> Any:
    row = await store.get(conn, user_id)
    if row is None or row.account_id != access.account_id:
        raise not_found("user", user_id)
    return row


async def get(ctx: Context, access: Access, user_id: str) -> dict[str, Any]:
    access.caller.require("users", "read")
    async with ctx.db.read() as conn:
        return view(await _existing(conn, access, user_id))


async def delete(ctx: Context, access: Access, user_id: str) -> None:
    """Delete the user; its sessions end at once."""
    access.caller.require("users", "write")
    async with ctx.db.write() as conn:
        await _existing(conn, access, user_id)
        await session_store.delete_of_user(conn, user_id)
        await store.delete(conn, user_id)


async def _live_invite(conn: Any, ctx: Context, token: str) -> Any:
    invite_row = await store.invite_by_token(conn, hash_token(token))
    if invite_row is None or invite_row.used_at is not None:
        raise DomainError(404, "this invite link is not valid or was used already")
    if invite_row.expires_at <= ctx.clock.now():
        raise DomainError(410, "this invite link has expired: ask for a new one")
    return invite_row


async def invite_email(ctx: Context, token: str) -> str:
    """The address an unused, unexpired invite is for (else 404 or 410)."""
    async with ctx.db.read() as conn:
        invite_row = await _live_invite(conn, ctx, token)
        user = await store.get(conn, invite_row.user_id)
    if user is None:
        raise DomainError(404, "this invite link is not valid or was used already")
    return str(user.email)


def check_password(password: str, confirm: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise invalid("password", f"the password must have at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise invalid("password", f"the password must have at most {MAX_PASSWORD} characters")
    if password != confirm:
        raise invalid("confirm_password", "the two passwords differ")


async def accept_invite(ctx: Context, token: str, password: str, confirm: str) -> str:
    """Set the password of the invited user (the link then stops working); its id."""
    check_password(password, confirm)
    hashed = passwords.hash_password(password)
    now = ctx.clock.now()
    async with ctx.db.write() as conn:
        invite_row = await _live_invite(conn, ctx, token)
        if not await store.use_invite(conn, invite_row.id, now):
            raise DomainError(404, "this invite link is not valid or was used already")
        await store.update(conn, invite_row.user_id, {"password_hash": hashed, "updated_at": now})
    return str(invite_row.user_id)
