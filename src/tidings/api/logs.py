"""``/v1/logs``: every API call, newest first, filterable as partners look for one (seed 000
"Logs", seed 002 "How to view Log")."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from tidings.api.deps import Ctx, allow_any_scope
from tidings.api.model import DEFAULT_LIMIT, MAX_LIMIT, ApiOut, Page
from tidings.api.timerange import From, To
from tidings.core.access import Caller
from tidings.services import logs as service

router = APIRouter(prefix="/v1/logs", tags=["logs"])

# A key holding logs:read reads its account's logs (an operator key naming an account reads
# that one's); an operator key naming none, all.
Reader = Annotated[Caller, Depends(allow_any_scope("logs", "read"))]


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
    user_id: str | None = None
    client_ip: str | None
    event_ids: list[str]


class LogOut(LogItem):
    request_headers: dict[str, str]
    request_body: str | None
    response_body: str | None


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
    rows, next_cursor = await service.page(
        ctx,
        caller,
        status=status,
        log_type=log_type,
        start=start,
        end=end,
        path=path,
        method=method,
        limit=limit,
        cursor=cursor,
    )
    return Page(data=[LogItem(**r) for r in rows], next_cursor=next_cursor)


@router.get("/{log_id}", response_model=LogOut)
async def get_log(log_id: str, ctx: Ctx, caller: Reader) -> LogOut:
    """The whole record: request headers and bodies as stored (secrets redacted)."""
    return LogOut(**await service.get(ctx, caller, log_id))
