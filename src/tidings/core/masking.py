"""Masking of secret-bearing values in API answers: enough to recognise, never enough to use."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

MASK = "****"


def mask(value: str) -> str:
    # Long values keep their last four characters so a partner can tell which one is set.
    return MASK + value[-4:] if len(value) >= 16 else MASK


def unmask_headers(new: dict[str, str], current: dict[str, str]) -> dict[str, str]:
    """Headers from a PUT/PATCH where a value sent back masked keeps the stored value."""
    return {
        name: current[name] if name in current and value == mask(current[name]) else value
        for name, value in new.items()
    }


def mask_url(url: str) -> str:
    """The URL with any user and password in it masked."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    userinfo = MASK + (":" + MASK if parts.password is not None else "")
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))
