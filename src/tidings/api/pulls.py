"""``/v1/pulls``: Tidings fetches a partner's URL on the partner's schedule ("Pull", seed 000)
and makes an event of each record it has not seen before."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import Field

from tidings.api.deps import Ctx, allow
from tidings.api.event_types import Name
from tidings.api.model import DEFAULT_LIMIT, MAX_LIMIT, ApiModel, ApiOut, NotNull, Page
from tidings.core.access import Access
from tidings.services import pull_runs as runs
from tidings.services import pulls as service

router = APIRouter(prefix="/v1/pulls", tags=["pulls"])

Read = Annotated[Access, Depends(allow("pulls", "read"))]
Write = Annotated[Access, Depends(allow("pulls", "write"))]

Status = Literal["Active", "Disabled"]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Url = Annotated[str, Field(min_length=1, max_length=2048)]
Secret = Annotated[str, Field(min_length=1, max_length=200)]
Zone = Annotated[str, Field(min_length=1, max_length=64, description="An IANA time zone")]
Frequency = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="hourly, daily, weekly, or a five-field cron expression",
    ),
]
Schedule = Annotated[
    str,
    Field(
        max_length=64,
        description='":MM" (hourly), "HH:MM" (daily), "<weekday> HH:MM" (weekly); unused with cron',
    ),
]
Pointer = Annotated[str, Field(max_length=512, description="A JSON Pointer, e.g. /data/items")]


class PullIn(ApiModel):
    name: Text
    category: str | None = Field(default=None, max_length=200)
    url: Url
    username: Text | None = None
    password: Secret | None = Field(default=None, description="Encrypted at rest; masked")
    timezone: Zone = "UTC"
    frequency: Frequency
    schedule: Schedule | None = None
    event_type: Name = Field(description="The type each record becomes")
    records_pointer: Pointer | None = Field(
        default=None, description="Where the array of records is (default: the whole body)"
    )
    id_pointer: Pointer | None = Field(
        default=None, description="Where a record's id is (default: a hash of the record)"
    )
    status: Status = "Active"


class PullPatch(ApiModel):
    name: Annotated[Text | None, NotNull] = None
    category: str | None = Field(default=None, max_length=200)
    url: Annotated[Url | None, NotNull] = None
    username: Text | None = None
    password: Secret | None = None
    timezone: Annotated[Zone | None, NotNull] = None
    frequency: Annotated[Frequency | None, NotNull] = None
    schedule: Schedule | None = None
    event_type: Annotated[Name | None, NotNull] = None
    records_pointer: Pointer | None = None
    id_pointer: Pointer | None = None
    status: Annotated[Status | None, NotNull] = None


NULLABLE = {"category", "username", "password", "schedule", "records_pointer", "id_pointer"}


class PullOut(ApiOut):
    id: str
    name: str
    category: str | None
    url: str
    username: str | None
    password: str | None = Field(description="Masked")
    timezone: str
    frequency: str
    schedule: str | None
    event_type: str
    records_pointer: str | None
    id_pointer: str | None
    status: Status
    next_run_at: str | None = Field(description="UTC; null while Disabled")
    disabled_reason: str | None = Field(description='"failing" when failed runs disabled it')
    last_run_at: str | None
    consecutive_failures: int
    created_at: str
    updated_at: str


class RunOut(ApiOut):
    id: str
    pull_id: str
    started_at: str
    finished_at: str | None
    status: Literal["succeeded", "failed"]
    http_status: int | None
    records_seen: int
    records_new: int
    error: str | None
    event_ids: list[str] = Field(description="The events this run made")
    log_id: str = Field(description="Its record in GET /v1/logs?type=sync")


@router.post("", status_code=201, response_model=PullOut)
async def create_pull(body: PullIn, ctx: Ctx, access: Write) -> PullOut:
    """A new pull; it runs first at `nextRunAt`."""
    return PullOut(**await service.create(ctx, access, body.model_dump(exclude_none=True)))


@router.get("", response_model=Page[PullOut])
async def list_pulls(
    ctx: Ctx,
    access: Read,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[PullOut]:
    rows, next_cursor = await service.page(ctx, access, limit=limit, cursor=cursor)
    return Page(data=[PullOut(**r) for r in rows], next_cursor=next_cursor)


@router.get("/{pull_id}", response_model=PullOut)
async def get_pull(pull_id: str, ctx: Ctx, access: Read) -> PullOut:
    return PullOut(**await service.get(ctx, access, pull_id))


@router.patch("/{pull_id}", response_model=PullOut)
async def patch_pull(pull_id: str, body: PullPatch, ctx: Ctx, access: Write) -> PullOut:
    """Change the given fields (`nextRunAt` follows a new schedule)."""
    changes = body.changes(NULLABLE)
    return PullOut(**await service.update(ctx, access, pull_id, changes))


@router.delete("/{pull_id}", status_code=204)
async def delete_pull(pull_id: str, ctx: Ctx, access: Write) -> Response:
    await service.delete(ctx, access, pull_id)
    return Response(status_code=204)


@router.post("/{pull_id}/enable", response_model=PullOut)
async def enable_pull(pull_id: str, ctx: Ctx, access: Write) -> PullOut:
    """Active again: its count of failed runs starts over."""
    return PullOut(**await service.set_status(ctx, access, pull_id, "Active"))


@router.post("/{pull_id}/disable", response_model=PullOut)
async def disable_pull(pull_id: str, ctx: Ctx, access: Write) -> PullOut:
    return PullOut(**await service.set_status(ctx, access, pull_id, "Disabled"))


@router.post(
    "/{pull_id}/run",
    response_model=RunOut,
    responses={409: {"description": "Disabled, or a run is in progress"}},
)
async def run_pull(pull_id: str, ctx: Ctx, access: Write) -> RunOut:
    """Run the pull now; answers its run record when the run ends (its schedule stays)."""
    return RunOut(**await runs.run_now(ctx, access, pull_id))


@router.get("/{pull_id}/runs", response_model=Page[RunOut])
async def list_runs(
    pull_id: str,
    ctx: Ctx,
    access: Read,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[RunOut]:
    """The pull's runs, newest first."""
    rows, next_cursor = await runs.page(ctx, access, pull_id, limit=limit, cursor=cursor)
    return Page(data=[RunOut(**r) for r in rows], next_cursor=next_cursor)
