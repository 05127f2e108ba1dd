"""Which custom headers a webhook may carry: never one that would change how the request is
framed or forge what Tidings itself asserts."""

from __future__ import annotations

import re

_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,256}$")
_RESERVED = {
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
    "user-agent",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
}


def header_problem(name: str, value: str, brand: str) -> str | None:
    if not _TOKEN.match(name):
        return f"header name {name!r} is not a valid HTTP header name"
    lowered = name.lower()
    if lowered in _RESERVED or lowered.startswith(f"x-{brand.lower()}-"):
        return f"header {name!r} is set by Tidings and cannot be overridden"
    if any(c in value for c in "\r\n\x00"):
        return f"header {name!r} value contains a line break or NUL"
    if len(value) > 4096:
        return f"header {name!r} value is longer than 4096 characters"
    return None
