"""The migrations build exactly the schema the code uses, on each backend."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from tidings.config import Settings
from tidings.store.migrate import head_revision, upgrade
from tidings.store.tables import metadata


def _differences(url: str) -> tuple[list[Any], str | None]:
    async def main() -> tuple[list[Any], str | None]:
        engine = create_async_engine(url)
        async with engine.connect() as conn:

            def compare(sync_conn: Any) -> tuple[list[Any], str | None]:
                context = MigrationContext.configure(sync_conn)
                return compare_metadata(context, metadata), context.get_current_revision()

            result = await conn.run_sync(compare)
        await engine.dispose()
        return result

    return asyncio.run(main())


def test_migrations_match_the_tables(own_database: str) -> None:
    url = Settings(database_url=own_database).resolved_database_url()
    upgrade(url)
    upgrade(url)  # running it again changes nothing
    differences, revision = _differences(url)
    assert differences == []
    assert revision == head_revision()
