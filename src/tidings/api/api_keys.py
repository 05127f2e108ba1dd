"""``/v1/api-keys``: an account's keys. The plaintext appears once, in the create (or roll)
answer; a key never grants more than the key that made it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import Field
from sqlalchemy.engine import Row

from tidings.api.deps import Access, Caller, Ctx, allow
from tidings.api.errors import ApiError, not_found
from tidings.api.model import ApiModel, ApiOut, ExpiresIn, Page
from tidings.context import Context
from tidings.core import permissions
from tidings.core.clock import MICROS, from_datetime, to_iso
from tidings.store import accounts as store
from tidings.store.paging import DEFAULT_LIMIT, MAX_LIMIT, fetch_page
from tidings.store.tables import api_keys

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"])

Resource = Literal[
    "webhooks", "events", "event_types", "notifications", "logs", "api_keys", "sources", "pulls"
]
Level = Literal["none", "read", "write"]
KeyType = Literal["secret", "restricted", "publishable"]

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

    def shape_problem(self) -> tuple[str, str] | None:
        """Which field does not fit the key type, and why."""
        if self.type != "restricted":
            for field in ("permissions", "categories"):
                if getattr(self, field) is not None:
                    return field, f"{field} apply to restricted keys only"
        elif self.permissions is None:
            return "permissions", "a restricted key needs permissions"
        return None


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
    status: Literal["active", "expiring", "expired", "revoked"]


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself. It is shown in this answer only.")


def key_fields(ctx: Context, row: Row[Any]) -> dict[str, Any]:
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
        "status": store.key_status(row, ctx.clock.now()),
    }


def check_grant(
    caller: Caller, key_type: str, wanted: dict[str, str] | None, categories: list[str] | None
) -> None:
    """403 when the new key would hold more than the caller's own key."""
    beyond = permissions.exceeds(
        permissions.effective(key_type, wanted), categories, caller.permissions, caller.categories
    )
    if beyond:
        raise ApiError(
            403,
            f"a key cannot grant more than the key that creates it: this one lacks {beyond}",
            details=[{"field": "permissions", "message": beyond}],
        )


@router.post("", status_code=201, response_model=ApiKeyCreated)
async def create_api_key(body: ApiKeyIn, ctx: Ctx, access: Write) -> ApiKeyCreated:
    problem = body.shape_problem()
    if problem:
        raise ApiError(422, problem[1], field=problem[0])
    now = ctx.clock.now()
    expires_at = from_datetime(body.expires_at) if body.expires_at else None
    if expires_at is not None and expires_at <= now:
        raise ApiError(422, "expiresAt must be in the future", field="expiresAt")
    wanted = {str(k): str(v) for k, v in body.permissions.items()} if body.permissions else None
    check_grant(access.caller, body.type, wanted, body.categories)
    async with ctx.db.write() as conn:
        row, plaintext = await store.create_key(
            conn,
            account_id=access.account_id,
            key_type=body.type,
            name=body.name,
            now=now,
            permissions=wanted,
            categories=body.categories,
            expires_at=expires_at,
            created_by=access.caller.key_id,
        )
    return ApiKeyCreated(**key_fields(ctx, row), key=plaintext)


@router.get("", response_model=Page[ApiKeyOut])
async def list_api_keys(
    ctx: Ctx,
    access: Read,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[ApiKeyOut]:
    query = api_keys.select().where(api_keys.c.account_id == access.account_id)
    async with ctx.db.read() as conn:
        rows, next_cursor = await fetch_page(conn, query, api_keys.c.id, limit, cursor)
    return Page(data=[ApiKeyOut(**key_fields(ctx, r)) for r in rows], next_cursor=next_cursor)


@router.get("/{key_id}", response_model=ApiKeyOut)
async def get_api_key(key_id: str, ctx: Ctx, access: Read) -> ApiKeyOut:
    async with ctx.db.read() as conn:
        row = await store.get_key(conn, key_id, access.account_id)
    if row is None:
        raise not_found("API key", key_id)
    return ApiKeyOut(**key_fields(ctx, row))


@router.post(
    "/{key_id}/roll",
    status_code=201,
    response_model=ApiKeyCreated,
    responses={409: {"description": "The key is revoked"}},
)
async def roll_api_key(key_id: str, body: RollIn, ctx: Ctx, access: Write) -> ApiKeyCreated:
    """A new key with the same type and permissions. The old one keeps working for
    ``expiresIn``, then answers 401 saying it expired."""
    now = ctx.clock.now()
    old_expires_at = now + int(body.expires_in * MICROS)
    async with ctx.db.write() as conn:
        old = await store.get_key(conn, key_id, access.account_id)
        if old is None:
            raise not_found("API key", key_id)
        if old.revoked_at is not None:
            raise ApiError(409, "a revoked key cannot be rolled")
        check_grant(access.caller, old.type, old.permissions, old.categories)
        row, plaintext = await store.roll_key(
            conn, old, old_expires_at=old_expires_at, now=now, created_by=access.caller.key_id
        )
    ctx.keys.changed()  # the old key's expiry is new
    return ApiKeyCreated(**key_fields(ctx, row), key=plaintext)


@router.delete("/{key_id}", status_code=204)
async def revoke_api_key(key_id: str, ctx: Ctx, access: Write) -> Response:
    """Revoke the key at once: every later request with it answers 401."""
    async with ctx.db.write() as conn:
        if await store.get_key(conn, key_id, access.account_id) is None:
            raise not_found("API key", key_id)
        await store.revoke_key(conn, key_id, ctx.clock.now())
    ctx.keys.changed()
    return Response(status_code=204)
