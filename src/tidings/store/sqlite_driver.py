"""SQLAlchemy's aiosqlite dialect with one trip to the driver's thread per statement.

aiosqlite runs each SQLite connection in a thread of its own; every awaited call is a trip
there and back (a queue put, a thread wake-up, a call back into the event loop: ~0.15 ms on
an idle 2-core machine). SQLAlchemy's adapter makes four per statement (open a cursor,
execute, fetch the rows, close the cursor), so a statement cost ~0.6 ms of waiting, and a
publish (BEGIN, two INSERTs, COMMIT) or a claim (BEGIN, four or five statements, COMMIT) several
milliseconds. The cursor here does all four in one function run on that thread.

The connection, pool, dialect and everything else stay SQLAlchemy's; ``sqlite+aiosqlite`` URLs
are served by this dialect (``store/db.py``). It uses aiosqlite's ``_execute`` (run a function
on the connection's thread), which SQLAlchemy's own adapter also reaches past the public API
for (its ``_tx`` queue and ``_conn``)."""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import EMPTY_DICT

# What ``Dialect`` is registered as, for ``sqlite+<DRIVER>://`` URLs (store/db.py).
DRIVER = "tidings_aiosqlite"

_Ran = tuple[Any, list[Any], int, int | None]


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Ran:
    """On the connection's thread: the statement, its rows and counts, the cursor closed."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        # Read after the rows: for a statement with RETURNING, SQLite counts them as fetched.
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class _Cursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor whose statement runs in one trip; its results are kept here (no driver cursor
    stays open, so closing costs nothing)."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        return await self._ran(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        return await self._ran(operation, seq_of_parameters, many=True)

    async def _ran(self, operation: Any, parameters: Any, *, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            ran = await self._connection._execute(
                _run, self._connection._conn, operation, parameters, many
            )
        self._description, rows, self._rowcount, self._lastrowid = ran
        self._rows = collections.deque(rows)

    async def _async_soft_close(self) -> None:
        return None

    def close(self) -> None:
        self._rows.clear()


class _Connection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = _Cursor


class _DBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> _Connection:
        adapted = super().connect(*arg, **kw)
        return _Connection(self, adapted._connection)


class Dialect(SQLiteDialect_aiosqlite):
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> _DBAPI:
        return _DBAPI(__import__("aiosqlite"), sqlite3)
