"""SQLite's driver adapter (store/sqlite_driver.py): one trip to aiosqlite's thread per
statement, with the results, counts and errors SQLAlchemy's own adapter gives."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.store.db import Database

_Body = Callable[[Database, AsyncConnection, Callable[[], int]], Awaitable[Any]]


class _Counting:
    def __init__(self, queue: Any) -> None:
        self.queue = queue
        self.count = 0

    def put_nowait(self, item: Any) -> None:
        self.count += 1
        self.queue.put_nowait(item)


def _with_trips(tmp_path: Path, body: _Body) -> Any:
    """Run ``body(db, conn, trips)`` on a fresh SQLite file with a table ``t``; ``trips()`` is
    how many functions the connection's thread has been handed so far."""

    async def run() -> Any:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
        try:
            async with db.write() as conn:
                await conn.execute(
                    sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)")
                )
            async with db.engine.connect() as conn:
                driver: Any = (await conn.get_raw_connection()).driver_connection
                handed = driver._tx  # aiosqlite's queue to the connection's thread
                counting = _Counting(handed)
                driver._tx = counting  # the thread keeps reading the queue itself
                try:
                    return await body(db, conn, lambda: counting.count)
                finally:
                    driver._tx = handed
        finally:
            await db.dispose()

    return asyncio.run(run())


def test_a_statement_is_one_trip_to_the_drivers_thread(tmp_path: Path) -> None:
    async def body(_db: Database, conn: AsyncConnection, trips: Callable[[], int]) -> Any:
        await conn.execute(sa.text("INSERT INTO t (v) VALUES ('a'), ('b')"))
        before = trips()
        rows = (await conn.execute(sa.text("SELECT id, v FROM t ORDER BY id"))).all()
        return rows, trips() - before

    rows, trips = _with_trips(tmp_path, body)
    assert [tuple(r) for r in rows] == [(1, "a"), (2, "b")]
    assert trips == 1  # SQLAlchemy's adapter: four (cursor, execute, fetchall, close)


def test_counts_rows_and_errors_are_the_drivers(tmp_path: Path) -> None:
    async def body(_db: Database, conn: AsyncConnection, _trips: Callable[[], int]) -> Any:
        inserted = await conn.execute(sa.text("INSERT INTO t (v) VALUES (:v)"), [{"v": "a"}])
        many = await conn.execute(
            sa.text("INSERT INTO t (v) VALUES (:v)"), [{"v": "b"}, {"v": "c"}, {"v": "d"}]
        )
        updated = await conn.execute(sa.text("UPDATE t SET v = v || '!' WHERE id > 1"))
        returning = await conn.execute(
            sa.text("UPDATE t SET v = v || '?' WHERE id <= 2 RETURNING id")
        )
        returned = sorted(returning.scalars())
        with pytest.raises(sa.exc.IntegrityError):
            await conn.execute(sa.text("INSERT INTO t (v) VALUES ('c!')"))
        return (
            inserted.lastrowid,
            many.rowcount,
            updated.rowcount,
            returned,
            returning.rowcount,
        )

    lastrowid, many, updated, returned, returning = _with_trips(tmp_path, body)
    assert lastrowid == 1
    assert many == 3
    assert updated == 3
    assert returned == [1, 2]
    assert returning == 2
