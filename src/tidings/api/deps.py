"""Request dependencies: the shared context, the authenticated caller and its permissions.
Who a key is and what it may do is decided by services/auth.py and core/access.py; this
module only reads the headers and hands the answer to the routes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Header, Request

from tidings.core.access import Access, Caller
from tidings.core.errors import DomainError
from tidings.runtime.context import Context
from tidings.services import auth


async def get_context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


Ctx = Annotated[Context, Depends(get_context)]


def presented_key(authorization: str | None, x_api_key: str | None) -> str:
    """The key from ``Authorization: Bearer`` or ``X-Api-Key``."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise DomainError(401, "Authorization header must be 'Bearer <API key>'")
        return token.strip()
    if x_api_key:
        return x_api_key.strip()
    raise DomainError(401, "missing API key: send 'Authorization: Bearer <key>' or 'X-Api-Key'")


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
    caller = await auth.authenticate(ctx, presented_key(authorization, x_api_key), tidings_account)
    # For the API log (see api/middleware/request_log.py): who made this request, for which
    # account.
    request.state.key_id = caller.key_id
    request.state.account_id = caller.account_id
    return caller


Authenticated = Annotated[Caller, Depends(authenticate)]


def allow(resource: str, level: str) -> Callable[[Caller], Awaitable[Access]]:
    """A dependency: the caller holds ``level`` on ``resource`` and acts for an account."""

    # async, as every dependency here: FastAPI runs a plain def in a thread, per request.
    async def dependency(caller: Authenticated) -> Access:
        return caller.acting(resource, level)

    return dependency


def allow_any_scope(resource: str, level: str) -> Callable[[Caller], Awaitable[Caller]]:
    """Like ``allow``, but an operator key may also act without an account (catalog, logs)."""

    async def dependency(caller: Authenticated) -> Caller:
        caller.require(resource, level)
        return caller

    return dependency


async def require_operator(caller: Authenticated) -> Caller:
    caller.require_operator()
    return caller


Operator = Annotated[Caller, Depends(require_operator)]


def log_id(request: Request) -> str | None:
    """The id the API log gives this request (set by api/middleware/request_log.py)."""
    return getattr(request.state, "request_id", None)
