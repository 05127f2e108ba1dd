"""The API log's write buffer: requests push their records here and a background task
inserts them in batches, so that no request waits for its own log row.

A record is pushed before its answer's last byte is sent, and ``stop`` (in the app's shutdown)
writes whatever remains: a request that got an answer has its row.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import weakref
from typing import Any, Protocol

import sqlalchemy as sa
import structlog

from tidings.store.db import Database
from tidings.store.tables import logs

log = structlog.get_logger("tidings.request_log")

BATCH_SIZE = 500
FLUSH_INTERVAL = 0.5
# While the database is unreachable records wait in memory; beyond this the oldest go.
MAX_PENDING = 50_000
RECENT_SECONDS = 5.0

# Every started writer of this process, so a lookup by log id can see unwritten records
# (request ids are UUIDs: one cannot match another writer's record by accident).
_writers: weakref.WeakSet[LogWriter] = weakref.WeakSet()


class LogEntry(Protocol):
    @property
    def id(self) -> str: ...

    def row(self) -> dict[str, Any]:
        """The values of the ``logs`` row (redacted); called at most once per flush attempt."""
        ...


class LogWriter:
    def __init__(
        self,
        batch_size: int = BATCH_SIZE,
        interval: float = FLUSH_INTERVAL,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.batch_size = batch_size
        self.interval = interval
        self.max_pending = max_pending
        self._pending: dict[str, LogEntry] = {}
        # Records written in the last few seconds, still found here: a reader whose snapshot
        # predates their commit would otherwise see them in neither place.
        self._recent: dict[str, tuple[float, LogEntry]] = {}
        self._db: Database | None = None
        self._full = asyncio.Event()
        # One flush at a time: the loop, a reader asking for fresh rows, and shutdown.
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._dropped = 0

    def push(self, entry: LogEntry) -> None:
        self._pending[entry.id] = entry
        if len(self._pending) > self.max_pending:
            del self._pending[next(iter(self._pending))]
            self._dropped += 1
            if self._dropped % 1000 == 1:
                log.error("API log buffer full; dropping the oldest records", dropped=self._dropped)
        if len(self._pending) >= self.batch_size:
            self._full.set()

    def find(self, log_id: str) -> dict[str, Any] | None:
        entry = self._pending.get(log_id)
        if entry is None and log_id in self._recent:
            entry = self._recent[log_id][1]
        return entry.row() if entry is not None else None

    @property
    def pending(self) -> int:
        return len(self._pending)

    def start(self, db: Database) -> None:
        self._db = db
        _writers.add(self)
        self._task = asyncio.create_task(self._run(), name="tidings-request-log")

    async def stop(self, attempts: int = 3) -> None:
        """Stop the loop and write what remains, retrying briefly if the database hiccups."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for attempt in range(attempts):
            try:
                await self.flush()
                break
            except Exception:
                log.exception("writing the API log at shutdown failed", pending=self.pending)
                if attempt + 1 < attempts:
                    await asyncio.sleep(0.5)
        _writers.discard(self)

    async def flush(self) -> None:
        """Insert every pending record; a failed batch stays pending and the error is raised."""
        if self._db is None:
            return
        async with self._lock:
            now = time.monotonic()
            self._recent = {k: v for k, v in self._recent.items() if now - v[0] < RECENT_SECONDS}
            while self._pending:
                batch = list(itertools.islice(self._pending.values(), self.batch_size))
                await _insert(self._db, [entry.row() for entry in batch])
                for entry in batch:
                    self._pending.pop(entry.id, None)
                    self._recent[entry.id] = (now, entry)

    async def _run(self) -> None:
        backoff = self.interval
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), timeout=backoff)
            self._full.clear()
            try:
                await self.flush()
                backoff = self.interval
            except Exception:
                log.exception("writing the API log failed; retrying", pending=self.pending)
                backoff = min(backoff * 2, 10.0)


def find_pending(log_id: str) -> dict[str, Any] | None:
    """A record of this process not written yet, as the row it will become."""
    for writer in list(_writers):
        row = writer.find(log_id)
        if row is not None:
            return row
    return None


async def _insert(db: Database, rows: list[dict[str, Any]]) -> None:
    try:
        async with db.write() as conn:
            await conn.execute(logs.insert(), rows)
    except sa.exc.IntegrityError:
        # A retry of a batch whose commit did land but whose answer was lost: add the rest.
        async with db.write() as conn:
            ids = [row["id"] for row in rows]
            present = await conn.execute(sa.select(logs.c.id).where(logs.c.id.in_(ids)))
            stored = set(present.scalars())
            missing = [row for row in rows if row["id"] not in stored]
            if missing:
                await conn.execute(logs.insert(), missing)
    except sa.exc.DataError:
        # A value the database refuses must not block every later record: write the others.
        for row in rows:
            try:
                async with db.write() as conn:
                    await conn.execute(logs.insert(), [row])
            except (sa.exc.DataError, sa.exc.IntegrityError):
                log.exception("an API log record was refused and dropped", log_id=row["id"])
