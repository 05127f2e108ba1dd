"""The event-type catalog: the operator's (seen by every account) and each account's own.

An operator acting for no account edits the operator's catalog; account keys (or an operator
acting for an account) edit that account's own types, and cannot change the catalog's."""

from __future__ import annotations

import re
from typing import Any

from tidings.core import routing
from tidings.core.access import Caller
from tidings.core.clock import to_iso
from tidings.core.errors import DomainError, invalid, not_found
from tidings.core.ids import new_id
from tidings.core.schemas import schema_problem
from tidings.runtime.context import Context
from tidings.store import event_types as store
from tidings.store.db import Connection

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,255}$"


def view(row: Any) -> dict[str, Any]:
    return {
        "name": row.name,
        "category": row.category,
        "description": row.description,
        "schema": row.schema,
        "archived": row.archived,
        "scope": "global" if row.scope == store.GLOBAL else "account",
        "created_at": to_iso(row.created_at),
        "updated_at": to_iso(row.updated_at),
    }


def check_schema(schema: dict[str, Any] | None) -> None:
    if schema is not None:
        problem = schema_problem(schema)
        if problem:
            raise invalid("schema", f"not a valid JSON Schema (draft 2020-12): {problem}")


def _scope(caller: Caller) -> str:
    return caller.account_id or store.GLOBAL


async def _own(conn: Connection, caller: Caller, name: str) -> Any:
    """The type ``name`` that ``caller`` may change; a catalog type is read-only to accounts."""
    row = await store.find(conn, caller.account_id, name)
    if row is None:
        raise not_found("event type", name)
    if row.scope != _scope(caller):
        raise DomainError(403, f"event type {name!r} belongs to the operator's catalog")
    return row


async def _insert(
    conn: Connection, caller: Caller, name: str, fields: dict[str, Any], now: int
) -> None:
    await store.insert(
        conn,
        {
            "id": new_id("et"),
            "scope": _scope(caller),
            "name": name,
            "category": fields.get("category"),
            "description": fields.get("description"),
            "schema": fields.get("schema"),
            "archived": fields.get("archived", False),
            "created_at": now,
            "updated_at": now,
        },
    )


async def create(ctx: Context, caller: Caller, name: str, fields: dict[str, Any]) -> dict[str, Any]:
    caller.require("event_types", "write")
    check_schema(fields.get("schema"))
    async with ctx.db.write() as conn:
        if await store.find(conn, caller.account_id, name) is not None:
            raise DomainError(409, f"event type {name!r} already exists", field="name")
        await _insert(conn, caller, name, fields, ctx.clock.now())
        row = await store.find(conn, caller.account_id, name)
    ctx.routes.changed()
    return view(row)


async def page(
    ctx: Context,
    caller: Caller,
    *,
    category: str | None = None,
    include_archived: bool = False,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    caller.require("event_types", "read")
    async with ctx.db.read() as conn:
        rows, next_cursor = await store.page(
            conn,
            caller.account_id,
            category=category,
            include_archived=include_archived,
            limit=limit,
            cursor=cursor,
        )
    return [view(r) for r in rows], next_cursor


async def get(ctx: Context, caller: Caller, name: str) -> dict[str, Any]:
    caller.require("event_types", "read")
    async with ctx.db.read() as conn:
        row = await store.find(conn, caller.account_id, name)
    if row is None:
        raise not_found("event type", name)
    return view(row)


async def replace(
    ctx: Context, caller: Caller, name: str, fields: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    """Replace every field; creates the type when it does not exist yet. Returns the type and
    whether it was created."""
    caller.require("event_types", "write")
    if fields.get("name") is not None and fields["name"] != name:
        raise invalid("name", "name in the body differs from the name in the path")
    check_schema(fields.get("schema"))
    now = ctx.clock.now()
    created = False
    async with ctx.db.write() as conn:
        if await store.find(conn, caller.account_id, name) is None:
            if re.fullmatch(NAME_PATTERN, name) is None:
                raise invalid("name", "invalid event type name")
            await _insert(conn, caller, name, fields, now)
            created = True
        else:
            row = await _own(conn, caller, name)
            await store.update(
                conn,
                row.id,
                {
                    "category": fields.get("category"),
                    "description": fields.get("description"),
                    "schema": fields.get("schema"),
                    "archived": fields.get("archived", False),
                    "updated_at": now,
                },
            )
        row = await _own(conn, caller, name)
    ctx.routes.changed()
    return view(row), created


async def patch(ctx: Context, caller: Caller, name: str, changes: dict[str, Any]) -> dict[str, Any]:
    caller.require("event_types", "write")
    if "archived" in changes and changes["archived"] is None:
        raise invalid("archived", "archived must be true or false")
    if "schema" in changes:
        check_schema(changes["schema"])
    async with ctx.db.write() as conn:
        row = await _own(conn, caller, name)
        if changes:
            await store.update(conn, row.id, {**changes, "updated_at": ctx.clock.now()})
        row = await _own(conn, caller, name)
    ctx.routes.changed()
    return view(row)


async def archive(ctx: Context, caller: Caller, name: str) -> None:
    """Archive the type: it leaves the list and cannot be published; a patch with archived
    false brings it back."""
    caller.require("event_types", "write")
    async with ctx.db.write() as conn:
        row = await _own(conn, caller, name)
        await store.update(conn, row.id, {"archived": True, "updated_at": ctx.clock.now()})
    ctx.routes.changed()


async def require_type(
    ctx: Context, account_id: str, name: str, category: str | None, field: str = "eventType"
) -> Any:
    """The type ``name`` as the account sees it, for an endpoint of ``category``; a 422 naming
    ``field`` when it does not exist or belongs to another category."""
    found = await ctx.routes.event_type(ctx.db, account_id, name)
    if found is None:
        raise invalid(field, f"{field}: event type {name!r} does not exist")
    # An uncategorised type belongs to no other category: any endpoint may take it.
    if category is not None and found.category is not None and found.category != category:
        raise invalid(
            field,
            f"{field}: event type {name!r} is of category {found.category!r}, not {category!r}",
        )
    return found


async def check_subscription(
    ctx: Context, account_id: str, entries: list[str], category: str | None
) -> None:
    """An endpoint's ``eventTypes``: each names an existing type (of the endpoint's category,
    when it has one) or is a ``prefix.*`` pattern; else a 422 naming ``eventTypes[i]``."""
    for index, entry in enumerate(entries):
        if routing.is_pattern(entry):
            continue
        await require_type(ctx, account_id, entry, category, field=f"eventTypes[{index}]")
