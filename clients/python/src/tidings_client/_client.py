"""``Tidings`` and ``AsyncTidings``: one attribute per resource of the API."""

from __future__ import annotations

import os
from typing import Any

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


class BaseClient:
    """What both clients share: the resources, built over ``_send``, ``_paginate`` and
    ``_stream``, which each client implements its own way."""

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

    def __init__(
        self,
        api_key: str | None,
        base_url: str | None,
        account: str | None,
        max_retries: int,
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

    def _headers(self) -> dict[str, str]:
        return headers_for(self.api_key, self.account, USER_AGENT)

    def _send(self, call: Call) -> Any:
        raise NotImplementedError

    def _paginate(self, call: Call) -> Any:
        raise NotImplementedError

    def _stream(self, call: Call) -> Any:
        raise NotImplementedError


class Tidings(BaseClient):
    """The Tidings API.

    ``Tidings(api_key, base_url="http://127.0.0.1:8000")``; ``api_key`` and ``base_url``
    default to ``TIDINGS_API_KEY`` and ``TIDINGS_API_URL``. An operator key acts for an
    account with ``account="acc_…"`` (the ``Tidings-Account`` header)."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        account: str | None = None,
        max_retries: int = 3,
        timeout: float = 30.0,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(api_key, base_url, account, max_retries)
        self._timeout = timeout
        self._http = http_client or httpx.Client(
            base_url=self.base_url, headers=self._headers(), timeout=timeout
        )
        self._sender = SyncSender(self._http, self._retrying)

    def for_account(self, account: str) -> Tidings:
        """The same key acting for ``account`` (operator keys)."""
        return Tidings(
            self.api_key,
            self.base_url,
            account=account,
            max_retries=self.max_retries,
            timeout=self._timeout,
        )

    def _send(self, call: Call) -> Any:
        return self._sender.send(call)

    def _paginate(self, call: Call) -> Paginator:
        return Paginator(self._send, call)

    def _stream(self, call: Call) -> Any:
        return self._sender.stream(call)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Tidings:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class AsyncTidings(BaseClient):
    """The Tidings API for asyncio: the same resources as ``Tidings``; every call is
    awaited, lists are iterated with ``async for`` (``await ….to_list()`` gathers one)."""

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        *,
        account: str | None = None,
        max_retries: int = 3,
        timeout: float = 30.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(api_key, base_url, account, max_retries)
        self._timeout = timeout
        self._http = http_client or httpx.AsyncClient(
            base_url=self.base_url, headers=self._headers(), timeout=timeout
        )
        self._sender = AsyncSender(self._http, self._retrying)

    def for_account(self, account: str) -> AsyncTidings:
        return AsyncTidings(
            self.api_key,
            self.base_url,
            account=account,
            max_retries=self.max_retries,
            timeout=self._timeout,
        )

    def _send(self, call: Call) -> Any:
        return self._sender.send(call)

    def _paginate(self, call: Call) -> AsyncPaginator:
        return AsyncPaginator(self._send, call)

    def _stream(self, call: Call) -> Any:
        return self._sender.stream(call)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncTidings:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()


def routes(client_class: type[BaseClient] = Tidings) -> dict[tuple[str, str], str]:
    """``(METHOD, path template) → "resource.method"`` for every API operation the client
    calls (read from the ``@route`` marks)."""
    found: dict[tuple[str, str], str] = {}
    for name, kind in client_class.RESOURCES.items():
        for attr in dir(kind):
            marked = getattr(getattr(kind, attr), "route", None)
            if marked:
                found[marked] = f"{name}.{attr}"
    return found
