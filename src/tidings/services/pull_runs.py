"""Running a pull: lease it, fetch its URL (outbound/fetcher.py), make an event of each record
not seen before, and record the run (its row, and its ``sync`` log record).

Exactly one process runs a given pull at a time: a run holds the pull's lease, renews it before
each page, and writes its outcome only if it still holds it, in one transaction with the events
and the record ids marked seen, so a crash neither loses a record nor makes one twice. A killed
process's lease runs out and the next due claim takes the pull over.

After ``TIDINGS_PULL_DISABLE_AFTER`` failed runs in a row the pull is disabled
(``disabledReason: "failing"``) and ``pull.disabled`` is published, in that same transaction."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import structlog

from tidings.core import pointer
from tidings.core.access import Access, Caller
from tidings.core.clock import MICROS, to_iso
from tidings.core.errors import DomainError
from tidings.core.ids import new_id, new_request_id
from tidings.core.jsonbytes import dumps
from tidings.core.redact import REDACTED
from tidings.outbound.fetcher import Fetched, Fetcher
from tidings.runtime.context import Context
from tidings.services import publish
from tidings.services.pulls import existing, next_run_at
from tidings.store import pull_runs as runs
from tidings.store import pulls as store

log = structlog.get_logger("tidings.pulls")

# Pulls claimed (and run side by side) at once by a runner.
CLAIM_BATCH = 8
# Record ids longer than this are kept as their hash.
_MAX_ID = 200


class LeaseLost(Exception):
    """Another process took the pull over (this one's lease ran out): the run writes nothing."""


def make_fetcher(ctx: Context) -> Fetcher:
    settings = ctx.settings
    return Fetcher(
        timeout=settings.delivery_timeout,
        policy=settings.address_policy(),
        max_bytes=settings.pull_max_bytes,
        max_pages=settings.pull_max_pages,
        resolver=ctx.resolver,
    )


def log_id_of(run_id: str) -> str:
    """A run's sync log record: the same UUID, written as log ids are."""
    return str(uuid.UUID(hex=run_id.removeprefix("run_")))


def run_view(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "pull_id": row.pull_id,
        "started_at": to_iso(row.started_at),
        "finished_at": to_iso(row.finished_at),
        "status": row.status,
        "http_status": row.http_status,
        "records_seen": row.records_seen,
        "records_new": row.records_new,
        "error": row.error,
        "event_ids": row.event_ids or [],
        "log_id": log_id_of(row.id),
    }


async def page(
    ctx: Context, access: Access, pull_id: str, *, limit: int, cursor: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """A pull's runs, newest first."""
    async with ctx.db.read() as conn:
        await existing(conn, access, pull_id)
        rows, next_cursor = await runs.page(
            conn, access.account_id, pull_id, limit=limit, cursor=cursor
        )
    return [run_view(r) for r in rows], next_cursor


async def run_now(ctx: Context, access: Access, pull_id: str) -> dict[str, Any]:
    """Run the pull now, outside its schedule (which stays as it is); the run record."""
    runner_id = new_id("prn")
    now = ctx.clock.now()
    until = now + int(ctx.settings.lease_seconds * MICROS)
    async with ctx.db.write() as conn:
        row = await existing(conn, access, pull_id)
        if row.status != "Active":
            raise DomainError(409, f"pull {pull_id!r} is disabled: enable it first")
        if not await store.claim_one(
            conn, access.account_id, row.id, runner_id, now=now, until=until
        ):
            raise DomainError(409, f"a run of pull {pull_id!r} is in progress")
        row = await store.by_id(conn, row.id)
    fetcher = make_fetcher(ctx)
    try:
        return await execute(ctx, fetcher, row, runner_id, scheduled=False)
    except LeaseLost:
        raise DomainError(409, "the run took too long and another process took it over") from None
    finally:
        await fetcher.close()


async def run_due(ctx: Context, fetcher: Fetcher, runner_id: str, limit: int = CLAIM_BATCH) -> int:
    """Claim the pulls that are due and run them side by side; how many ran."""
    now = ctx.clock.now()
    until = now + int(ctx.settings.lease_seconds * MICROS)
    async with ctx.db.write() as conn:
        claimed = await store.claim_due(conn, runner_id, now=now, lease_until=until, limit=limit)
    if claimed:
        await asyncio.gather(
            *(_scheduled(ctx, fetcher, row, runner_id) for row in claimed), return_exceptions=False
        )
    return len(claimed)


async def _scheduled(ctx: Context, fetcher: Fetcher, row: Any, runner_id: str) -> None:
    try:
        await execute(ctx, fetcher, row, runner_id, scheduled=True)
    except LeaseLost:
        log.warning("pull run taken over by another process", pull_id=row.id)
    except Exception:
        log.exception("pull run failed to record; it runs again after its lease", pull_id=row.id)


async def execute(
    ctx: Context, fetcher: Fetcher, row: Any, runner_id: str, *, scheduled: bool
) -> dict[str, Any]:
    """One run of ``row``, whose lease ``runner_id`` holds; the run record. A run cancelled
    (shutting down) gives its lease back, so another process runs it at once; one that failed
    to record keeps it until it runs out, rather than being retried in a tight loop."""
    try:
        return await _execute(ctx, fetcher, row, runner_id, scheduled=scheduled)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            async with ctx.db.write() as conn:
                await store.release(conn, row.id, runner_id)
        raise


async def _execute(
    ctx: Context, fetcher: Fetcher, row: Any, runner_id: str, *, scheduled: bool
) -> dict[str, Any]:
    started = ctx.clock.now()
    clock_started = time.perf_counter()
    lease = int(ctx.settings.lease_seconds * MICROS)

    async def renew() -> bool:
        async with ctx.db.write() as conn:
            return await store.renew(conn, row.id, runner_id, ctx.clock.now() + lease)

    password = ctx.keyring.decrypt(row.password) if row.password else None
    fetched = await fetcher.fetch(
        row.url, username=row.username, password=password, etag=row.etag, before_page=renew
    )
    records, error = ([], fetched.error) if fetched.error else _records(row, fetched)
    log_id = new_request_id()
    run_id = "run_" + uuid.UUID(log_id).hex
    event_ids: list[str] = []
    refused: list[tuple[int, str]] = []
    operational = 0
    async with ctx.db.write() as conn:
        current = await store.by_id(conn, row.id)
        if current is None:
            raise DomainError(404, f"pull {row.id!r} was deleted during its run")
        if current.leased_by != runner_id:
            raise LeaseLost(row.id)
        failed = error is not None
        now = ctx.clock.now()
        failures = current.consecutive_failures + 1 if failed else 0
        values: dict[str, Any] = {"last_run_at": started, "consecutive_failures": failures}
        if not failed and fetched.etag is not None:
            values["etag"] = fetched.etag[:500]
        if scheduled and current.status == "Active":
            values["next_run_at"] = next_run_at(current, now)
        disable = failed and failures >= ctx.settings.pull_disable_after
        if disable and current.status == "Active":
            values.update(status="Disabled", disabled_reason="failing", next_run_at=None)
        if not await store.finish(conn, row.id, runner_id, values):
            raise LeaseLost(row.id)
        new = records
        if new:
            already = await runs.seen(conn, row.id, [rid for rid, _ in new])
            new = [(rid, record) for rid, record in new if rid not in already]
        if new:
            event_ids, refused = await publish.publish_records(
                conn,
                ctx,
                _access(row.account_id),
                row.event_type,
                [record for _, record in new],
                pull_id=row.id,
                log_id=log_id,
            )
            skipped = {index for index, _ in refused}
            kept = [rid for index, (rid, _) in enumerate(new) if index not in skipped]
            await runs.mark_seen(conn, row.id, kept, now)
        if refused:
            # Not marked seen, and the ETag forgotten: the next run fetches and tries them again
            # (a 304 would hide them until the partner's data changed).
            await store.update(conn, row.id, {"etag": None})
            shown = "; ".join(f"record {i}: {why}" for i, why in refused[:5])
            error = f"{len(refused)} records refused: {shown}"[:2000]
        run = {
            "id": run_id,
            "pull_id": row.id,
            "account_id": row.account_id,
            "started_at": started,
            "finished_at": now,
            "status": "failed" if failed else "succeeded",
            "http_status": fetched.status,
            "records_seen": len(records),
            "records_new": len(event_ids),
            "error": error,
            "event_ids": event_ids,
        }
        await runs.insert(conn, run)
        shown_run = run_view(_Row(run))
        await runs.insert_log(
            conn, _sync_log(row, log_id, shown_run, started, clock_started, event_ids)
        )
        if disable and current.status == "Active":
            operational = await publish.publish_operational(
                conn,
                ctx,
                row.account_id,
                "pull.disabled",
                {
                    "pullId": row.id,
                    "name": row.name,
                    "url": row.url,
                    "disabledReason": "failing",
                    "consecutiveFailures": failures,
                    "lastError": error,
                },
            )
    if event_ids or operational:
        ctx.wake_worker()
    log.info(
        "pull ran",
        pull_id=row.id,
        run_id=run_id,
        status=run["status"],
        http_status=fetched.status,
        records_seen=len(records),
        records_new=len(event_ids),
        error=error,
        disabled=disable,
    )
    return shown_run


class _Row:
    """A dict read like a row."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)


def _access(account_id: str) -> Access:
    caller = Caller(
        key_id=None,
        key_type="pull",
        account_id=account_id,
        permissions={"events": "write"},
        categories=None,
    )
    return Access(account_id=account_id, caller=caller)


def _records(row: Any, fetched: Fetched) -> tuple[list[tuple[str, Any]], str | None]:
    """Each record of every page with its id (first occurrence of an id only), or why the
    responses hold none. A 304 holds none, and is no failure."""
    found: dict[str, Any] = {}
    for page_number, body in enumerate(fetched.bodies, start=1):
        where = f"page {page_number}" if len(fetched.bodies) > 1 else "the response"
        if not body.strip():
            continue  # a 204, or an empty 200: nothing new
        try:
            document = json.loads(body)
        except ValueError:
            return [], f"{where} is not JSON"
        items = pointer.resolve(document, row.records_pointer or "")
        if items is pointer.MISSING:
            return [], f"{where} has nothing at recordsPointer {row.records_pointer!r}"
        if items is None:
            items = []  # {"data": null}: no records
        elif not isinstance(items, list):
            items = [items]
        for index, record in enumerate(items):
            if not isinstance(record, dict):
                return [], f"{where}: record {index} is not a JSON object"
            record_id = _record_id(record, row.id_pointer)
            if record_id is None:
                return [], f"{where}: record {index} has no id at idPointer {row.id_pointer!r}"
            found.setdefault(record_id, record)
    return list(found.items()), None


def _record_id(record: dict[str, Any], id_pointer: str | None) -> str | None:
    if id_pointer:
        value = pointer.resolve(record, id_pointer)
        if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
            return None
        text = str(value)
    else:
        text = "sha256:" + hashlib.sha256(dumps(record, sort_keys=True)).hexdigest()
    if len(text) > _MAX_ID:
        text = "sha256:" + hashlib.sha256(text.encode()).hexdigest()
    return text


def _sync_log(
    row: Any,
    log_id: str,
    run: dict[str, Any],
    started: int,
    clock_started: float,
    event_ids: list[str],
) -> dict[str, Any]:
    """The run's log record: what was asked of the partner (credentials redacted) and the
    run record as its answer."""
    parts = urlsplit(row.url)
    headers = {"Accept": "application/json"}
    if row.username is not None:
        headers["Authorization"] = f"Basic {REDACTED}"
    if row.etag:
        headers["If-None-Match"] = row.etag
    return {
        "id": log_id,
        "account_id": row.account_id,
        "key_id": None,
        "created_at": started,
        "type": "sync",
        "method": "GET",
        "path": (parts.path or "/")[:2048],
        "query": parts.query or None,
        "status_code": run["http_status"] or 0,
        "outcome": run["status"],
        "duration_ms": round((time.perf_counter() - clock_started) * 1000, 3),
        "client_ip": None,
        "request_headers": headers,
        "request_body": None,
        "response_body": dumps({k: v for k, v in _camel(run).items() if k != "logId"}).decode(),
        "event_ids": event_ids or None,
    }


def _camel(values: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        head, *rest = key.split("_")
        out[head + "".join(word.title() for word in rest)] = value
    return out
