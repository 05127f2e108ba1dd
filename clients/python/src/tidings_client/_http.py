"""Sending one call: auth, retries of safe calls honouring ``Retry-After``, decoding, errors.
The sync and async clients share everything but the sending itself."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from tidings_client._errors import TidingsConnectionError, error_for, retry_after_seconds

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
# Methods whose repetition does no harm: retried on 429, 503 and connection errors.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 503})
# A Retry-After longer than this is not waited for: the error is raised instead.
MAX_RETRY_WAIT = 60.0


@dataclass
class Call:
    """One API call, described before it is sent."""

    method: str
    path: str
    params: dict[str, Any] = field(default_factory=dict)
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    # Retried although its method is not safe (publish with an idempotency key).
    idempotent: bool = False
    # Sent without the client's API key (a push authenticates with the source's own).
    anonymous: bool = False

    @property
    def retryable(self) -> bool:
        return self.idempotent or self.method in SAFE_METHODS

    def query(self) -> dict[str, str]:
        return {k: _query_value(v) for k, v in self.params.items() if v is not None}


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def body_of(fields: dict[str, Any]) -> dict[str, Any]:
    """A JSON body from keyword arguments: snake_case names written in camelCase, ``None``
    left out (pass ``UNSET``-free dicts yourself to send an explicit null)."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            value = value.isoformat()
        out[camel(name)] = value
    return out


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def decode(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise error_for(response)
    if response.status_code == 204 or not response.content:
        return None
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.json()
    return response.text


class Retrying:
    """How long to wait before each retry of a retryable call."""

    def __init__(self, max_retries: int) -> None:
        self.max_retries = max_retries

    def wait(self, call: Call, attempt: int, response: httpx.Response | None) -> float | None:
        """Seconds to wait before trying ``call`` again, or None to give up."""
        if not call.retryable or attempt >= self.max_retries:
            return None
        if response is not None:
            if response.status_code not in RETRY_STATUSES:
                return None
            told = retry_after_seconds(response.headers.get("retry-after"))
            if told is not None:
                return told if told <= MAX_RETRY_WAIT else None
        # No Retry-After (or no answer): exponential backoff with jitter.
        backoff: float = min(MAX_RETRY_WAIT, 0.5 * 2**attempt)
        return backoff * (0.5 + random.random() / 2)


def headers_for(api_key: str, account: str | None, user_agent: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {api_key}", "User-Agent": user_agent}
    if account:
        headers["Tidings-Account"] = account
    return headers


def build(http: httpx.Client | httpx.AsyncClient, call: Call) -> httpx.Request:
    request = http.build_request(
        call.method,
        call.path,
        params=call.query(),
        json=call.json,
        content=call.content,
        headers=call.headers,
    )
    if call.anonymous:
        for name in ("authorization", "tidings-account"):
            request.headers.pop(name, None)
    return request


class SyncSender:
    def __init__(self, http: httpx.Client, retrying: Retrying) -> None:
        self.http = http
        self.retrying = retrying

    def send(self, call: Call) -> Any:
        attempt = 0
        while True:
            response: httpx.Response | None = None
            try:
                response = self.http.send(build(self.http, call))
            except httpx.TransportError as exc:
                wait = self.retrying.wait(call, attempt, None)
                if wait is None:
                    raise TidingsConnectionError(f"{type(exc).__name__}: {exc}") from exc
            else:
                wait = self.retrying.wait(call, attempt, response)
                if wait is None:
                    return decode(response)
            time.sleep(wait)
            attempt += 1

    def stream(self, call: Call) -> Iterator[tuple[str, Any]]:
        with self.http.stream(
            call.method,
            call.path,
            params=call.query(),
            headers=call.headers,
            timeout=httpx.Timeout(30, read=None),
        ) as response:
            if response.status_code >= 400:
                response.read()
                decode(response)
            yield from server_sent_events(response.iter_lines())


class AsyncSender:
    def __init__(self, http: httpx.AsyncClient, retrying: Retrying) -> None:
        self.http = http
        self.retrying = retrying

    async def send(self, call: Call) -> Any:
        attempt = 0
        while True:
            try:
                response = await self.http.send(build(self.http, call))
            except httpx.TransportError as exc:
                wait = self.retrying.wait(call, attempt, None)
                if wait is None:
                    raise TidingsConnectionError(f"{type(exc).__name__}: {exc}") from exc
            else:
                wait = self.retrying.wait(call, attempt, response)
                if wait is None:
                    return decode(response)
            await asyncio.sleep(wait)
            attempt += 1

    async def stream(self, call: Call) -> AsyncIterator[tuple[str, Any]]:
        async with self.http.stream(
            call.method,
            call.path,
            params=call.query(),
            headers=call.headers,
            timeout=httpx.Timeout(30, read=None),
        ) as response:
            if response.status_code >= 400:
                await response.aread()
                decode(response)
            lines: list[str] = []
            async for line in response.aiter_lines():
                lines.append(line)
                if not line:
                    for event in server_sent_events(iter(lines)):
                        yield event
                    lines = []


def server_sent_events(lines: Iterator[str]) -> Iterator[tuple[str, Any]]:
    """``(event name, decoded data)`` from Server-Sent Events lines; comments skipped."""
    import json

    name, data = "message", list[str]()
    for line in lines:
        if line.startswith(":"):
            continue
        if not line:
            if data:
                yield name, json.loads("\n".join(data))
            name, data = "message", []
        elif line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())


class Page:
    """One page: ``data`` and ``next_cursor``."""

    def __init__(self, body: Any) -> None:
        if isinstance(body, list):  # a plain list answer: a single page
            self.data: list[Any] = body
            self.next_cursor: str | None = None
        else:
            self.data = list(body.get("data") or [])
            self.next_cursor = body.get("nextCursor")


class Paginator:
    """A list, fetched page by page as it is iterated (``for item in client.logs.list()``).
    ``pages()`` iterates the pages themselves; ``first()`` the first item or None."""

    def __init__(self, send: Callable[[Call], Any], call: Call) -> None:
        self._send = send
        self._call = call

    def pages(self) -> Iterator[Page]:
        cursor: str | None = self._call.params.get("cursor")
        while True:
            params = {**self._call.params, "cursor": cursor}
            page = Page(self._send(Call(self._call.method, self._call.path, params)))
            yield page
            cursor = page.next_cursor
            if not cursor:
                return

    def __iter__(self) -> Iterator[Any]:
        for page in self.pages():
            yield from page.data

    def first(self) -> Any:
        return next(iter(self), None)


class AsyncPaginator:
    """The async client's lists: ``async for item in client.logs.list()``."""

    def __init__(self, send: Callable[[Call], Any], call: Call) -> None:
        self._send = send
        self._call = call

    async def pages(self) -> AsyncIterator[Page]:
        cursor: str | None = self._call.params.get("cursor")
        while True:
            params = {**self._call.params, "cursor": cursor}
            page = Page(await self._send(Call(self._call.method, self._call.path, params)))
            yield page
            cursor = page.next_cursor
            if not cursor:
                return

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for page in self.pages():
            for item in page.data:
                yield item

    async def first(self) -> Any:
        async for item in self:
            return item
        return None

    async def to_list(self) -> list[Any]:
        return [item async for item in self]
