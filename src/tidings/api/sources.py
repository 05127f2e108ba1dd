"""``/v1/sources``: inbound endpoints partners push to ("Push", seed 000)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import Field

from tidings.api.deps import Ctx, allow
from tidings.api.event_types import Name
from tidings.api.model import DEFAULT_LIMIT, MAX_LIMIT, ApiModel, ApiOut, ExpiresIn, NotNull, Page
from tidings.core.access import Access
from tidings.services import sources as service

router = APIRouter(prefix="/v1/sources", tags=["sources"])

Read = Annotated[Access, Depends(allow("sources", "read"))]
Write = Annotated[Access, Depends(allow("sources", "write"))]

Status = Literal["Active", "Disabled"]
AuthType = Literal["api-key", "basic", "hmac"]
Scheme = Literal["standard", "hmac-sha256-hex"]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Pointer = Annotated[str, Field(max_length=512, description="A JSON Pointer, e.g. /type")]


class SourceIn(ApiModel):
    name: Text
    category: str | None = Field(default=None, max_length=200)
    event_type: Name = Field(description="The type a push becomes")
    event_type_pointer: Pointer | None = Field(
        default=None, description="Where a push names its type (else eventType is used)"
    )
    status: Status = "Active"
    auth_type: AuthType = Field(
        default="api-key",
        description="api-key: X-Api-Key or Bearer whk_…; basic: username and password; "
        "hmac: a whsec_ secret signing each push",
    )
    signature_scheme: Scheme | None = Field(
        default=None, description="hmac sources: standard (default) or hmac-sha256-hex"
    )
    username: Text | None = None
    password: Annotated[str, Field(min_length=8, max_length=200)] | None = None


class SourcePatch(ApiModel):
    name: Annotated[Text | None, NotNull] = None
    category: str | None = Field(default=None, max_length=200)
    event_type: Annotated[Name | None, NotNull] = None
    event_type_pointer: Pointer | None = None
    status: Annotated[Status | None, NotNull] = None
    signature_scheme: Annotated[Scheme | None, NotNull] = None
    username: Annotated[Text | None, NotNull] = None
    password: Annotated[Annotated[str, Field(min_length=8, max_length=200)] | None, NotNull] = None


NULLABLE = {"category", "event_type_pointer"}


class SourceOut(ApiOut):
    id: str
    name: str
    category: str | None
    event_type: str
    event_type_pointer: str | None
    status: Status
    auth_type: AuthType
    signature_scheme: Scheme | None
    username: str | None
    password: str | None = Field(description="Masked; never shown again after it is set")
    key: str | None = Field(description="api-key sources: masked (in clear once, at create)")
    secret: str | None = Field(description="hmac sources: masked (in clear once, at create)")
    url: str = Field(description="Where the partner pushes: POST this URL")
    created_at: str
    updated_at: str


class SourceRolled(SourceOut):
    previous_expires_at: str = Field(description="Until then the previous key or secret works")


class RollIn(ApiModel):
    expires_in: ExpiresIn = Field(description="When the current key or secret stops working")


@router.post("", status_code=201, response_model=SourceOut)
async def create_source(body: SourceIn, ctx: Ctx, access: Write) -> SourceOut:
    """A new source. The answer holds its ingest `url` and, this once, its `key` (api-key) or
    `secret` (hmac) in clear."""
    return SourceOut(**await service.create(ctx, access, body.model_dump(exclude_none=True)))


@router.get("", response_model=Page[SourceOut])
async def list_sources(
    ctx: Ctx,
    access: Read,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[SourceOut]:
    rows, next_cursor = await service.page(ctx, access, limit=limit, cursor=cursor)
    return Page(data=[SourceOut(**r) for r in rows], next_cursor=next_cursor)


@router.get("/{source_id}", response_model=SourceOut)
async def get_source(source_id: str, ctx: Ctx, access: Read) -> SourceOut:
    return SourceOut(**await service.get(ctx, access, source_id))


@router.patch("/{source_id}", response_model=SourceOut)
async def patch_source(source_id: str, body: SourcePatch, ctx: Ctx, access: Write) -> SourceOut:
    """Change the given fields; a basic source changes its password here."""
    changes = body.changes(NULLABLE)
    return SourceOut(**await service.update(ctx, access, source_id, changes))


@router.post("/{source_id}/enable", response_model=SourceOut)
async def enable_source(source_id: str, ctx: Ctx, access: Write) -> SourceOut:
    return SourceOut(**await service.set_status(ctx, access, source_id, "Active"))


@router.post("/{source_id}/disable", response_model=SourceOut)
async def disable_source(source_id: str, ctx: Ctx, access: Write) -> SourceOut:
    """A disabled source answers 404 to pushes until enabled again."""
    return SourceOut(**await service.set_status(ctx, access, source_id, "Disabled"))


@router.delete("/{source_id}", status_code=204)
async def delete_source(source_id: str, ctx: Ctx, access: Write) -> Response:
    await service.delete(ctx, access, source_id)
    return Response(status_code=204)


@router.post(
    "/{source_id}/roll-key",
    response_model=SourceRolled,
    responses={409: {"description": "A basic source has no key: change its password"}},
)
async def roll_source_key(source_id: str, body: RollIn, ctx: Ctx, access: Write) -> SourceRolled:
    """A new key or secret, shown once; the current one keeps working until `expiresIn`."""
    return SourceRolled(**await service.roll(ctx, access, source_id, body.expires_in))
