"""Fixtures: the suite runs against a real server on SQLite, and again on PostgreSQL when one
is reachable at TIDINGS_TEST_DATABASE_URL (required when TIDINGS_REQUIRE_POSTGRES=1). What
they are made of lives in tests/support/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from tidings_client import Tidings

from tests.support.databases import fresh_database, make_settings, postgres_database
from tests.support.partner import (
    client_with_key,
    create_account,
    open_account,
    operator_client,
    tidings_at,
)
from tests.support.server import RunningServer


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh database on the test PostgreSQL server, dropped afterwards."""
    with postgres_database("tidings_test") as url:
        yield url


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


@pytest.fixture(scope="session")
def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    settings = make_settings(backend, tmp_path_factory.mktemp("data"))
    with RunningServer(settings) as running:
        yield running


@pytest.fixture
def operator(server: RunningServer) -> Iterator[httpx.Client]:
    """A client holding the operator key."""
    with operator_client(server) as client:
        yield client


@pytest.fixture
def account(server: RunningServer) -> dict[str, Any]:
    """A fresh account and a secret key of its own."""
    return create_account(server.base_url, server.operator_key, "Acme Payments")


@pytest.fixture
def client(server: RunningServer, account: dict[str, Any]) -> Iterator[httpx.Client]:
    """A client holding the account's secret key, as a partner's backend would."""
    with client_with_key(server.base_url, account["key"]) as c:
        yield c


@pytest.fixture
def partner(server: RunningServer, account: dict[str, Any]) -> Iterator[Tidings]:
    """The Python client holding the account's secret key: what the suites that check what
    happens, rather than the HTTP of it, talk to the server with."""
    with tidings_at(server.base_url, account["key"]) as t:
        yield t


@pytest.fixture
def other_client(server: RunningServer) -> Iterator[httpx.Client]:
    """A second account's client: nothing of the first account may be visible to it."""
    with open_account(server, "Globex Bookings") as c:
        yield c


@pytest.fixture
def event_type(partner: Tidings) -> str:
    """An event type with a schema, in the account's catalog."""
    partner.event_types.create(
        "payment.updated",
        category="Payments",
        schema={
            "type": "object",
            "required": ["paymentId", "status"],
            "properties": {
                "paymentId": {"type": "string"},
                "status": {"enum": ["pending", "completed", "failed"]},
                "amount": {"type": "number"},
            },
        },
    )
    return "payment.updated"
