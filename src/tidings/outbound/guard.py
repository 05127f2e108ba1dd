"""The SSRF guard at connect time: every address a hostname resolves to is checked, when the
connection is made, so DNS rebinding and names with several addresses are covered too."""

from __future__ import annotations

import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from tidings.core.addresses import AddressPolicy, literal_ip


class RefusedAddress(OSError):
    pass


def check_host(host: str, policy: AddressPolicy) -> None:
    """Refuse a literal IP host (aiohttp connects to those without asking the resolver)."""
    ip = literal_ip(host)
    if ip is not None:
        refusal = policy.refusal(ip)
        if refusal:
            raise RefusedAddress(refusal)


class GuardedResolver(AbstractResolver):
    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self._inner = inner or DefaultResolver()
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            ip = literal_ip(result["host"])
            refusal = self._policy.refusal(ip) if ip is not None else "unparseable address"
            if refusal:
                # One bad address refuses the name: a rebinding answer may mix them.
                raise RefusedAddress(refusal)
        return results

    async def close(self) -> None:
        await self._inner.close()
