"""Whether a host name can reach anything deliveries may connect to: a name that resolves only
to refused addresses (``localhost`` when private networks are not allowed) is refused when a
webhook or pull is made, not at its first delivery. The guard at connect time stays: a name
may resolve elsewhere later."""

from __future__ import annotations

import asyncio
import socket

from tidings.core.addresses import AddressPolicy, literal_ip

# A slow resolver must not hold up the API: past this, the name is taken on trust.
TIMEOUT = 3.0


async def refusal(host: str, policy: AddressPolicy) -> str | None:
    """Why ``host`` can reach nothing allowed, or None (allowed, or not resolvable now)."""
    if literal_ip(host) is not None:
        return None  # literal addresses are checked by the caller
    try:
        infos = await asyncio.wait_for(
            asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM), TIMEOUT
        )
    except (OSError, TimeoutError, UnicodeError):
        return None
    reasons = []
    for info in infos:
        ip = literal_ip(str(info[4][0]))
        reason = policy.refusal(ip) if ip is not None else "unparseable address"
        if reason is None:
            return None
        reasons.append(reason)
    return f"{host} resolves only to refused addresses ({reasons[0]})" if reasons else None
