"""Cursor pagination over time-sortable ids, newest first."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

MAX_LIMIT = 250
DEFAULT_LIMIT = 50


async def fetch_page(
    conn: AsyncConnection,
    query: sa.Select[tuple[object, ...]],
    id_column: sa.ColumnElement[str],
    limit: int,
    cursor: str | None,
) -> tuple[list[Row[tuple[object, ...]]], str | None]:
    """Rows after ``cursor`` and the cursor of the next page (None on the last page)."""
    if cursor:
        query = query.where(id_column < cursor)
    rows = list((await conn.execute(query.order_by(id_column.desc()).limit(limit + 1))).all())
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, str(rows[-1].id)
    return rows, None
