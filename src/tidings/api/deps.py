"""Request dependencies: the shared context and the authenticated caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request

from tidings.api.errors import ApiError
from tidings.context import Context
from tidings.store import accounts as store


def get_context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


Ctx = Annotated[Context, Depends(get_context)]


@dataclass(frozen=True)
class Caller:
    key_id: str
    key_type: str
    # The account the request acts for; None only for an operator key without Tidings-Account.
    account_id: str | None

    @property
    def is_operator(self) -> bool:
        return self.key_type == "operator"


def _presented_key(authorization: str | None, x_api_key: str | None) -> str:
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "Authorization header must be 'Bearer <API key>'")
        return token.strip()
    if x_api_key:
        return x_api_key.strip()
    raise ApiError(401, "missing API key: send 'Authorization: Bearer <key>' or 'X-Api-Key'")


async def authenticate(
    request: Request,
    ctx: Ctx,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    x_api_key: Annotated[str | None, Header(include_in_schema=False)] = None,
    tidings_account: Annotated[
        str | None,
        Header(description="With an operator key: the account to act for (acc_…)."),
    ] = None,
) -> Caller:
    plaintext = _presented_key(authorization, x_api_key)
    async with ctx.db.read() as conn:
        row = await store.find_key(conn, plaintext)
        if row is None:
            raise ApiError(401, "invalid API key")
        now = ctx.clock.now()
        if row.revoked_at is not None:
            raise ApiError(401, "API key has been revoked")
        if row.expires_at is not None and row.expires_at <= now:
            raise ApiError(401, "API key has expired")
        account_id = row.account_id
        if tidings_account:
            if row.type != "operator" and tidings_account != account_id:
                raise ApiError(404, f"account {tidings_account!r} not found")
            if await store.get_account(conn, tidings_account) is None:
                raise ApiError(404, f"account {tidings_account!r} not found")
            account_id = tidings_account
    # For the API log (see api/request_log.py): who made this request, for which account.
    request.state.key_id = row.id
    request.state.account_id = account_id
    return Caller(key_id=row.id, key_type=row.type, account_id=account_id)


Authenticated = Annotated[Caller, Depends(authenticate)]


def require_account(caller: Authenticated) -> str:
    """The account id the request acts for, or a 400 telling an operator to name one."""
    if caller.account_id is None:
        raise ApiError(
            400,
            "this call acts for an account: send the Tidings-Account header with the account id",
            field="Tidings-Account",
        )
    return caller.account_id


def require_operator(caller: Authenticated) -> Caller:
    if not caller.is_operator:
        raise ApiError(403, "this call needs an operator key")
    return caller


AccountId = Annotated[str, Depends(require_account)]
Operator = Annotated[Caller, Depends(require_operator)]
