"""Fetching a pull's URL: GET with basic auth through the same SSRF guard, timeout and
redirect rule as deliveries (outbound/guard.py; redirects are not followed), with a limit on
the bytes taken from each page, following ``Link: <…>; rel="next"`` pages, and sending
``If-None-Match`` with the last ``ETag`` so an unchanged first page costs a 304."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp.abc import AbstractResolver
from yarl import URL

from tidings.core.addresses import AddressPolicy
from tidings.outbound.guard import GuardedResolver, RefusedAddress, check_host
from tidings.outbound.sender import basic_auth

_CHUNK = 64 * 1024


@dataclass
class Fetched:
    """What a run fetched: each page's body, the last HTTP status, the first page's ETag;
    ``error`` says why it stopped short (then the run fails)."""

    bodies: list[bytes] = field(default_factory=list)
    status: int | None = None
    etag: str | None = None
    not_modified: bool = False
    error: str | None = None
    requests: int = 0


class TooLarge(Exception):
    pass


class Fetcher:
    def __init__(
        self,
        *,
        timeout: float,
        policy: AddressPolicy,
        max_bytes: int,
        max_pages: int,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self._policy = policy
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_bytes = max_bytes
        self._max_pages = max_pages
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=16, resolver=GuardedResolver(policy, resolver), use_dns_cache=False
            ),
            timeout=self._timeout,
        )

    async def fetch(
        self,
        url: str,
        *,
        username: str | None,
        password: str | None,
        etag: str | None,
        before_page: Callable[[], Awaitable[bool]] | None = None,
    ) -> Fetched:
        """Every page from ``url`` on, up to the page limit. ``before_page`` is awaited before
        each request (the runner renews its lease there); False stops the fetch."""
        fetched = Fetched()
        origin = _origin(URL(url))
        next_url: URL | None = URL(url)
        while next_url is not None and fetched.requests < self._max_pages:
            if before_page is not None and not await before_page():
                fetched.error = "the run's lease was lost"
                return fetched
            headers = {"Accept": "application/json"}
            # Credentials go to the pull's own origin only, never to a host a Link names.
            if username is not None and _origin(next_url) == origin:
                headers["Authorization"] = basic_auth(username, password or "")
            if etag and fetched.requests == 0:
                headers["If-None-Match"] = etag
            fetched.requests += 1
            try:
                if next_url.scheme not in ("http", "https"):
                    raise ValueError(f"a next page must be http:// or https://: {next_url}")
                check_host(next_url.host or "", self._policy)
                async with self._session.get(
                    next_url, headers=headers, allow_redirects=False
                ) as resp:
                    fetched.status = resp.status
                    if resp.status == 304 and fetched.requests == 1:
                        fetched.not_modified = True
                        return fetched
                    if not 200 <= resp.status < 300:
                        fetched.error = f"HTTP {resp.status}"
                        if 300 <= resp.status < 400:
                            fetched.error += " (redirects are not followed)"
                        return fetched
                    body = await self._read(resp, self._max_bytes)
                    fetched.bodies.append(body)
                    if fetched.requests == 1:
                        fetched.etag = resp.headers.get("ETag")
                    link = resp.links.get("next")
                    next_url = URL(str(link["url"])) if link and link.get("url") else None
            except TooLarge:
                fetched.error = f"a page exceeds TIDINGS_PULL_MAX_BYTES ({self._max_bytes} bytes)"
                return fetched
            except RefusedAddress as exc:
                fetched.error = str(exc)
                return fetched
            except TimeoutError:
                fetched.error = f"timed out after {self._timeout.total}s"
                return fetched
            except aiohttp.ClientConnectorError as exc:
                reason = exc.os_error if isinstance(exc.os_error, RefusedAddress) else exc
                fetched.error = f"connection failed: {reason}"
                return fetched
            except (aiohttp.ClientError, OSError, ValueError) as exc:
                fetched.error = f"{type(exc).__name__}: {exc}"
                return fetched
        return fetched

    async def _read(self, resp: aiohttp.ClientResponse, room: int) -> bytes:
        """The body, or TooLarge past ``room`` bytes (decompressed: a small gzip may not
        unpack into a large body unnoticed)."""
        if resp.content_length is not None and resp.content_length > room:
            raise TooLarge
        body = bytearray()
        async for chunk in resp.content.iter_chunked(_CHUNK):
            body += chunk
            if len(body) > room:
                raise TooLarge
        return bytes(body)

    async def close(self) -> None:
        await self._session.close()


def _origin(url: URL) -> tuple[str, str | None, int | None]:
    return (url.scheme, url.host, url.port)
