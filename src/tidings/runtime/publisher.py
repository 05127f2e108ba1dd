"""Publishing with group commit: the events of many concurrent requests written in one
transaction.

A commit costs a round trip and, on SQLite with ``synchronous=FULL``, an fsync: one commit per
published event caps publishing at a few hundred a second. services/publish.py hands each
event to ``Publisher.publish``; one task takes every event waiting, writes them all
(store/events.py ``insert_events``) and commits once, then answers each caller. While that
commit is under way the next events gather into the next batch, so batches grow with load
and stay single under light load (nobody waits for company).

Durability is unchanged: ``publish`` returns only after the transaction holding the event has
committed. If a batch fails (an Idempotency-Key taken meanwhile, say), nothing of it is
committed and each event is written again alone, so only the culprit fails.
"""

from __future__ import annotations

import asyncio
import contextlib

from tidings.core.clock import Clock
from tidings.store.db import Database
from tidings.store.events import NewEvent, Published, insert_events

MAX_BATCH = 500


class Publisher:
    def __init__(self, db: Database, clock: Clock, max_batch: int = MAX_BATCH) -> None:
        self._db = db
        self._clock = clock
        self._max_batch = max_batch
        self._queue: list[tuple[NewEvent, asyncio.Future[Published]]] = []
        self._task: asyncio.Task[None] | None = None

    async def publish(self, event: NewEvent) -> Published:
        """Write ``event`` and its notifications; return once they are committed."""
        future: asyncio.Future[Published] = asyncio.get_running_loop().create_future()
        self._queue.append((event, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="tidings-publisher")
        # shield: a request that goes away must not cancel the batch it is part of.
        return await asyncio.shield(future)

    async def close(self) -> None:
        """Let the batch in progress (and any queued behind it) commit."""
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task

    async def _drain(self) -> None:
        while self._queue:
            batch = self._queue[: self._max_batch]
            del self._queue[: len(batch)]
            await self._commit(batch)

    async def _commit(self, batch: list[tuple[NewEvent, asyncio.Future[Published]]]) -> None:
        try:
            async with self._db.write() as conn:
                results = await insert_events(conn, [event for event, _ in batch], self._clock.now)
        except Exception as exc:
            if len(batch) > 1:
                for item in batch:
                    await self._commit([item])
                return
            future = batch[0][1]
            if not future.done():
                future.set_exception(exc)
            return
        for (_event, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
