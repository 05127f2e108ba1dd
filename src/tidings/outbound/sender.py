"""One HTTP client for a worker: a single aiohttp session, connections reused per host."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver

from tidings.core.addresses import AddressPolicy
from tidings.outbound.guard import GuardedResolver, RefusedAddress, check_host

RESPONSE_BODY_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class Response:
    status_code: int | None
    body: str | None
    duration_ms: float
    error: str | None
    retry_after: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Sender:
    def __init__(
        self,
        *,
        concurrency: int,
        timeout: float,
        policy: AddressPolicy,
        resolver: AbstractResolver | None = None,
    ) -> None:
        self._policy = policy
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._connector = aiohttp.TCPConnector(
            limit=concurrency,
            resolver=GuardedResolver(policy, resolver),
            # Resolved again for each new connection: a cached answer would outlive a check.
            use_dns_cache=False,
        )
        self._session = aiohttp.ClientSession(
            connector=self._connector,
            timeout=self._timeout,
            # The body is signed as-is: never let the client rewrite or add to it.
            auto_decompress=False,
            skip_auto_headers=("Content-Type", "Accept-Encoding", "Accept"),
        )

    async def post(
        self,
        url: str,
        headers: dict[str, str],
        body: bytes,
        *,
        verify_ssl: bool,
        username: str | None = None,
        password: str | None = None,
    ) -> Response:
        started = time.perf_counter()
        try:
            parts = urlsplit(url)
            check_host(parts.hostname or "", self._policy)
            if username is not None:
                headers = {**headers, "Authorization": basic_auth(username, password or "")}
            async with self._session.post(
                url,
                data=body,
                headers=headers,
                allow_redirects=False,
                ssl=verify_ssl,
            ) as resp:
                raw = await resp.content.read(RESPONSE_BODY_LIMIT)
                return Response(
                    status_code=resp.status,
                    body=raw.decode("utf-8", errors="replace"),
                    duration_ms=_since(started),
                    error=None if 200 <= resp.status < 300 else f"HTTP {resp.status}",
                    retry_after=resp.headers.get("Retry-After"),
                )
        except RefusedAddress as exc:
            return Response(None, None, _since(started), str(exc))
        except TimeoutError:
            return Response(None, None, _since(started), f"timed out after {self._timeout.total}s")
        except aiohttp.ClientConnectorError as exc:
            reason = exc.os_error if isinstance(exc.os_error, RefusedAddress) else exc
            return Response(None, None, _since(started), f"connection failed: {reason}")
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            return Response(None, None, _since(started), f"{type(exc).__name__}: {exc}")

    async def close(self) -> None:
        await self._session.close()


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def basic_auth(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
