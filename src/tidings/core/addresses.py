"""Which network addresses Tidings may connect to on a partner's behalf (the SSRF guard).

Refused unless the operator allows them: loopback, private (RFC 1918, fc00::/7), link-local
(with the cloud metadata addresses), carrier-grade NAT, multicast, unspecified, reserved and
documentation ranges — also when wrapped in IPv6 (IPv4-mapped, IPv4-compatible, 6to4, Teredo,
NAT64). Literal IPv4 in the notations resolvers accept (decimal, octal, hex, short forms) is
normalised before the check."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LEGACY_IPV4 = re.compile(r"^[0-9a-fA-FxX.]+$")


def literal_ip(host: str) -> Address | None:
    """The address a literal host names, in any notation a resolver accepts; None for a name."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if _LEGACY_IPV4.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _embedded(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses carried inside an IPv6 one."""
    found = [a for a in (ip.ipv4_mapped, ip.sixtofour) if a is not None]
    if ip.teredo:
        found += list(ip.teredo)
    if (ip in _COMPATIBLE and int(ip) > 1) or ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def _public(ip: Address) -> bool:
    return (
        ip.is_global
        and not ip.is_multicast
        and not ip.is_reserved
        and not ip.is_unspecified
        and not ip.is_loopback
        and not ip.is_link_local
    )


@dataclass(frozen=True)
class AddressPolicy:
    allow_private: bool = False
    # CIDRs allowed even though private (TIDINGS_ALLOWED_NETWORKS).
    allowed: tuple[Network, ...] = field(default_factory=tuple)

    @classmethod
    def from_settings(cls, allow_private: bool, allowed: Iterable[str]) -> AddressPolicy:
        return cls(allow_private, tuple(ipaddress.ip_network(c, strict=False) for c in allowed))

    def refusal(self, ip: Address) -> str | None:
        """Why a connection to ``ip`` is refused, or None when it is allowed."""
        if self.allow_private:
            return None
        candidates: list[Address] = [ip]
        if isinstance(ip, ipaddress.IPv6Address):
            candidates += _embedded(ip)
        for candidate in candidates:
            if any(candidate in network for network in self.allowed):
                continue
            if not _public(candidate):
                shown = f"{ip}" if candidate == ip else f"{ip} (carrying {candidate})"
                return (
                    f"refused to connect to {shown}: not a public address "
                    "(allow it with TIDINGS_ALLOWED_NETWORKS or TIDINGS_ALLOW_PRIVATE_NETWORKS=1)"
                )
        return None
