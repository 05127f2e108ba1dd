"""``/v1/accounts``: the operator's partners."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import Field
from sqlalchemy.engine import Row

from tidings.api.deps import Ctx, Operator
from tidings.api.errors import not_found
from tidings.api.model import ApiModel, ApiOut, Page
from tidings.core.clock import to_iso
from tidings.store import accounts as store
from tidings.store.paging import DEFAULT_LIMIT, MAX_LIMIT, fetch_page
from tidings.store.tables import accounts

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])


class AccountIn(ApiModel):
    name: str = Field(min_length=1, max_length=200)


class AccountPatch(ApiModel):
    name: str = Field(min_length=1, max_length=200)


class AccountOut(ApiOut):
    id: str
    name: str
    created_at: str
    updated_at: str


def _out(row: Row[Any]) -> AccountOut:
    return AccountOut(
        id=row.id,
        name=row.name,
        created_at=to_iso(row.created_at),
        updated_at=to_iso(row.updated_at),
    )


@router.post("", status_code=201, response_model=AccountOut)
async def create_account(body: AccountIn, ctx: Ctx, _op: Operator) -> AccountOut:
    async with ctx.db.write() as conn:
        row = await store.create_account(conn, body.name, ctx.clock.now())
    return _out(row)


@router.get("", response_model=Page[AccountOut])
async def list_accounts(
    ctx: Ctx,
    _op: Operator,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[AccountOut]:
    async with ctx.db.read() as conn:
        rows, next_cursor = await fetch_page(conn, accounts.select(), accounts.c.id, limit, cursor)
    return Page(data=[_out(r) for r in rows], next_cursor=next_cursor)


@router.get("/{account_id}", response_model=AccountOut)
async def get_account(account_id: str, ctx: Ctx, _op: Operator) -> AccountOut:
    async with ctx.db.read() as conn:
        row = await store.get_account(conn, account_id)
    if row is None:
        raise not_found("account", account_id)
    return _out(row)


@router.patch("/{account_id}", response_model=AccountOut)
async def patch_account(account_id: str, body: AccountPatch, ctx: Ctx, _op: Operator) -> AccountOut:
    async with ctx.db.write() as conn:
        if await store.get_account(conn, account_id) is None:
            raise not_found("account", account_id)
        await conn.execute(
            accounts.update()
            .where(accounts.c.id == account_id)
            .values(name=body.name, updated_at=ctx.clock.now())
        )
        row = await store.get_account(conn, account_id)
    assert row is not None
    return _out(row)


@router.delete("/{account_id}", status_code=204)
async def delete_account(account_id: str, ctx: Ctx, _op: Operator) -> Response:
    """Delete the account: its keys stop working at once and nothing more is delivered for
    it. Its records stay in the store until retention removes them."""
    now = ctx.clock.now()
    async with ctx.db.write() as conn:
        if await store.get_account(conn, account_id) is None:
            raise not_found("account", account_id)
        await store.delete_account(conn, account_id, now)
    ctx.keys.changed()
    return Response(status_code=204)
