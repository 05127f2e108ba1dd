"""``/v1/event-types``: the catalog of what can be published, with optional JSON Schemas.

An operator key without ``Tidings-Account`` edits the operator's catalog, which every account
sees; account keys (or an operator acting for an account) edit that account's own types."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import Field, field_validator
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.api.deps import Caller, Ctx, allow_any_scope
from tidings.api.errors import ApiError, not_found
from tidings.api.model import ApiModel, ApiOut, NotNull, Page
from tidings.core.clock import to_iso
from tidings.core.schemas import schema_problem
from tidings.ids import new_id
from tidings.store import event_types as store
from tidings.store.paging import DEFAULT_LIMIT, MAX_LIMIT, fetch_page
from tidings.store.tables import event_types

router = APIRouter(prefix="/v1/event-types", tags=["event types"])

# The catalog is public data: publishable keys read it too.
Read = Annotated[Caller, Depends(allow_any_scope("event_types", "read"))]
Write = Annotated[Caller, Depends(allow_any_scope("event_types", "write"))]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,255}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, description="e.g. payment.updated")]


def _check_schema(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None:
        problem = schema_problem(value)
        if problem:
            raise ValueError(f"not a valid JSON Schema (draft 2020-12): {problem}")
    return value


class EventTypeFields(ApiModel):
    category: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")

    _schema_ok = field_validator("schema_")(_check_schema)


class EventTypeIn(EventTypeFields):
    name: Name


class EventTypeReplace(EventTypeFields):
    name: Name | None = None
    archived: bool = False


class EventTypePatch(ApiModel):
    category: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    archived: Annotated[bool | None, NotNull] = None

    _schema_ok = field_validator("schema_")(_check_schema)


class EventTypeOut(ApiOut):
    name: str
    category: str | None
    description: str | None
    schema_: dict[str, Any] | None = Field(alias="schema")
    archived: bool
    scope: str = Field(description="'global' for the operator's catalog, else 'account'")
    created_at: str
    updated_at: str


def _out(row: Row[Any]) -> EventTypeOut:
    return EventTypeOut(
        name=row.name,
        category=row.category,
        description=row.description,
        schema=row.schema,
        archived=row.archived,
        scope="global" if row.scope == store.GLOBAL else "account",
        created_at=to_iso(row.created_at),
        updated_at=to_iso(row.updated_at),
    )


def _scope(caller: Caller) -> str:
    return caller.account_id or store.GLOBAL


async def _own(conn: AsyncConnection, caller: Caller, name: str) -> Row[Any]:
    """The type ``name`` that ``caller`` may change; a catalog type is read-only to accounts."""
    row = await store.find(conn, caller.account_id, name)
    if row is None:
        raise not_found("event type", name)
    if row.scope != _scope(caller):
        raise ApiError(403, f"event type {name!r} belongs to the operator's catalog")
    return row


@router.post(
    "",
    status_code=201,
    response_model=EventTypeOut,
    responses={409: {"description": "An event type of this name exists"}},
)
async def create_event_type(body: EventTypeIn, ctx: Ctx, caller: Write) -> EventTypeOut:
    now = ctx.clock.now()
    async with ctx.db.write() as conn:
        if await store.find(conn, caller.account_id, body.name) is not None:
            raise ApiError(409, f"event type {body.name!r} already exists", field="name")
        await _insert(conn, _scope(caller), body.name, body, now)
        row = await store.find(conn, caller.account_id, body.name)
    assert row is not None
    return _out(row)


async def _insert(
    conn: AsyncConnection, scope: str, name: str, body: EventTypeFields, now: int
) -> None:
    await conn.execute(
        event_types.insert().values(
            id=new_id("et"),
            scope=scope,
            name=name,
            category=body.category,
            description=body.description,
            schema=body.schema_,
            archived=getattr(body, "archived", False),
            created_at=now,
            updated_at=now,
        )
    )


@router.get("", response_model=Page[EventTypeOut])
async def list_event_types(
    ctx: Ctx,
    caller: Read,
    category: str | None = None,
    include_archived: Annotated[bool, Query(alias="includeArchived")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[EventTypeOut]:
    query = event_types.select().where(store.visible_to(caller.account_id))
    if caller.account_id is not None:
        # An account's own type hides the catalog's type of the same name.
        own = event_types.alias("own")
        shadowed = sa.exists().where(
            sa.and_(own.c.scope == caller.account_id, own.c.name == event_types.c.name)
        )
        query = query.where(sa.or_(event_types.c.scope != store.GLOBAL, ~shadowed))
    if category is not None:
        query = query.where(event_types.c.category == category)
    if not include_archived:
        query = query.where(event_types.c.archived == sa.false())
    async with ctx.db.read() as conn:
        rows, next_cursor = await fetch_page(conn, query, event_types.c.id, limit, cursor)
    return Page(data=[_out(r) for r in rows], next_cursor=next_cursor)


PathName = Annotated[str, Path(description="The event type's name")]


@router.get("/{name}", response_model=EventTypeOut)
async def get_event_type(name: PathName, ctx: Ctx, caller: Read) -> EventTypeOut:
    async with ctx.db.read() as conn:
        row = await store.find(conn, caller.account_id, name)
    if row is None:
        raise not_found("event type", name)
    return _out(row)


@router.put(
    "/{name}",
    response_model=EventTypeOut,
    responses={201: {"model": EventTypeOut, "description": "Created"}},
)
async def replace_event_type(
    name: PathName, body: EventTypeReplace, ctx: Ctx, caller: Write, response: Response
) -> EventTypeOut:
    """Replace every field; creates the type when it does not exist yet."""
    if body.name is not None and body.name != name:
        raise ApiError(422, "name in the body differs from the name in the path", field="name")
    now = ctx.clock.now()
    async with ctx.db.write() as conn:
        if await store.find(conn, caller.account_id, name) is None:
            if not _valid_name(name):
                raise ApiError(422, "invalid event type name", field="name")
            await _insert(conn, _scope(caller), name, body, now)
            response.status_code = 201
        else:
            row = await _own(conn, caller, name)
            await conn.execute(
                event_types.update()
                .where(event_types.c.id == row.id)
                .values(
                    category=body.category,
                    description=body.description,
                    schema=body.schema_,
                    archived=body.archived,
                    updated_at=now,
                )
            )
        row = await _own(conn, caller, name)
    return _out(row)


def _valid_name(name: str) -> bool:
    import re

    return re.fullmatch(NAME_PATTERN, name) is not None


@router.patch("/{name}", response_model=EventTypeOut)
async def patch_event_type(
    name: PathName, body: EventTypePatch, ctx: Ctx, caller: Write
) -> EventTypeOut:
    changes: dict[str, Any] = {}
    for field in body.model_fields_set:
        changes["schema" if field == "schema_" else field] = getattr(body, field)
    if "archived" in changes and changes["archived"] is None:
        raise ApiError(422, "archived must be true or false", field="archived")
    async with ctx.db.write() as conn:
        row = await _own(conn, caller, name)
        if changes:
            changes["updated_at"] = ctx.clock.now()
            await conn.execute(
                event_types.update().where(event_types.c.id == row.id).values(**changes)
            )
        row = await _own(conn, caller, name)
    return _out(row)


@router.delete("/{name}", status_code=204)
async def archive_event_type(name: PathName, ctx: Ctx, caller: Write) -> Response:
    """Archive the type: it leaves the list and cannot be published; PATCH archived=false
    brings it back."""
    async with ctx.db.write() as conn:
        row = await _own(conn, caller, name)
        await conn.execute(
            event_types.update()
            .where(event_types.c.id == row.id)
            .values(archived=True, updated_at=ctx.clock.now())
        )
    return Response(status_code=204)
