"""Publishing with group commit: the events of many concurrent requests written in one
transaction.

A commit costs a round trip and, on SQLite with ``synchronous=FULL``, an fsync: one commit per
published event caps publishing at a few hundred a second. Requests hand their event to
``Publisher.publish``; one task takes every event waiting, writes them all with two
multi-row inserts (events, notifications) and commits once, then answers each request. While
that commit is under way the next events gather into the next batch, so batches grow with load
and stay single under light load (nobody waits for company).

Durability is unchanged: ``publish`` returns only after the transaction holding the event has
committed. If a batch fails (an Idempotency-Key taken meanwhile, say), nothing of it is
committed and each event is written again alone, so only the culprit fails.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

from tidings.core.clock import Clock
from tidings.ids import new_id
from tidings.store import webhooks as webhook_store
from tidings.store.db import Database
from tidings.store.events import event_row, notification_rows
from tidings.store.tables import events, notifications

MAX_BATCH = 500


@dataclass(frozen=True, slots=True)
class NewEvent:
    account_id: str
    event_type: str
    data: bytes
    webhook_ids: list[str]
    # Webhooks that deliver in order: publishing to them is serialized across processes.
    ordered_ids: list[str]
    idempotency_key: str | None = None
    request_hash: str | None = None
    log_id: str | None = None
    is_test: bool = False


@dataclass(frozen=True, slots=True)
class Published:
    event_id: str
    created_at: int
    notifications: list[dict[str, Any]]


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
            results = await self._write([event for event, _ in batch])
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

    async def _write(self, batch: list[NewEvent]) -> list[Published]:
        async with self._db.write() as conn:
            await webhook_store.lock_ordered(
                conn, sorted({w for event in batch for w in event.ordered_ids})
            )
            # After the lock: ids and eventRaisedAt follow the commit order.
            now = self._clock.now()
            event_rows: list[dict[str, Any]] = []
            notification_rows_all: list[dict[str, Any]] = []
            results: list[Published] = []
            for event in batch:
                event_id = new_id("evt")
                event_rows.append(
                    event_row(
                        event_id,
                        account_id=event.account_id,
                        event_type=event.event_type,
                        data=event.data,
                        now=now,
                        idempotency_key=event.idempotency_key,
                        request_hash=event.request_hash,
                        is_test=event.is_test,
                        log_id=event.log_id,
                    )
                )
                rows = notification_rows(
                    event_id,
                    account_id=event.account_id,
                    event_type=event.event_type,
                    webhook_ids=event.webhook_ids,
                    now=now,
                    is_test=event.is_test,
                )
                notification_rows_all += rows
                results.append(Published(event_id, now, rows))
            await conn.execute(events.insert(), event_rows)
            if notification_rows_all:
                await conn.execute(notifications.insert(), notification_rows_all)
        return results
