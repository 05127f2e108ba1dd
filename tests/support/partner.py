"""A partner's side of the tests: a fresh account with its own key on a running server, and the
calls, checks and waits the tests make through the public API only.

The calls go through the Python client (``tidings_client``), as a partner's backend would make
them. Each takes either that client or a raw ``httpx.Client`` (``tidings_for`` makes the one of
the other): the contract tests, which check statuses, headers and error bodies, keep the raw
client and still use these for what they only need done."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
from aiohttp.abc import AbstractResolver
from tidings_client import AsyncTidings, Paginator, Tidings

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

# What the calls below take: the Python client, or a raw client holding a key (in X-Api-Key or
# as a bearer token).
Partner = Tidings | httpx.Client


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


def tidings_at(base_url: str, key: str, account: str | None = None) -> Tidings:
    """The Python client for ``key`` on the server at ``base_url`` (acting for ``account``, with
    an operator key). It never retries: a 429 or a 503 fails the test, as it did on raw httpx,
    rather than being waited out."""
    return Tidings(key, base_url, account=account, max_retries=0)


def tidings_for(client: Partner) -> Tidings:
    """``client`` as the Python client: a ``Tidings`` as it is; a raw client's key and account,
    sent through that raw client itself (its connections, its headers; closing one closes
    both)."""
    if isinstance(client, Tidings):
        return client
    headers = client.headers
    key = headers.get("X-Api-Key") or headers.get("Authorization", "").removeprefix("Bearer ")
    assert key, "the client holds no API key"
    return Tidings(
        key,
        str(client.base_url),
        account=headers.get("Tidings-Account"),
        max_retries=0,
        http_client=client,
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
    with tidings_at(base_url, operator_key) as operator:
        account_id = operator.accounts.create(name)["id"]
        with operator.for_account(account_id) as acting:
            key = acting.api_keys.create(key_name)
    return {"id": account_id, "key": key["key"], "key_id": key["id"]}


def _account_key(base_url: str, operator_key: str, name: str, event_types: Sequence[str]) -> str:
    """The secret key of a new account with ``event_types`` of its own."""
    key = create_account(base_url, operator_key, name)["key"]
    with tidings_at(base_url, key) as partner:
        for event_type in event_types:
            add_event_type(partner, event_type)
    return key


def open_account_at(
    base_url: str, operator_key: str, name: str = "Partner", event_types: Sequence[str] = ()
) -> httpx.Client:
    """A new account on the server at ``base_url`` (with ``event_types`` of its own) and a raw
    client holding its secret key, not yet opened (it opens as a context only before its first
    request)."""
    return client_with_key(base_url, _account_key(base_url, operator_key, name, event_types))


def open_account(
    server: RunningServer, name: str = "Partner", event_types: Sequence[str] = ()
) -> httpx.Client:
    """A new account on ``server`` (with ``event_types`` of its own) and a raw client holding
    its secret key."""
    return open_account_at(server.base_url, server.operator_key, name, event_types)


def open_partner(
    server: RunningServer, name: str = "Partner", event_types: Sequence[str] = ()
) -> Tidings:
    """A new account on ``server`` (with ``event_types`` of its own) and the Python client
    holding its secret key."""
    key = _account_key(server.base_url, server.operator_key, name, event_types)
    return tidings_at(server.base_url, key)


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
def own_partner(
    database_url: str, data_dir: Path, clock: Clock | None = None, **settings: Any
) -> Iterator[Tidings]:
    """``own_server``, yielding the Python client for the fresh account."""
    with (
        RunningServer(make_settings(database_url, data_dir, **settings), clock=clock) as server,
        open_partner(server) as partner,
    ):
        yield partner


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


def add_event_type(client: Partner, name: str) -> str:
    tidings_for(client).event_types.create(name)
    return name


def create_webhook(client: Partner, url: str, **fields: Any) -> dict[str, Any]:
    """A webhook; ``fields`` as the client's ``webhooks.create`` takes them (snake_case or the
    API's camelCase)."""
    return dict(tidings_for(client).webhooks.create(url, **fields))


def publish(client: Partner, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return dict(tidings_for(client).events.publish(event_type, data))


def concurrently(
    client: Partner, calls: Sequence[Callable[[AsyncTidings], Awaitable[T]]]
) -> list[T]:
    """Make every call at once, as concurrent requests through one async client holding
    ``client``'s key; the answers in call order (an error answer fails the test)."""
    partner = tidings_for(client)

    async def _all() -> list[T]:
        async with AsyncTidings(
            partner.api_key, partner.base_url, account=partner.account, max_retries=0
        ) as concurrent:
            return list(await asyncio.gather(*(made(concurrent) for made in calls)))

    return asyncio.run(_all())


def publish_concurrently(
    client: Partner, event_type: str, payloads: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Publish every payload at once, as concurrent requests; the answers in payload order."""
    return concurrently(
        client,
        [
            lambda concurrent, data=data: concurrent.events.publish(event_type, data)
            for data in payloads
        ],
    )


def every_item(listing: Paginator, max_pages: int = 100) -> list[dict[str, Any]]:
    """Every item of a list of the Python client (``client.webhooks.list(...)``), walking all its
    pages; a cursor that never runs out fails the test."""
    found: list[dict[str, Any]] = []
    for page in itertools.islice(listing.pages(), max_pages):
        found += page.data
        if not page.next_cursor:
            return found
    raise AssertionError(f"the cursor never ran out after {max_pages} pages")


def notification(client: Partner, notification_id: str) -> dict[str, Any]:
    return dict(tidings_for(client).notifications.get(notification_id))


def webhook(client: Partner, webhook_id: str) -> dict[str, Any]:
    return dict(tidings_for(client).webhooks.get(webhook_id))


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
    client: Partner, notification_id: str, status: str, timeout: float = PATIENCE
) -> dict[str, Any]:
    """Poll GET /v1/notifications/{id} until it reaches ``status``; the notification then."""

    def _check() -> dict[str, Any] | None:
        found = notification(client, notification_id)
        return found if found["status"] == status else None

    return eventually(_check, timeout, f"notification {notification_id} {status}")
