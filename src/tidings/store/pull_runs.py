"""A pull's runs, the record ids it has made events of, and the sync log record of each run
(``GET /v1/logs?type=sync``)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.store.paging import fetch_page
from tidings.store.tables import logs, pull_runs, pull_seen


async def insert(conn: AsyncConnection, values: dict[str, Any]) -> None:
    await conn.execute(pull_runs.insert().values(values))


async def page(
    conn: AsyncConnection, account_id: str, pull_id: str, *, limit: int, cursor: str | None
) -> tuple[list[Row[Any]], str | None]:
    query = pull_runs.select().where(
        sa.and_(pull_runs.c.pull_id == pull_id, pull_runs.c.account_id == account_id)
    )
    return await fetch_page(conn, query, pull_runs.c.id, limit, cursor)


async def get(conn: AsyncConnection, account_id: str, run_id: str) -> Row[Any] | None:
    query = pull_runs.select().where(
        sa.and_(pull_runs.c.id == run_id, pull_runs.c.account_id == account_id)
    )
    return (await conn.execute(query)).first()


async def seen(conn: AsyncConnection, pull_id: str, record_ids: Collection[str]) -> set[str]:
    """Which of ``record_ids`` the pull has already made events of."""
    found: set[str] = set()
    ids = list(record_ids)
    # In slices: a page may hold thousands of records, more than a statement takes.
    for start in range(0, len(ids), 500):
        query = sa.select(pull_seen.c.record_id).where(
            sa.and_(pull_seen.c.pull_id == pull_id, pull_seen.c.record_id.in_(ids[start:][:500]))
        )
        found.update((await conn.execute(query)).scalars())
    return found


async def mark_seen(
    conn: AsyncConnection, pull_id: str, record_ids: Collection[str], now: int
) -> None:
    if record_ids:
        await conn.execute(
            pull_seen.insert(),
            [{"pull_id": pull_id, "record_id": r, "seen_at": now} for r in record_ids],
        )


async def insert_log(conn: AsyncConnection, values: dict[str, Any]) -> None:
    """A run's record in the log, type ``sync``: written in the run's own transaction."""
    await conn.execute(logs.insert().values(values))
