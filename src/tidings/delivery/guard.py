"""Which addresses a delivery may connect to. Checked on the resolved address at connect time,
so a hostname that resolves (or re-resolves) to a private address is refused too."""

from __future__ import annotations

import ipaddress
import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedAddress(OSError):
    pass


def check_address(ip: Address, allow_private: bool) -> None:
    if allow_private:
        return
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if not ip.is_global or ip.is_multicast:
        raise RefusedAddress(
            f"refused to connect to {ip}: not a public address "
            "(set TIDINGS_ALLOW_PRIVATE_NETWORKS=1 to allow private networks)"
        )


def check_host(host: str, allow_private: bool) -> None:
    """Refuse a literal IP host that aiohttp would connect to without resolving."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return
    check_address(ip, allow_private)


class GuardedResolver(AbstractResolver):
    def __init__(self, allow_private: bool) -> None:
        self._inner = DefaultResolver()
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            check_address(ipaddress.ip_address(result["host"]), self._allow_private)
        return results

    async def close(self) -> None:
        await self._inner.close()
