"""A small in-process cache for lookups that may be a moment old: entries live ``ttl``
seconds, concurrent misses on one key share a single load, and ``clear`` also discards loads
begun before it (their answer may predate the change that cleared the cache)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TtlCache(Generic[K, V]):
    def __init__(self, ttl: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}
        self._loading: dict[K, asyncio.Future[V]] = {}
        self._generation = 0

    async def get_or_load(
        self, key: K, load: Callable[[], Awaitable[V]], keep: Callable[[V], bool] = lambda _: True
    ) -> V:
        """The cached value, else ``load()``'s, kept unless ``keep(value)`` says no."""
        entry = self._entries.get(key)
        if entry is not None and time.monotonic() - entry[0] <= self.ttl:
            return entry[1]
        pending = self._loading.get(key)
        if pending is None:
            pending = asyncio.ensure_future(load())
            self._loading[key] = pending
            pending.add_done_callback(self._loaded(key, keep, self._generation))
        # shield: one caller going away must not cancel the load the others wait for.
        return await asyncio.shield(pending)

    def _loaded(
        self, key: K, keep: Callable[[V], bool], generation: int
    ) -> Callable[[asyncio.Future[V]], None]:
        def done(task: asyncio.Future[V]) -> None:
            if self._loading.get(key) is task:
                del self._loading[key]
            if task.cancelled() or task.exception() is not None or generation != self._generation:
                return
            value = task.result()
            if keep(value):
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
                self._entries[key] = (time.monotonic(), value)

        return done

    def clear(self) -> None:
        self._entries.clear()
        self._loading.clear()
        self._generation += 1
