"""Fixtures: the suite runs against a real server on SQLite, and again on PostgreSQL when one
is reachable at TIDINGS_TEST_DATABASE_URL (required when TIDINGS_REQUIRE_POSTGRES=1)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.server import RunningServer
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


async def _pg_admin(sql: str) -> None:
    conn = await asyncpg.connect(PG_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database on the test PostgreSQL server, dropped afterwards."""
    name = f"tidings_test_{secrets.token_hex(4)}"
    try:
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        message = f"PostgreSQL not reachable at {PG_URL}: {exc}"
        if REQUIRE_PG:
            pytest.fail(message + " (TIDINGS_REQUIRE_POSTGRES=1)")
        pytest.skip(message)
    base, _, _ = PG_URL.rpartition("/")
    yield f"{base}/{name}"
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def fresh_database(backend: str, directory: Path) -> Iterator[str]:
    """A new, empty database of the backend's kind, dropped afterwards."""
    if backend.startswith("sqlite"):
        yield f"sqlite:///{directory / 'own.db'}"
        return
    name = f"tidings_own_{secrets.token_hex(4)}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    base, _, _ = PG_URL.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def own_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database of the backend's kind for one test alone, so that no other server's worker
    claims its notifications."""
    with fresh_database(backend, tmp_path) as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The database URL of this run of the suite."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'tidings.db'}"
    return str(request.getfixturevalue("postgres_url"))


def make_settings(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    return Settings(database_url=database_url, data_dir=data_dir, **{**TEST_SETTINGS, **overrides})


@pytest.fixture(scope="session")
def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = make_settings(backend, tmp_path_factory.mktemp("data"))
    with RunningServer(settings) as running:
        yield running


@pytest.fixture
def operator(server: RunningServer) -> Iterator[httpx.Client]:
    """A client holding the operator key."""
    with httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {server.operator_key}"},
        timeout=30,
    ) as client:
        yield client


@pytest.fixture
def account(operator: httpx.Client) -> dict[str, Any]:
    """A fresh account and a secret key of its own."""
    created = operator.post("/v1/accounts", json={"name": "Acme Payments"})
    assert created.status_code == 201, created.text
    account_id = created.json()["id"]
    key = operator.post(
        "/v1/api-keys", json={"name": "backend"}, headers={"Tidings-Account": account_id}
    )
    assert key.status_code == 201, key.text
    return {"id": account_id, "key": key.json()["key"]}


@pytest.fixture
def client(server: RunningServer, account: dict[str, Any]) -> Iterator[httpx.Client]:
    """A client holding the account's secret key, as a partner's backend would."""
    with httpx.Client(
        base_url=server.base_url, headers={"X-Api-Key": account["key"]}, timeout=30
    ) as c:
        yield c


@pytest.fixture
def event_type(client: httpx.Client) -> str:
    """An event type with a schema, in the account's catalog."""
    response = client.post(
        "/v1/event-types",
        json={
            "name": "payment.updated",
            "category": "Payments",
            "schema": {
                "type": "object",
                "required": ["paymentId", "status"],
                "properties": {
                    "paymentId": {"type": "string"},
                    "status": {"enum": ["pending", "completed", "failed"]},
                    "amount": {"type": "number"},
                },
            },
        },
    )
    assert response.status_code == 201, response.text
    return "payment.updated"
