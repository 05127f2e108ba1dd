"""Where an account's events go, as publishing last found it: the event types it sees and its
Active webhooks, kept for a moment so that a burst of publishes costs one lookup, not two per
event.

Any change to webhooks, event types or accounts clears the cache at once in this process (see
the services that change them) and, on PostgreSQL, in every other one (``NOTIFY tidings_routes``,
store/wakeups.py); a change no notification reaches is seen within ``TTL`` — a notification
made meanwhile for a webhook just disabled ends failed without an attempt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tidings.core import routing
from tidings.core.ttl_cache import TtlCache
from tidings.store import event_types as event_type_store
from tidings.store import webhooks as webhook_store
from tidings.store.db import Database

TTL = 1.0


class RouteCache:
    def __init__(self, ttl: float = TTL) -> None:
        self._types: TtlCache[tuple[str, str], Any] = TtlCache(ttl)
        self._webhooks: TtlCache[str, list[Any]] = TtlCache(ttl)
        # Called after a local change, to tell other processes (set at start).
        self.announce: Callable[[], None] = lambda: None
        # Called whenever the cache is cleared, here or by another process's announcement:
        # what else holds webhook rows (the worker's hand-off) forgets them too.
        self.on_clear: list[Callable[[], None]] = []

    async def event_type(self, db: Database, account_id: str, name: str) -> Any:
        """The type ``name`` as the account sees it (None: no such type)."""

        async def load() -> Any:
            async with db.read() as conn:
                return await event_type_store.find(conn, account_id, name)

        return await self._types.get_or_load((account_id, name), load)

    async def targets(
        self, db: Database, account_id: str, event_type: str, category: str | None
    ) -> list[Any]:
        """The account's Active webhooks that take ``event_type`` (of ``category``)."""

        async def load() -> list[Any]:
            async with db.read() as conn:
                return await webhook_store.active_rows(conn, account_id)

        rows = await self._webhooks.get_or_load(account_id, load)
        return [r for r in rows if routing.takes(r.event_types, r.category, event_type, category)]

    def clear(self) -> None:
        self._types.clear()
        self._webhooks.clear()
        for forget in self.on_clear:
            forget()

    def changed(self) -> None:
        """Webhooks, event types or accounts changed here: forget, and tell the others."""
        self.clear()
        self.announce()
