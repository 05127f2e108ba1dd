"""The event-type catalog: the operator's (scope ``*``, seen by every account) and each
account's own."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.store.paging import fetch_page
from tidings.store.tables import event_types

GLOBAL = "*"


def visible_to(account_id: str | None) -> sa.ColumnElement[bool]:
    if account_id is None:
        return event_types.c.scope == GLOBAL
    return event_types.c.scope.in_((account_id, GLOBAL))


async def find(conn: AsyncConnection, account_id: str | None, name: str) -> Row[Any] | None:
    """The type ``name`` as ``account_id`` sees it; the account's own wins over the catalog's."""
    query = event_types.select().where(sa.and_(visible_to(account_id), event_types.c.name == name))
    rows = list((await conn.execute(query)).all())
    rows.sort(key=lambda r: r.scope == GLOBAL)
    return rows[0] if rows else None


def names_in_categories(account_id: str, categories: list[str]) -> sa.Select[tuple[str]]:
    """Names of the event types ``account_id`` sees whose category is in ``categories``;
    the account's own type wins over the catalog's of the same name, as in ``find``."""
    own = event_types.alias("own")
    own_names = sa.select(own.c.name).where(own.c.scope == account_id)
    return sa.select(event_types.c.name).where(
        sa.and_(
            event_types.c.category.in_(categories),
            sa.or_(
                event_types.c.scope == account_id,
                sa.and_(event_types.c.scope == GLOBAL, event_types.c.name.not_in(own_names)),
            ),
        )
    )


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(event_types.insert().values(values))


async def update(conn: AsyncConnection, type_id: str, values: dict[str, Any]) -> None:
    await conn.execute(event_types.update().where(event_types.c.id == type_id).values(values))


async def page(
    conn: AsyncConnection,
    account_id: str | None,
    *,
    category: str | None,
    include_archived: bool,
    limit: int,
    cursor: str | None,
) -> tuple[list[Row[Any]], str | None]:
    """The types ``account_id`` sees (None: the operator's catalog)."""
    query = event_types.select().where(visible_to(account_id))
    if account_id is not None:
        # An account's own type hides the catalog's type of the same name.
        own = event_types.alias("own")
        shadowed = sa.exists().where(
            sa.and_(own.c.scope == account_id, own.c.name == event_types.c.name)
        )
        query = query.where(sa.or_(event_types.c.scope != GLOBAL, ~shadowed))
    if category is not None:
        query = query.where(event_types.c.category == category)
    if not include_archived:
        query = query.where(event_types.c.archived == sa.false())
    return await fetch_page(conn, query, event_types.c.id, limit, cursor)
