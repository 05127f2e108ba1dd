"""``/v1/accounts``: the operator's partners."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import Field

from tidings.api.deps import Ctx, Operator
from tidings.api.model import DEFAULT_LIMIT, MAX_LIMIT, ApiModel, ApiOut, ExpiresIn, Page
from tidings.services import accounts as service
from tidings.services import sessions as session_service

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


@router.post("", status_code=201, response_model=AccountOut)
async def create_account(body: AccountIn, ctx: Ctx, caller: Operator) -> AccountOut:
    return AccountOut(**await service.create(ctx, caller, body.name))


@router.get("", response_model=Page[AccountOut])
async def list_accounts(
    ctx: Ctx,
    caller: Operator,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[AccountOut]:
    rows, next_cursor = await service.page(ctx, caller, limit=limit, cursor=cursor)
    return Page(data=[AccountOut(**r) for r in rows], next_cursor=next_cursor)


@router.get("/{account_id}", response_model=AccountOut)
async def get_account(account_id: str, ctx: Ctx, caller: Operator) -> AccountOut:
    return AccountOut(**await service.get(ctx, caller, account_id))


@router.patch("/{account_id}", response_model=AccountOut)
async def patch_account(
    account_id: str, body: AccountPatch, ctx: Ctx, caller: Operator
) -> AccountOut:
    return AccountOut(**await service.rename(ctx, caller, account_id, body.name))


@router.delete("/{account_id}", status_code=204)
async def delete_account(account_id: str, ctx: Ctx, caller: Operator) -> Response:
    """Delete the account: its keys stop working at once and nothing more is delivered for
    it. Its records stay in the store until retention removes them."""
    await service.delete(ctx, caller, account_id)
    return Response(status_code=204)


class PortalLinkIn(ApiModel):
    expires_in: ExpiresIn | None = Field(
        default=None, description="How long the link may be used; default 1 hour"
    )


class PortalLinkOut(ApiOut):
    url: str = Field(description="A single-use sign-in link to the account's dashboard")
    expires_at: str


@router.post("/{account_id}/portal-links", status_code=201, response_model=PortalLinkOut)
async def create_portal_link(
    account_id: str, ctx: Ctx, caller: Operator, body: PortalLinkIn | None = None
) -> PortalLinkOut:
    """A single-use link signing in to a dashboard session of this account, marked as a portal
    session, without two-step verification (your product vouched for the partner)."""
    expires_in = body.expires_in if body is not None else None
    return PortalLinkOut(
        **await session_service.create_portal_link(ctx, caller, account_id, expires_in)
    )
