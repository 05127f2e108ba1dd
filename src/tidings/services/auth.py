"""Authenticating an API key: who the caller is, for which account, and what it may do."""

from __future__ import annotations

from tidings.core import keys, permissions
from tidings.core.access import Caller
from tidings.core.errors import DomainError
from tidings.core.rate_limit import TokenBuckets
from tidings.runtime.context import Context
from tidings.runtime.key_cache import Found
from tidings.store import accounts as account_store
from tidings.store import keys as store


async def authenticate(ctx: Context, plaintext: str, account_header: str | None) -> Caller:
    """The caller behind key ``plaintext``, acting for ``account_header`` when given (an
    operator key may name any account; another key only its own). 401 for an unknown,
    revoked or expired key or a deleted account, 404 for an unknown account, 429 past the
    key's rate limit."""
    now = ctx.clock.now()
    found = await _find(ctx, plaintext)
    row = found.row
    if row.revoked_at is not None:
        raise DomainError(401, "API key has been revoked")
    if row.expires_at is not None and row.expires_at <= now:
        raise DomainError(401, "API key has expired")
    if not found.account_exists:
        raise DomainError(401, "the account of this API key has been deleted")
    account_id = row.account_id
    if account_header:
        if row.type != "operator" and account_header != account_id:
            raise DomainError(404, f"account {account_header!r} not found")
        async with ctx.db.read() as conn:
            if await account_store.get(conn, account_header) is None:
                raise DomainError(404, f"account {account_header!r} not found")
        account_id = account_header
    wait = ctx.key_buckets.take(row.id, now / 1_000_000)
    if wait:
        raise DomainError(
            429,
            f"too many requests with this API key: at most {ctx.settings.key_rate_limit:g}/s",
            headers={"Retry-After": TokenBuckets.retry_after(wait)},
        )
    ctx.key_usage.touch(row.id, now)
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
            row = await store.find(conn, plaintext)
            if row is None:
                return None
            account = row.account_id
            exists = account is None or await account_store.get(conn, account) is not None
        return Found(row=row, account_exists=exists)

    # Keyed by the key's hash: only this key finds it.
    found = await ctx.keys.get_or_load(keys.hash_key(plaintext), lookup)
    if found is None:
        raise DomainError(401, "invalid API key")
    return found
