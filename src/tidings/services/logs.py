"""The API log as partners read it (seed 000 "Logs", seed 002 "How to view Log"): every call,
newest first, and the summary an event shows of the request that published it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import structlog

from tidings.core.access import Caller
from tidings.core.clock import to_iso
from tidings.core.errors import not_found
from tidings.runtime.context import Context
from tidings.store import logs as store
from tidings.store.db import Connection
from tidings.store.log_writer import find_pending

log = structlog.get_logger("tidings.logs")


def _scope(caller: Caller) -> str | None:
    """Whose logs: the account the caller acts for; an operator naming none reads all."""
    caller.require("logs", "read")
    return caller.account_id


def item_view(values: Mapping[Any, Any]) -> dict[str, Any]:
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
        "user_id": values.get("user_id"),
        "client_ip": values["client_ip"],
        "event_ids": values["event_ids"] or [],
    }


def path_prefix(path: str | None) -> str | None:
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


async def page(
    ctx: Context,
    caller: Caller,
    *,
    status: str = "all",
    log_type: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    path: str | None = None,
    method: str | None = None,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    account_id = _scope(caller)
    await _fresh(ctx)
    async with ctx.db.read() as conn:
        rows, next_cursor = await store.page(
            conn,
            account_id,
            outcome=None if status == "all" else status,
            log_type=log_type,
            method=method,
            path_prefix=path_prefix(path),
            start=start,
            end=end,
            limit=limit,
            cursor=cursor,
        )
    return [item_view(r._mapping) for r in rows], next_cursor


async def get(ctx: Context, caller: Caller, log_id: str) -> dict[str, Any]:
    """The whole record: request headers and bodies as stored (secrets redacted)."""
    account_id = _scope(caller)
    await _fresh(ctx)
    async with ctx.db.read() as conn:
        row = await store.get(conn, log_id, account_id)
    if row is None:
        raise not_found("log", log_id)
    values = row._mapping
    return {
        **item_view(values),
        "request_headers": values["request_headers"] or {},
        "request_body": values["request_body"],
        "response_body": values["response_body"],
    }


async def summary(conn: Connection, log_id: str, account_id: str | None) -> dict[str, Any] | None:
    """The summary of log ``log_id`` (of ``account_id`` when given), written or still in
    this process's buffer; None when there is none."""
    values: Mapping[Any, Any] | None = find_pending(log_id)
    if values is None:
        row = await store.get(conn, log_id, account_id)
        values = row._mapping if row is not None else None
    elif account_id is not None and values["account_id"] != account_id:
        values = None
    if values is None:
        return None
    return {
        "id": values["id"],
        "method": values["method"],
        "path": values["path"],
        "status_code": values["status_code"],
        "created_at": to_iso(values["created_at"]) or "",
    }
