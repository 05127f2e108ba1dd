"""``Tidings`` and ``AsyncTidings``: one attribute per resource of the API."""

from __future__ import annotations

import os
from typing import Any, ClassVar, Generic, TypeVar

import httpx

from tidings_client import _resources as r
from tidings_client._http import (
    DEFAULT_BASE_URL,
    AsyncPaginator,
    AsyncSender,
    Call,
    Paginator,
    Retrying,
    SyncSender,
    headers_for,
)

__version__ = "0.1.0"
USER_AGENT = f"tidings-client-python/{__version__}"


H = TypeVar("H", httpx.Client, httpx.AsyncClient)
C = TypeVar("C", bound="BaseClient[Any]")


class BaseClient(Generic[H]):
    """What both clients share: the resources, built over ``_send``, ``_paginate`` and
    ``_stream``, which each client makes with its own kind of HTTP client (``H``), sender and
    paginator."""

    webhooks: r.Webhooks
    event_types: r.EventTypes
    events: r.Events
    notifications: r.Notifications
    logs: r.Logs
    api_keys: r.ApiKeys
    accounts: r.Accounts
    sources: r.Sources
    pulls: r.Pulls
    users: r.Users
    listen: r.Listen
    operations: r.Operations

    RESOURCES: dict[str, type[r.Resource]] = {
        "webhooks": r.Webhooks,
        "event_types": r.EventTypes,
        "events": r.Events,
        "notifications": r.Notifications,
        "logs": r.Logs,
        "api_keys": r.ApiKeys,
        "accounts": r.Accounts,
        "sources": r.Sources,
        "pulls": r.Pulls,
        "users": r.Users,
        "listen": r.Listen,
        "operations": r.Operations,
    }

    # Each client's own: its HTTP client class, its sender and its paginator.
    _http_class: ClassVar[type[Any]]
    _sender_class: ClassVar[type[Any]]
    _paginator_class: ClassVar[type[Any]]

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        account: str | None = None,
        max_retries: int = 3,
        timeout: float = 30.0,
        http_client: H | None = None,
    ) -> None:
        key = api_key or os.environ.get("TIDINGS_API_KEY")
        if not key:
            raise ValueError("an API key is needed: pass api_key or set TIDINGS_API_KEY")
        self.api_key = key
        self.base_url = (base_url or os.environ.get("TIDINGS_API_URL") or DEFAULT_BASE_URL).rstrip(
            "/"
        )
        self.account = account
        self.max_retries = max_retries
        self._retrying = Retrying(max_retries)
        for name, kind in self.RESOURCES.items():
            setattr(self, name, kind(self))
        self._timeout = timeout
        self._http: H = http_client or self._http_class(
            base_url=self.base_url, headers=self._headers(), timeout=timeout
        )
        self._sender = self._sender_class(self._http, self._retrying)

    def for_account(self: C, account: str) -> C:
        """The same key acting for ``account`` (operator keys)."""
        return type(self)(
            self.api_key,
            self.base_url,
            account=account,
            max_retries=self.max_retries,
            timeout=self._timeout,
        )

    def _headers(self) -> dict[str, str]:
        return headers_for(self.api_key, self.account, USER_AGENT)

    def _send(self, call: Call) -> Any:
        return self._sender.send(call)

    def _paginate(self, call: Call) -> Any:
        return self._paginator_class(self._send, call)

    def _stream(self, call: Call) -> Any:
        return self._sender.stream(call)


class Tidings(BaseClient[httpx.Client]):
    """The Tidings API.

    ``Tidings(api_key, base_url="http://127.0.0.1:8000")``; ``api_key`` and ``base_url``
    default to ``TIDINGS_API_KEY`` and ``TIDINGS_API_URL``. An operator key acts for an
    account with ``account="acc_…"`` (the ``Tidings-Account`` header)."""

    _http_class = httpx.Client
    _sender_class = SyncSender
    _paginator_class = Paginator

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Tidings:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class AsyncTidings(BaseClient[httpx.AsyncClient]):
    """The Tidings API for asyncio: the same resources as ``Tidings``; every call is
    awaited, lists are iterated with ``async for`` (``await ….to_list()`` gathers one)."""

    _http_class = httpx.AsyncClient
    _sender_class = AsyncSender
    _paginator_class = AsyncPaginator

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncTidings:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()


def routes(client_class: type[BaseClient[Any]] = Tidings) -> dict[tuple[str, str], str]:
    """``(METHOD, path template) → "resource.method"`` for every API operation the client
    calls (read from the ``@route`` marks)."""
    found: dict[tuple[str, str], str] = {}
    for name, kind in client_class.RESOURCES.items():
        for attr in dir(kind):
            marked = getattr(getattr(kind, attr), "route", None)
            if marked:
                found[marked] = f"{name}.{attr}"
    return found
