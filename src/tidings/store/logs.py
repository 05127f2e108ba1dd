"""Reading the API log. Rows are written by ``store.log_writer``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.store.paging import fetch_page
from tidings.store.sql import within
from tidings.store.tables import logs

# The list shows what a row of a log table shows; headers and bodies are in the detail only.
_DETAIL_ONLY = ("request_headers", "request_body", "response_body")
SUMMARY_COLUMNS = [c for c in logs.c if c.name not in _DETAIL_ONLY]


async def page(
    conn: AsyncConnection,
    account_id: str | None,
    *,
    outcome: str | None = None,
    log_type: str | None = None,
    method: str | None = None,
    path_prefix: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Row[Any]], str | None]:
    """Log summaries matching every filter given, newest first; ``account_id`` None means every
    account."""
    conditions: list[sa.ColumnElement[bool]] = within(logs.c.created_at, start, end)
    if account_id is not None:
        conditions.append(logs.c.account_id == account_id)
    if outcome is not None:
        conditions.append(logs.c.outcome == outcome)
    if log_type is not None:
        conditions.append(logs.c.type == log_type)
    if method is not None:
        conditions.append(logs.c.method == method.upper())
    if path_prefix:
        # substr rather than LIKE: exact and case-sensitive on both engines, nothing to escape.
        conditions.append(sa.func.substr(logs.c.path, 1, len(path_prefix)) == path_prefix)
    query = sa.select(*SUMMARY_COLUMNS).where(sa.and_(sa.true(), *conditions))
    return await fetch_page(conn, query, logs.c.id, limit, cursor)


async def get(conn: AsyncConnection, log_id: str, account_id: str | None) -> Row[Any] | None:
    query = logs.select().where(logs.c.id == log_id)
    if account_id is not None:
        query = query.where(logs.c.account_id == account_id)
    return (await conn.execute(query)).first()
