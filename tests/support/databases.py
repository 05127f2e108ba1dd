"""The databases the suite runs on: SQLite files, and PostgreSQL when one is reachable at
TIDINGS_TEST_DATABASE_URL. With TIDINGS_REQUIRE_POSTGRES=1 (as CI sets it) a test that cannot
have PostgreSQL, or cannot control it, fails instead of skipping."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import asyncpg
import pytest

from tidings.config import Settings

PG_URL = os.environ.get("TIDINGS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("TIDINGS_REQUIRE_POSTGRES") == "1"

# Short retries so failure paths finish in seconds; private networks for the loopback receivers.
TEST_SETTINGS: dict[str, Any] = {
    "retry_schedule": "1s,2s",
    "retry_jitter": 0.0,
    "allow_private_networks": True,
    "worker_poll_interval": 0.2,
    "delivery_timeout": 5.0,
}


def make_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    return Settings(database_url=database_url, data_dir=data_dir, **{**TEST_SETTINGS, **overrides})


def unavailable(reason: str) -> NoReturn:
    """PostgreSQL, or control over it, is not to be had here: skip the test saying why, or
    fail it when TIDINGS_REQUIRE_POSTGRES=1."""
    if REQUIRE_PG:
        pytest.fail(f"{reason} (TIDINGS_REQUIRE_POSTGRES=1)", pytrace=False)
    pytest.skip(reason)


def _pg_admin(sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(PG_URL, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


@contextmanager
def postgres_database(prefix: str = "tidings_own") -> Iterator[str]:
    """A new, empty database on the test PostgreSQL server, dropped afterwards (skips or
    fails, as ``unavailable`` says, when the server cannot be reached)."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    try:
        _pg_admin(f'CREATE DATABASE "{name}"')
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        unavailable(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    base, _, _ = PG_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def fresh_database(backend: str, directory: Path) -> Iterator[str]:
    """A new, empty database of the backend's kind, dropped afterwards."""
    if backend.startswith("sqlite"):
        yield f"sqlite:///{directory / 'own.db'}"
        return
    with postgres_database() as url:
        yield url
