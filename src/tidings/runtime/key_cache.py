"""API keys as authentication last found them, kept for a moment so that a burst of requests
with one key costs one lookup, not one per request.

Whatever changes a key or an account (revoke, roll, delete) clears this process's cache at once
and, on PostgreSQL, every other process's through ``NOTIFY tidings_keys`` (store/wakeups.py;
the CLI sends it too). On SQLite the CLI replaces a marker file instead, whose identity
(``watch``) the cache checks on every lookup: one stat, where a lookup would be a database
round trip on every request. Expiry needs no invalidation:
it is checked against the clock on every request. Entries are keyed by the key's SHA-256,
never its plaintext.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tidings.core.ttl_cache import TtlCache

TTL = 1.0


@dataclass(frozen=True, slots=True)
class Found:
    row: Any  # the api_keys row
    # Whether the key's own account still exists (operator keys have none).
    account_exists: bool


class KeyCache:
    def __init__(self, ttl: float = TTL, watch: Callable[[], object] | None = None) -> None:
        self._cache: TtlCache[str, Found | None] = TtlCache(ttl)
        # Called after a local change, to tell other processes (set at start).
        self.announce: Callable[[], None] = lambda: None
        # Another process's announcement, where none is heard: a change in its value clears.
        self._watch = watch
        self._seen = watch() if watch else None

    async def get_or_load(
        self, digest: str, load: Callable[[], Awaitable[Found | None]]
    ) -> Found | None:
        """The key, cached or looked up (None: no such key; that answer is not kept, so a key
        made a moment ago works at once)."""
        if self._watch is not None:
            now = self._watch()
            if now != self._seen:
                self._seen = now
                self.clear()
        return await self._cache.get_or_load(digest, load, keep=lambda f: f is not None)

    def clear(self) -> None:
        self._cache.clear()

    def changed(self) -> None:
        """A key or account changed here: forget everything, and tell the other processes."""
        self.clear()
        self.announce()
