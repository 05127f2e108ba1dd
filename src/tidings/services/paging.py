"""One page of an account's resource as the caller may see it: the account's rows, those of a
category-limited key's categories only, shaped by the resource's view."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from tidings.core.access import Access
from tidings.runtime.context import Context

Page = tuple[list[dict[str, Any]], str | None]
StorePage = Callable[..., Awaitable[tuple[list[Any], str | None]]]


async def account_page(
    ctx: Context,
    access: Access,
    store_page: StorePage,
    view: Callable[[Any], dict[str, Any]],
    *,
    limit: int,
    cursor: str | None,
    **filters: Any,
) -> Page:
    """``filters`` are the store's own (named like its ``page``'s keywords): a service passes
    them through, since which rows match is a query, not a rule."""
    async with ctx.db.read() as conn:
        rows, next_cursor = await store_page(
            conn,
            access.account_id,
            categories=access.categories,
            limit=limit,
            cursor=cursor,
            **filters,
        )
    return [view(r) for r in rows], next_cursor
