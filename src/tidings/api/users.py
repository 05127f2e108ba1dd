"""``/v1/users``: an account's dashboard users. A new user gets an invite link (single use,
72 h) whose page sets the password; deleting a user ends its sessions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from pydantic import Field

from tidings.api.deps import Ctx, allow
from tidings.api.model import DEFAULT_LIMIT, MAX_LIMIT, ApiModel, ApiOut, Page
from tidings.core.access import Access
from tidings.services import users as service

router = APIRouter(prefix="/v1/users", tags=["users"])

Read = Annotated[Access, Depends(allow("users", "read"))]
Write = Annotated[Access, Depends(allow("users", "write"))]


class UserIn(ApiModel):
    email: str = Field(min_length=3, max_length=320)


class UserOut(ApiOut):
    id: str
    account_id: str | None
    email: str
    operator: bool
    status: str = Field(description="invited (no password yet) or active")
    two_factor_enabled: bool
    created_at: str
    updated_at: str


class UserInvited(UserOut):
    invite_url: str = Field(description="…/dashboard/invite/<token>: single use, 72 hours")
    invite_expires_at: str


@router.post(
    "",
    status_code=201,
    response_model=UserInvited,
    responses={409: {"description": "A user with this email exists already"}},
)
async def invite_user(body: UserIn, ctx: Ctx, access: Write) -> UserInvited:
    """A new user of the account, and the invite link that sets its password (shown once)."""
    return UserInvited(**await service.invite(ctx, access.caller, body.email, access.account_id))


@router.get("", response_model=Page[UserOut])
async def list_users(
    ctx: Ctx,
    access: Read,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[UserOut]:
    rows, next_cursor = await service.page(ctx, access, limit=limit, cursor=cursor)
    return Page(data=[UserOut(**u) for u in rows], next_cursor=next_cursor)


@router.get("/{user_id}", response_model=UserOut)
async def get_user(user_id: str, ctx: Ctx, access: Read) -> UserOut:
    return UserOut(**await service.get(ctx, access, user_id))


@router.delete("/{user_id}", status_code=204)
async def delete_user(user_id: str, ctx: Ctx, access: Write) -> Response:
    """Delete the user: its sessions end at once."""
    await service.delete(ctx, access, user_id)
    return Response(status_code=204)
