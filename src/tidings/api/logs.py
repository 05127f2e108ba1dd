"""``/v1/logs``: every API call, newest first, filterable as partners look for one (seed 000
"Logs", seed 002 "How to view Log"); and the log summary an event shows of its request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import structlog
from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.api.deps import Caller, Ctx, allow_any_scope
from tidings.api.errors import not_found
from tidings.api.model import ApiOut, Page
from tidings.api.timerange import From, To, within
from tidings.context import Context
from tidings.core.clock import to_iso
from tidings.store import logs as store
from tidings.store.log_writer import find_pending
from tidings.store.paging import DEFAULT_LIMIT, MAX_LIMIT, fetch_page
from tidings.store.tables import logs

log = structlog.get_logger("tidings.api")

router = APIRouter(prefix="/v1/logs", tags=["logs"])

# Who may read logs is decided here, once: a key holding logs:read reads its account's logs
# (an operator key naming an account reads that one's); an operator key naming none, all.
Reader = Annotated[Caller, Depends(allow_any_scope("logs", "read"))]


def _account_of(caller: Caller) -> str | None:
    return caller.account_id


class LogSummary(ApiOut):
    """The request behind something (an event shows the one that published it)."""

    id: str
    method: str
    path: str
    status_code: int
    created_at: str


class LogItem(ApiOut):
    id: str
    account_id: str | None
    created_at: str
    type: Literal["normal", "sync"]
    method: str
    path: str
    query: str | None
    status_code: int
    outcome: Literal["succeeded", "failed"]
    duration_ms: float
    key_id: str | None
    client_ip: str | None
    event_ids: list[str]


class LogOut(LogItem):
    request_headers: dict[str, str]
    request_body: str | None
    response_body: str | None


def _item_fields(values: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        "id": values["id"],
        "account_id": values["account_id"],
        "created_at": to_iso(values["created_at"]),
        "type": values["type"],
        "method": values["method"],
        "path": values["path"],
        "query": values["query"],
        "status_code": values["status_code"],
        "outcome": values["outcome"],
        "duration_ms": values["duration_ms"],
        "key_id": values["key_id"],
        "client_ip": values["client_ip"],
        "event_ids": values["event_ids"] or [],
    }


def _path_prefix(path: str | None) -> str | None:
    """What a partner pastes: ``/v1/webhooks``, ``v1/webhooks`` or a full URL."""
    if not path:
        return None
    if "://" in path:
        path = urlsplit(path).path
    return path if path.startswith("/") else "/" + path


async def _fresh(ctx: Context) -> None:
    """Write this process's buffered records first, so a log read sees the calls before it."""
    try:
        await ctx.request_log.flush()
    except Exception:
        log.warning("flushing the API log before a read failed", exc_info=True)


@router.get("", response_model=Page[LogItem])
async def list_logs(
    ctx: Ctx,
    caller: Reader,
    status: Literal["all", "succeeded", "failed"] = "all",
    log_type: Annotated[Literal["normal", "sync"] | None, Query(alias="type")] = None,
    start: From = None,
    end: To = None,
    path: Annotated[
        str | None, Query(max_length=2048, description="Path prefix, e.g. /v1/webhooks")
    ] = None,
    method: Annotated[str | None, Query(max_length=10, pattern="^[A-Za-z]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[LogItem]:
    """API calls, newest first. Headers and bodies are in ``GET /v1/logs/{id}``."""
    query = store.list_query(
        _account_of(caller),
        outcome=None if status == "all" else status,
        log_type=log_type,
        method=method,
        path_prefix=_path_prefix(path),
        created=within(logs.c.created_at, start, end),
    )
    await _fresh(ctx)
    async with ctx.db.read() as conn:
        rows, next_cursor = await fetch_page(conn, query, logs.c.id, limit, cursor)
    return Page(data=[LogItem(**_item_fields(r._mapping)) for r in rows], next_cursor=next_cursor)


@router.get("/{log_id}", response_model=LogOut)
async def get_log(log_id: str, ctx: Ctx, caller: Reader) -> LogOut:
    """The whole record: request headers and bodies as stored (secrets redacted)."""
    await _fresh(ctx)
    async with ctx.db.read() as conn:
        row = await store.get(conn, log_id, _account_of(caller))
    if row is None:
        raise not_found("log", log_id)
    values = row._mapping
    return LogOut(
        **_item_fields(values),
        request_headers=values["request_headers"] or {},
        request_body=values["request_body"],
        response_body=values["response_body"],
    )


async def find_log(
    source: Context | AsyncConnection, log_id: str, account_id: str | None = None
) -> LogSummary | None:
    """The summary of log ``log_id`` (of ``account_id`` when given), written or still in
    this process's buffer; None when there is none."""
    values: Mapping[Any, Any] | None = find_pending(log_id)
    if values is None:
        if isinstance(source, AsyncConnection):
            row = await store.get(source, log_id, account_id)
        else:
            async with source.db.read() as conn:
                row = await store.get(conn, log_id, account_id)
        values = row._mapping if row is not None else None
    elif account_id is not None and values["account_id"] != account_id:
        values = None
    if values is None:
        return None
    return LogSummary(
        id=values["id"],
        method=values["method"],
        path=values["path"],
        status_code=values["status_code"],
        created_at=to_iso(values["created_at"]) or "",
    )
