"""Run the Alembic migrations that ship inside the package."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.store.db import Database, ensure_sqlite_dir, shown_url

_SCRIPTS = Path(__file__).parent / "migrations"


def _config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    cfg.attributes["url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``. Call it outside a running event loop."""
    ensure_sqlite_dir(url)
    command.upgrade(_config(url), revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config("")).get_current_head()


def schema_problem(revision: str | None) -> str | None:
    """Why this version cannot work with a database at ``revision``, or None when it can:
    at this version's head, or ahead of it (a newer release migrated it first; migrations
    only add, so processes not yet upgraded keep working during a rolling upgrade)."""
    scripts = ScriptDirectory.from_config(_config(""))
    head = scripts.get_current_head()
    if revision == head:
        return None
    known = {script.revision for script in scripts.walk_revisions()}
    if revision is not None and revision not in known:
        return None
    return f"at {revision}, this version needs {head}: run `tidings migrate`"


async def current_revision(conn: AsyncConnection) -> str | None:
    def _read(sync_conn: object) -> str | None:
        return MigrationContext.configure(sync_conn).get_current_revision()  # type: ignore[arg-type]

    return await conn.run_sync(_read)


async def readiness(db: Database) -> str:
    """ "ok" when the database answers and its schema fits this version; else why not. Raises
    when the database cannot be reached."""
    async with db.read() as conn:
        await conn.execute(sa.text("SELECT 1"))
        revision = await current_revision(conn)
    return schema_problem(revision) or "ok"


def missing_database(url: str) -> str | None:
    """Why there is no Tidings database at ``url`` to work on, or None when there is one.
    Creates nothing: a SQLite file that does not exist is not opened (opening would make it).
    Call it outside a running event loop."""
    shown = shown_url(url)
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:" and not Path(database).is_file():
            return f"no Tidings database at {Path(database).resolve()}"

    async def revision() -> str | None:
        db = Database(url)
        try:
            async with db.read() as conn:
                return await current_revision(conn)
        finally:
            await db.dispose()

    try:
        found = asyncio.run(revision())
    except Exception as exc:  # any failure to reach it: say so, in one line
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"cannot open the database at {shown}: {reason}"
    if found is None:
        return f"no Tidings schema in the database at {shown}"
    return None
