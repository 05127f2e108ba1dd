"""The reads and writes every table of a partner's resources shares (webhooks, sources, pulls):
rows keyed by ``id``, each belonging to one account, listed newest first, optionally limited to
the categories a category-limited key may see. A resource's module adds what is its own."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.store.paging import fetch_page


class Owned:
    """One account-owned table's common statements."""

    def __init__(self, table: sa.Table) -> None:
        self.table = table

    async def get(self, conn: AsyncConnection, account_id: str, row_id: str) -> Row[Any] | None:
        """The row when it is the account's: the only read the API's handlers make by id."""
        t = self.table
        query = t.select().where(sa.and_(t.c.id == row_id, t.c.account_id == account_id))
        return (await conn.execute(query)).first()

    async def by_id(self, conn: AsyncConnection, row_id: str) -> Row[Any] | None:
        """The row whichever account it belongs to: for a worker's claim or an ingest URL,
        which name no account."""
        return (await conn.execute(self.table.select().where(self.table.c.id == row_id))).first()

    def listing(self, account_id: str, categories: list[str] | None) -> sa.Select[Any]:
        """The account's rows (those of ``categories`` only, when given), before paging."""
        query = self.table.select().where(self.table.c.account_id == account_id)
        if categories is not None:
            query = query.where(self.table.c.category.in_(categories))
        return query

    async def page(
        self,
        conn: AsyncConnection,
        account_id: str,
        *,
        categories: list[str] | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[Row[Any]], str | None]:
        query = self.listing(account_id, categories)
        return await fetch_page(conn, query, self.table.c.id, limit, cursor)

    async def insert(self, conn: AsyncConnection, values: dict[str, Any]) -> None:
        await conn.execute(self.table.insert().values(values))

    async def update(self, conn: AsyncConnection, row_id: str, values: dict[str, Any]) -> None:
        await conn.execute(self.table.update().where(self.table.c.id == row_id).values(values))

    async def delete(self, conn: AsyncConnection, row_id: str) -> None:
        await conn.execute(self.table.delete().where(self.table.c.id == row_id))

    async def disable_all(
        self, conn: AsyncConnection, account_id: str, values: dict[str, Any]
    ) -> None:
        """Set ``values`` on every active row of the account (it was deleted)."""
        t = self.table
        await conn.execute(
            t.update()
            .where(sa.and_(t.c.account_id == account_id, t.c.status == "Active"))
            .values(values)
        )
