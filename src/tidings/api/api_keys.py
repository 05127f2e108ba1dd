"""``/v1/api-keys``: an account's keys. The plaintext appears once, in the create answer."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Query
from pydantic import Field
from sqlalchemy.engine import Row

from tidings.api.deps import AccountId, Ctx
from tidings.api.errors import not_found
from tidings.api.model import ApiModel, ApiOut, Page
from tidings.core.clock import to_iso
from tidings.store import accounts as store
from tidings.store.paging import DEFAULT_LIMIT, MAX_LIMIT, fetch_page
from tidings.store.tables import api_keys

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"])


class ApiKeyIn(ApiModel):
    name: str = Field(default="", max_length=200)
    type: Literal["secret"] = "secret"


class ApiKeyOut(ApiOut):
    id: str
    account_id: str | None
    name: str
    type: str
    prefix: str
    last4: str
    created_at: str
    expires_at: str | None
    last_used_at: str | None
    status: str


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself. It is shown in this answer only.")


def _fields(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "account_id": row.account_id,
        "name": row.name,
        "type": row.type,
        "prefix": row.lookup.split("_", 1)[0] + "_",
        "last4": row.last4,
        "created_at": to_iso(row.created_at),
        "expires_at": to_iso(row.expires_at),
        "last_used_at": to_iso(row.last_used_at),
        "status": "revoked" if row.revoked_at is not None else "active",
    }


@router.post("", status_code=201, response_model=ApiKeyCreated)
async def create_api_key(body: ApiKeyIn, ctx: Ctx, account_id: AccountId) -> ApiKeyCreated:
    async with ctx.db.write() as conn:
        row, plaintext = await store.create_key(
            conn, account_id=account_id, key_type=body.type, name=body.name, now=ctx.clock.now()
        )
    return ApiKeyCreated(**_fields(row), key=plaintext)


@router.get("", response_model=Page[ApiKeyOut])
async def list_api_keys(
    ctx: Ctx,
    account_id: AccountId,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[ApiKeyOut]:
    query = api_keys.select().where(api_keys.c.account_id == account_id)
    async with ctx.db.read() as conn:
        rows, next_cursor = await fetch_page(conn, query, api_keys.c.id, limit, cursor)
    return Page(data=[ApiKeyOut(**_fields(r)) for r in rows], next_cursor=next_cursor)


@router.get("/{key_id}", response_model=ApiKeyOut)
async def get_api_key(key_id: str, ctx: Ctx, account_id: AccountId) -> ApiKeyOut:
    query = api_keys.select().where(
        sa.and_(api_keys.c.id == key_id, api_keys.c.account_id == account_id)
    )
    async with ctx.db.read() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        raise not_found("API key", key_id)
    return ApiKeyOut(**_fields(row))
