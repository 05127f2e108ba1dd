"""``/v1/api-keys``: an account's keys. The plaintext appears once, in the create (or roll)
answer; a key never grants more than the key that made it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import Field

from tidings.api.deps import Ctx, allow
from tidings.api.model import DEFAULT_LIMIT, MAX_LIMIT, ApiModel, ApiOut, ExpiresIn, Page
from tidings.core.access import Access
from tidings.core.permissions import KeyType, Level, Resource
from tidings.services import keys as service

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"])


Read = Annotated[Access, Depends(allow("api_keys", "read"))]
Write = Annotated[Access, Depends(allow("api_keys", "write"))]


class ApiKeyIn(ApiModel):
    name: str = Field(default="", max_length=200)
    type: KeyType = "secret"
    permissions: dict[Resource, Level] | None = Field(
        default=None, description="Restricted keys: a level per resource (write implies read)"
    )
    categories: list[Annotated[str, Field(min_length=1, max_length=200)]] | None = Field(
        default=None,
        max_length=100,
        description="Restricted keys: publish and read only events of these categories",
    )
    expires_at: datetime | None = None


class RollIn(ApiModel):
    expires_in: ExpiresIn = Field(description="When the old key stops working")


class ApiKeyOut(ApiOut):
    id: str
    account_id: str | None
    name: str
    type: str
    permissions: dict[str, str]
    categories: list[str] | None
    prefix: str
    last4: str
    created_at: str
    last_used_at: str | None
    expires_at: str | None
    revoked_at: str | None
    replaced_by: str | None = Field(description="The key a roll made from this one")
    status: Literal["active", "expiring", "expired", "revoked"]


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself. It is shown in this answer only.")


@router.post("", status_code=201, response_model=ApiKeyCreated)
async def create_api_key(body: ApiKeyIn, ctx: Ctx, access: Write) -> ApiKeyCreated:
    shown, plaintext = await service.create(
        ctx,
        access.caller,
        name=body.name,
        key_type=body.type,
        wanted={str(k): str(v) for k, v in body.permissions.items()}
        if body.permissions is not None
        else None,
        categories=body.categories,
        expires_at=body.expires_at,
    )
    return ApiKeyCreated(**shown, key=plaintext)


@router.get("", response_model=Page[ApiKeyOut])
async def list_api_keys(
    ctx: Ctx,
    access: Read,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[ApiKeyOut]:
    rows, next_cursor = await service.page(ctx, access.caller, limit=limit, cursor=cursor)
    return Page(data=[ApiKeyOut(**r) for r in rows], next_cursor=next_cursor)


@router.get("/{key_id}", response_model=ApiKeyOut)
async def get_api_key(key_id: str, ctx: Ctx, access: Read) -> ApiKeyOut:
    return ApiKeyOut(**await service.get(ctx, access.caller, key_id))


@router.post(
    "/{key_id}/roll",
    status_code=201,
    response_model=ApiKeyCreated,
    responses={409: {"description": "The key is revoked, or was rolled already"}},
)
async def roll_api_key(key_id: str, body: RollIn, ctx: Ctx, access: Write) -> ApiKeyCreated:
    """A new key with the same type and permissions. The old one keeps working for
    ``expiresIn``, then answers 401 saying it expired."""
    shown, plaintext = await service.roll(ctx, access.caller, key_id, body.expires_in)
    return ApiKeyCreated(**shown, key=plaintext)


@router.delete("/{key_id}", status_code=204)
async def revoke_api_key(key_id: str, ctx: Ctx, access: Write) -> Response:
    """Revoke the key at once: every later request with it answers 401."""
    await service.revoke(ctx, access.caller, key_id)
    return Response(status_code=204)
