"""The connection to the store: one async engine, with SQLite's single writer made explicit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import registry
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from tidings.store import sqlite_driver

registry.register(f"sqlite.{sqlite_driver.DRIVER}", sqlite_driver.__name__, "Dialect")


class Database:
    """Reads run concurrently; on SQLite, writes take a process-wide lock so that two
    transactions never race for SQLite's one write lock (which would fail with 'database is
    locked' instead of waiting)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine: AsyncEngine = _create_engine(url)
        self._write_lock = asyncio.Lock() if self.is_sqlite else None

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            if not self.is_sqlite:
                # No BEGIN and ROLLBACK around the queries: two round trips fewer per read.
                await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that commits when the block exits without an exception."""
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self.engine.connect() as conn:
            # IMMEDIATE takes the write lock up front: no upgrade deadlock mid-transaction.
            conn.sync_connection.info["begin_mode"] = "IMMEDIATE"  # type: ignore[union-attr]
            async with conn.begin():
                yield conn

    def asyncpg_dsn(self) -> str:
        """The URL as asyncpg takes it, for the connections that live outside the pool
        (LISTEN, the scheduler's advisory lock)."""
        return make_url(self.url).set(drivername="postgresql").render_as_string(False)

    async def dispose(self) -> None:
        await self.engine.dispose()


# The connection type the store's functions take, for callers that hold one open (a
# transaction spanning several store calls) without importing SQLAlchemy themselves.
Connection = AsyncConnection


# What a statement raises when the database fails it or cannot be reached (a front maps them
# to 503 when ``is_unavailable`` says so, else 500).
DATABASE_ERRORS: tuple[type[Exception], ...] = (sa.exc.DBAPIError, OSError)


def is_conflict(exc: BaseException) -> bool:
    """Whether an error is a unique constraint refusing a row (a concurrent duplicate)."""
    return isinstance(exc, sa.exc.IntegrityError)


def is_unavailable(exc: BaseException) -> bool:
    """Whether an error means the database cannot take the statement right now (restart,
    network, or PostgreSQL chose this transaction to end a deadlock and rolled it back), as
    opposed to a bad statement: the caller should answer 503 and try again later."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, sa.exc.DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, sa.exc.InterfaceError | sa.exc.OperationalError):
            return True
        if isinstance(seen, OSError | ConnectionError | TimeoutError):
            return True
        if type(seen).__module__.startswith("asyncpg") and type(seen).__name__ in _PG_AGAIN:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


# asyncpg's errors for a server that is going away or not up yet.
_PG_DOWN = {
    "CannotConnectNowError",
    "ConnectionDoesNotExistError",
    "ConnectionFailureError",
    "AdminShutdownError",
    "CrashShutdownError",
    "InterfaceError",
    "InternalClientError",
}
# ... and for a transaction PostgreSQL rolled back so that another could go on: trying it again
# is all it takes (a webhook deleted while its worker records outcomes, say).
_PG_AGAIN = _PG_DOWN | {"DeadlockDetectedError", "SerializationError"}


def _create_engine(url: str) -> AsyncEngine:
    if not url.startswith("sqlite"):
        # No pre-ping (a round trip on every checkout): after a server restart the first use
        # of a dead connection fails, SQLAlchemy then drops the whole pool, and that one
        # request is answered 503 (the worker retries its claim).
        return create_async_engine(url, pool_size=20, max_overflow=10)
    ensure_sqlite_dir(url)
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        # The same driver, one trip to its thread per statement instead of four.
        parsed = parsed.set(drivername=f"sqlite+{sqlite_driver.DRIVER}")
    # No rollback when a connection goes back to the pool: every use has already ended its
    # transaction (a write commits or rolls back, a read's connection rolls back on close),
    # and on aiosqlite the extra rollback is one more hop to the driver's thread per use.
    engine = create_async_engine(parsed, connect_args={"timeout": 30}, pool_reset_on_return=None)

    @sa.event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        # Let our explicit BEGIN statements through instead of the driver's implicit ones.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit survives power loss, so a 202 means the event is on disk.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa.event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        # Reads get a deferred BEGIN; Database.write asks for IMMEDIATE.
        conn.exec_driver_sql("BEGIN " + conn.info.pop("begin_mode", ""))

    return engine


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a SQLite file so that a fresh data dir just works."""
    if not url.startswith("sqlite"):
        return
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def shown_url(url: str) -> str:
    """A database URL fit to print: its password hidden."""
    return make_url(url).render_as_string(hide_password=True)
