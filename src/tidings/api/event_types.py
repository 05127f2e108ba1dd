"""``/v1/event-types``: the catalog of what can be published, with optional JSON Schemas.

An operator key without ``Tidings-Account`` edits the operator's catalog, which every account
sees; account keys (or an operator acting for an account) edit that account's own types."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import Field

from tidings.api.deps import Ctx, allow_any_scope
from tidings.api.model import DEFAULT_LIMIT, MAX_LIMIT, ApiModel, ApiOut, NotNull, Page
from tidings.core.access import Caller
from tidings.services import event_types as service
from tidings.services.event_types import NAME_PATTERN

router = APIRouter(prefix="/v1/event-types", tags=["event types"])

# The catalog is public data: publishable keys read it too.
Read = Annotated[Caller, Depends(allow_any_scope("event_types", "read"))]
Write = Annotated[Caller, Depends(allow_any_scope("event_types", "write"))]

Name = Annotated[str, Field(pattern=NAME_PATTERN, description="e.g. payment.updated")]


class EventTypeFields(ApiModel):
    category: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")


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


class EventTypeOut(ApiOut):
    name: str
    category: str | None
    description: str | None
    schema_: dict[str, Any] | None = Field(alias="schema")
    archived: bool
    scope: str = Field(description="'global' for the operator's catalog, else 'account'")
    created_at: str
    updated_at: str


def _out(values: dict[str, Any]) -> EventTypeOut:
    return EventTypeOut(**values)


def _fields(body: ApiModel, names: Any = None) -> dict[str, Any]:
    """The body's fields (``names``, else all) by their stored names (``schema``)."""
    names = type(body).model_fields if names is None else names
    return {("schema" if n == "schema_" else n): getattr(body, n) for n in names}


@router.post(
    "",
    status_code=201,
    response_model=EventTypeOut,
    responses={409: {"description": "An event type of this name exists"}},
)
async def create_event_type(body: EventTypeIn, ctx: Ctx, caller: Write) -> EventTypeOut:
    return _out(await service.create(ctx, caller, body.name, _fields(body)))


@router.get("", response_model=Page[EventTypeOut])
async def list_event_types(
    ctx: Ctx,
    caller: Read,
    category: str | None = None,
    include_archived: Annotated[bool, Query(alias="includeArchived")] = False,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[EventTypeOut]:
    rows, next_cursor = await service.page(
        ctx,
        caller,
        category=category,
        include_archived=include_archived,
        limit=limit,
        cursor=cursor,
    )
    return Page(data=[_out(r) for r in rows], next_cursor=next_cursor)


PathName = Annotated[str, Path(description="The event type's name")]


@router.get("/{name}", response_model=EventTypeOut)
async def get_event_type(name: PathName, ctx: Ctx, caller: Read) -> EventTypeOut:
    return _out(await service.get(ctx, caller, name))


@router.put(
    "/{name}",
    response_model=EventTypeOut,
    responses={201: {"model": EventTypeOut, "description": "Created"}},
)
async def replace_event_type(
    name: PathName, body: EventTypeReplace, ctx: Ctx, caller: Write, response: Response
) -> EventTypeOut:
    """Replace every field; creates the type when it does not exist yet."""
    shown, created = await service.replace(ctx, caller, name, _fields(body))
    if created:
        response.status_code = 201
    return _out(shown)


@router.patch("/{name}", response_model=EventTypeOut)
async def patch_event_type(
    name: PathName, body: EventTypePatch, ctx: Ctx, caller: Write
) -> EventTypeOut:
    changes = _fields(body, body.model_fields_set)
    return _out(await service.patch(ctx, caller, name, changes))


@router.delete("/{name}", status_code=204)
async def archive_event_type(name: PathName, ctx: Ctx, caller: Write) -> Response:
    """Archive the type: it leaves the list and cannot be published; PATCH archived=false
    brings it back."""
    await service.archive(ctx, caller, name)
    return Response(status_code=204)
