"""Request dependencies: the shared context, the authenticated caller and its permissions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, Header, Request

from tidings.api.errors import ApiError
from tidings.api.key_cache import Found
from tidings.context import Context
from tidings.core import keys, permissions
from tidings.core.rate_limit import TokenBuckets
from tidings.store import accounts as store
from tidings.store import event_types


async def get_context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


Ctx = Annotated[Context, Depends(get_context)]


@dataclass(frozen=True)
class Caller:
    key_id: str
    key_type: str
    # The account the request acts for; None only for an operator key without Tidings-Account.
    account_id: str | None
    permissions: Mapping[str, str]
    # Event-type categories a restricted key is limited to; None means all.
    categories: list[str] | None

    @property
    def is_operator(self) -> bool:
        return self.key_type == "operator"


@dataclass(frozen=True)
class Access:
    """A caller allowed to act on one account's resources."""

    account_id: str
    caller: Caller


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
    now = ctx.clock.now()
    found = await _find(ctx, plaintext)
    row = found.row
    if row.revoked_at is not None:
        raise ApiError(401, "API key has been revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise ApiError(401, "API key has expired")
    if not found.account_exists:
        raise ApiError(401, "the account of this API key has been deleted")
    account_id = row.account_id
    if tidings_account:
        if row.type != "operator" and tidings_account != account_id:
            raise ApiError(404, f"account {tidings_account!r} not found")
        async with ctx.db.read() as conn:
            if await store.get_account(conn, tidings_account) is None:
                raise ApiError(404, f"account {tidings_account!r} not found")
        account_id = tidings_account
    wait = ctx.key_buckets.take(row.id, now / 1_000_000)
    if wait:
        raise ApiError(
            429,
            f"too many requests with this API key: at most {ctx.settings.key_rate_limit:g}/s",
            headers={"Retry-After": TokenBuckets.retry_after(wait)},
        )
    ctx.key_usage.touch(row.id, now)
    # For the API log (see api/request_log.py): who made this request, for which account.
    request.state.key_id = row.id
    request.state.account_id = account_id
    return Caller(
        key_id=row.id,
        key_type=row.type,
        account_id=account_id,
        permissions=permissions.effective(row.type, row.permissions),
        categories=row.categories,
    )


async def _find(ctx: Context, plaintext: str) -> Found:
    """The key and whether its account exists: from the cache, else from the database."""

    async def lookup() -> Found | None:
        async with ctx.db.read() as conn:
            row = await store.find_key(conn, plaintext)
            if row is None:
                return None
            account = row.account_id
            exists = account is None or await store.get_account(conn, account) is not None
        return Found(row=row, account_exists=exists)

    # Keyed by the key's hash: only this key finds it.
    found = await ctx.keys.get_or_load(keys.hash_key(plaintext), lookup)
    if found is None:
        raise ApiError(401, "invalid API key")
    return found


Authenticated = Annotated[Caller, Depends(authenticate)]


def _check(caller: Caller, resource: str, level: str) -> None:
    if not permissions.allows(caller.permissions, resource, level):
        needed = f"{resource}:{level}"
        raise ApiError(
            403,
            f"this API key lacks the permission {needed!r}",
            details=[{"field": "permission", "message": needed}],
        )


def allow(resource: str, level: str) -> Callable[[Caller], Awaitable[Access]]:
    """A dependency: the caller holds ``level`` on ``resource`` and acts for an account."""

    # async, as every dependency here: FastAPI runs a plain def in a thread, per request.
    async def dependency(caller: Authenticated) -> Access:
        _check(caller, resource, level)
        if caller.account_id is None:
            raise ApiError(
                400,
                "this call acts for an account: send the Tidings-Account header",
                field="Tidings-Account",
            )
        return Access(account_id=caller.account_id, caller=caller)

    return dependency


def allow_any_scope(resource: str, level: str) -> Callable[[Caller], Awaitable[Caller]]:
    """Like ``allow``, but an operator key may also act without an account (catalog, logs)."""

    async def dependency(caller: Authenticated) -> Caller:
        _check(caller, resource, level)
        return caller

    return dependency


async def require_operator(caller: Authenticated) -> Caller:
    if not caller.is_operator:
        raise ApiError(403, "this call needs an operator key")
    return caller


Operator = Annotated[Caller, Depends(require_operator)]


def account_for(resource: str, level: str) -> Callable[[Caller], Awaitable[str]]:
    """Like ``allow``, for routes that need only the account id."""
    check = allow(resource, level)

    async def dependency(caller: Authenticated) -> str:
        return (await check(caller)).account_id

    return dependency


def in_categories(
    access: Access, event_type: sa.ColumnElement[str]
) -> list[sa.ColumnElement[bool]]:
    """Conditions limiting a category-limited key to events of its categories' types."""
    categories = access.caller.categories
    if categories is None:
        return []
    return [event_type.in_(event_types.names_in_categories(access.account_id, categories))]
