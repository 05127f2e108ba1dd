"""A partner's side of the tests: a fresh account with its own key on a running server, and the
calls, checks and waits the tests make through the public API only."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
from aiohttp.abc import AbstractResolver

from tests.support.databases import make_settings
from tests.support.server import RunningServer
from tidings.core.clock import Clock

T = TypeVar("T")

# How long a wait for something the server does by itself may take before the test fails: far
# more than it needs, so that a loaded machine is not mistaken for a broken server.
PATIENCE = 30.0

# Seed 001's (PayData) CreateWebhook body, word for word.
SEED_001_CREATE: dict[str, Any] = {
    "eventTypes": ["ReportImported", "AccountCreated"],
    "url": "https://example.de/callback_url",
    "headers": {
        "X-Partner-Secret1": "X-Test-Partner-Secret1",
        "X-Partner-Secret2": "X-Test-Partner-Secret2",
    },
    "sslVerificationDisabled": True,
    "status": "Disabled",
}


# --- accounts and clients ---------------------------------------------------------------------


def client_with_key(base_url: str, key: str) -> httpx.Client:
    """A client for the server at ``base_url`` sending ``key`` as a partner's backend does."""
    return httpx.Client(base_url=base_url, headers={"X-Api-Key": key}, timeout=30)


def operator_client(server: RunningServer) -> httpx.Client:
    """A client holding ``server``'s operator key."""
    return httpx.Client(
        base_url=server.base_url,
        headers={"Authorization": f"Bearer {server.operator_key}"},
        timeout=30,
    )


def call(
    base_url: str,
    key: str,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    **kw: Any,
) -> httpx.Response:
    """One request with ``key`` as a bearer token (any kind of key: secret, restricted,
    publishable or the operator's)."""
    return httpx.request(
        method,
        f"{base_url}{path}",
        headers={"Authorization": f"Bearer {key}", **(headers or {})},
        timeout=30,
        **kw,
    )


def create_account(
    base_url: str, operator_key: str, name: str = "Partner", key_name: str = "backend"
) -> dict[str, str]:
    """A new account on the server at ``base_url``, made with the operator key, and a secret key
    of its own: ``{"id": account id, "key": the key, "key_id": its id}``."""
    created = call(base_url, operator_key, "POST", "/v1/accounts", json={"name": name})
    assert created.status_code == 201, created.text
    account_id = created.json()["id"]
    key = call(
        base_url,
        operator_key,
        "POST",
        "/v1/api-keys",
        json={"name": key_name},
        headers={"Tidings-Account": account_id},
    )
    assert key.status_code == 201, key.text
    return {"id": account_id, "key": key.json()["key"], "key_id": key.json()["id"]}


def open_account_at(
    base_url: str, operator_key: str, name: str = "Partner", event_types: Sequence[str] = ()
) -> httpx.Client:
    """A new account on the server at ``base_url`` (with ``event_types`` of its own) and a
    client holding its secret key."""
    key = create_account(base_url, operator_key, name)["key"]
    for event_type in event_types:
        # Not through the client: one that has made a request can no longer open as a context.
        made = call(base_url, key, "POST", "/v1/event-types", json={"name": event_type})
        assert made.status_code == 201, made.text
    return client_with_key(base_url, key)


def open_account(
    server: RunningServer, name: str = "Partner", event_types: Sequence[str] = ()
) -> httpx.Client:
    """A new account on ``server`` (with ``event_types`` of its own) and a client holding its
    secret key."""
    return open_account_at(server.base_url, server.operator_key, name, event_types)


# --- servers of a test's own ------------------------------------------------------------------


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
            return stack.enter_context(closing(open_account(running, event_types=["order.paid"])))

        yield start


# --- calls ------------------------------------------------------------------------------------


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


def post_concurrently(
    client: httpx.Client, requests: Sequence[tuple[str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """POST every ``(path, body)`` at once, as concurrent requests; each must be accepted
    (202). The answers in request order."""

    async def _all() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(
            base_url=str(client.base_url), headers=dict(client.headers), timeout=30
        ) as concurrent:
            answers = await asyncio.gather(
                *(concurrent.post(path, json=body) for path, body in requests)
            )
        for answer in answers:
            assert answer.status_code == 202, answer.text
        return [dict(a.json()) for a in answers]

    return asyncio.run(_all())


def publish_concurrently(
    client: httpx.Client, event_type: str, payloads: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Publish every payload at once, as concurrent requests; the answers in payload order."""
    return post_concurrently(
        client,
        [("/v1/events", {"eventType": event_type, "eventData": data}) for data in payloads],
    )


def every_item(client: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of the list at ``path``, walking all its pages with the cursor."""
    found: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        query = {"limit": 250, **params, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=query)
        assert response.status_code == 200, response.text
        found += response.json()["data"]
        cursor = response.json()["nextCursor"]
        if cursor is None:
            return found
    raise AssertionError(f"the cursor of {path} never ran out")


def notification(client: httpx.Client, notification_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/notifications/{notification_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def webhook(client: httpx.Client, webhook_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/webhooks/{webhook_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


# --- answers ----------------------------------------------------------------------------------


def api_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is ``status`` with the error JSON; returns the error object."""
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"type", "message", "details"}, error
    assert error["message"], error
    return dict(error)


def error_fields(response: httpx.Response, status: int | None = None) -> list[str | None]:
    """The fields an error names in its details (None for a detail naming none), after
    checking the error's shape, and its status when given."""
    if status is None:
        error = response.json()["error"]
        assert set(error) == {"type", "message", "details"}, error
    else:
        error = api_error(response, status)
    return [d.get("field") for d in error["details"]]


# --- waits ------------------------------------------------------------------------------------


def eventually(
    check: Callable[[], T | None], timeout: float = PATIENCE, what: str = "condition"
) -> T:
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
    client: httpx.Client, notification_id: str, status: str, timeout: float = PATIENCE
) -> dict[str, Any]:
    """Poll GET /v1/notifications/{id} until it reaches ``status``; the notification then."""

    def _check() -> dict[str, Any] | None:
        found = notification(client, notification_id)
        return found if found["status"] == status else None

    return eventually(_check, timeout, f"notification {notification_id} {status}")
