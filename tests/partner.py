"""A partner's side of the delivery tests: a fresh account with its own key on a running server,
and the calls and waits the tests make through the public API only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
from aiohttp.abc import AbstractResolver

from tests.conftest import make_settings
from tests.server import RunningServer
from tidings.core.clock import Clock

T = TypeVar("T")


def open_account(server: RunningServer, name: str = "Partner") -> httpx.Client:
    """A new account on ``server`` and a client holding its secret key."""
    return open_account_at(server.base_url, server.operator_key, name)


def open_account_at(base_url: str, operator_key: str, name: str = "Partner") -> httpx.Client:
    """A new account on the server at ``base_url`` and a client holding its secret key."""
    auth = {"Authorization": f"Bearer {operator_key}"}
    created = httpx.post(f"{base_url}/v1/accounts", json={"name": name}, headers=auth)
    assert created.status_code == 201, created.text
    key = httpx.post(
        f"{base_url}/v1/api-keys",
        json={"name": "backend"},
        headers={**auth, "Tidings-Account": created.json()["id"]},
    )
    assert key.status_code == 201, key.text
    return httpx.Client(base_url=base_url, headers={"X-Api-Key": key.json()["key"]}, timeout=30)


@contextmanager
def own_server(
    database_url: str, data_dir: Path, clock: Clock | None = None, **settings: Any
) -> Iterator[httpx.Client]:
    """A server of its own (on a database no other server uses) with ``settings`` on top of
    the test ones; yields a client for a fresh account on it."""
    with (
        RunningServer(make_settings(database_url, data_dir, **settings), clock=clock) as server,
        open_account(server) as client,
    ):
        yield client


@contextmanager
def server_starter(database_url: str, data_dir: Path) -> Iterator[Callable[..., httpx.Client]]:
    """Start servers with extra settings on demand (each with an "order.paid" event type and
    a fresh account); all stop when the block ends. One at a time per database: a second
    server's worker would claim the same rows."""
    with ExitStack() as stack:

        def start(
            resolver: AbstractResolver | None = None,
            clock: Clock | None = None,
            **settings: Any,
        ) -> httpx.Client:
            running = stack.enter_context(
                RunningServer(
                    make_settings(database_url, data_dir, **settings),
                    clock=clock,
                    resolver=resolver,
                )
            )
            client = stack.enter_context(closing(open_account(running)))
            add_event_type(client, "order.paid")
            return client

        yield start


def add_event_type(client: httpx.Client, name: str) -> str:
    response = client.post("/v1/event-types", json={"name": name})
    assert response.status_code == 201, response.text
    return name


def create_webhook(client: httpx.Client, url: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/webhooks", json={"url": url, **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


def publish(client: httpx.Client, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/events", json={"eventType": event_type, "eventData": data})
    assert response.status_code == 202, response.text
    return dict(response.json())


def publish_concurrently(
    client: httpx.Client, event_type: str, payloads: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Publish every payload at once, as concurrent requests; the answers in payload order."""

    async def _all() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(
            base_url=str(client.base_url), headers=dict(client.headers), timeout=30
        ) as concurrent:
            answers = await asyncio.gather(
                *(
                    concurrent.post("/v1/events", json={"eventType": event_type, "eventData": data})
                    for data in payloads
                )
            )
        for answer in answers:
            assert answer.status_code == 202, answer.text
        return [dict(a.json()) for a in answers]

    return asyncio.run(_all())


def notification(client: httpx.Client, notification_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/notifications/{notification_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def webhook(client: httpx.Client, webhook_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/webhooks/{webhook_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def eventually(check: Callable[[], T | None], timeout: float = 15.0, what: str = "condition") -> T:
    """Poll ``check`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached within {timeout}s (last: {last!r})")


def wait_status(
    client: httpx.Client, notification_id: str, status: str, timeout: float = 15.0
) -> dict[str, Any]:
    def _check() -> dict[str, Any] | None:
        found = notification(client, notification_id)
        return found if found["status"] == status else None

    return eventually(_check, timeout, f"notification {notification_id} {status}")
