"""Accounts: the operator's partners. Only the operator makes, renames and deletes them."""

from __future__ import annotations

from typing import Any

from tidings.core.access import Caller
from tidings.core.clock import to_iso
from tidings.core.errors import invalid, not_found
from tidings.runtime.context import Context
from tidings.store import accounts as store
from tidings.store import pulls as pull_store
from tidings.store import webhooks as webhook_store
from tidings.store.queue import transitions


def view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "created_at": to_iso(row.created_at),
        "updated_at": to_iso(row.updated_at),
    }


def _check_name(name: str) -> None:
    if not name.strip() or len(name) > 200:
        raise invalid("name", "name must be 1 to 200 characters")


async def create(ctx: Context, caller: Caller, name: str) -> dict[str, Any]:
    caller.require_operator()
    _check_name(name)
    async with ctx.db.write() as conn:
        row = await store.create(conn, name, ctx.clock.now())
    return view(row)


async def page(
    ctx: Context, caller: Caller, *, limit: int, cursor: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    caller.require_operator()
    async with ctx.db.read() as conn:
        rows, next_cursor = await store.page(conn, limit, cursor)
    return [view(r) for r in rows], next_cursor


async def active(ctx: Context, caller: Caller) -> list[dict[str, Any]]:
    """Every account not deleted, newest first."""
    caller.require_operator()
    async with ctx.db.read() as conn:
        return [view(r) for r in await store.all_active(conn)]


async def get(ctx: Context, caller: Caller, account_id: str) -> dict[str, Any]:
    caller.require_operator()
    async with ctx.db.read() as conn:
        row = await store.get(conn, account_id)
    if row is None:
        raise not_found("account", account_id)
    return view(row)


async def rename(ctx: Context, caller: Caller, account_id: str, name: str) -> dict[str, Any]:
    caller.require_operator()
    _check_name(name)
    async with ctx.db.write() as conn:
        if await store.get(conn, account_id) is None:
            raise not_found("account", account_id)
        await store.rename(conn, account_id, name, ctx.clock.now())
        row = await store.get(conn, account_id)
    return view(row)


async def delete(ctx: Context, caller: Caller, account_id: str) -> None:
    """Delete the account: its keys stop working at once and nothing more is delivered for
    it (its webhooks and pulls are disabled, its pending notifications end). Its records stay in the
    store until retention removes them."""
    caller.require_operator()
    now = ctx.clock.now()
    async with ctx.db.write() as conn:
        if await store.get(conn, account_id) is None:
            raise not_found("account", account_id)
        # Notification rows before webhook rows (store/queue/transitions.py).
        await transitions.end_pending(
            conn, account_id=account_id, reason="account deleted", now=now
        )
        await store.mark_deleted(conn, account_id, now)
        await webhook_store.disable_all(conn, account_id, "account deleted", now)
        await pull_store.disable_all(conn, account_id, "account deleted", now)
    ctx.keys.changed()
    ctx.routes.changed()
