"""``/v1/events`` and ``/v1/test-events``: publishing, and the record of what was published.

A 202 means the event and its notifications are committed: nothing accepted is lost."""

from __future__ import annotations

import email.message
import json
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import AliasChoices, Field, TypeAdapter, ValidationError

from tidings.api.deps import Ctx, allow, log_id, presented_key
from tidings.api.event_types import Name
from tidings.api.logs import LogSummary
from tidings.api.model import DEFAULT_LIMIT, MAX_LIMIT, ApiModel, ApiOut, Page
from tidings.api.notifications import NotificationDetail, NotificationOut
from tidings.api.timerange import From, To
from tidings.core.access import Access
from tidings.services import auth, publish
from tidings.services import events as service
from tidings.services.publish import Publication

router = APIRouter(tags=["events"])

Read = Annotated[Access, Depends(allow("events", "read"))]
Write = Annotated[Access, Depends(allow("events", "write"))]


class EventIn(ApiModel):
    event_type: Name
    event_data: dict[str, Any] = Field(description="The event's data: a JSON object")


class TestEventIn(EventIn):
    webhook_ids: list[str] = Field(
        min_length=1,
        max_length=100,
        validation_alias=AliasChoices("webhookIds", "webHookIds"),
        description="The webhooks to reach, Active or Disabled ('webHookIds' is accepted too)",
    )


class EventOut(ApiOut):
    id: str
    event_type: str
    event_data: dict[str, Any]
    idempotency_key: str | None
    test: bool
    source_id: str | None = Field(description="The source it was pushed to (src_…), if any")
    pull_id: str | None = Field(description="The pull whose run found it (pull_…), if any")
    created_at: str
    notifications: list[NotificationOut] | None = Field(
        description="In publish answers; null in lists"
    )


class EventDetail(EventOut):
    request: LogSummary | None = Field(
        description="The API request that published it (whole record: GET /v1/logs/{id})"
    )
    notifications: list[NotificationDetail]  # type: ignore[assignment]


def _published(request: Request, publication: Publication) -> EventOut:
    # For the API log: the event this request made.
    request.state.event_ids = [publication.event["id"]]
    return EventOut(**publication.event)


class _LeanPublish(APIRoute):
    """``POST /v1/events`` served without FastAPI's per-request dependency resolution and
    response re-validation (about half of a publish's CPU): the same steps in the same order
    (body parsed, key authenticated, headers and body validated, one call to the service),
    the same errors through the same handlers, the same log fields. The declared endpoint
    below stays what the OpenAPI document describes."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        return _lean_publish


async def publish_event(
    body: EventIn,
    ctx: Ctx,
    access: Write,
    request: Request,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            # An empty key is refused: it would be stored and then clash as any key does.
            min_length=1,
            max_length=255,
            description="Retry-safe publishing: the same key and body return the first event",
        ),
    ] = None,
) -> EventOut:
    publication = await publish.publish(
        ctx,
        access,
        body.event_type,
        body.event_data,
        idempotency_key=idempotency_key,
        log_id=log_id(request),
    )
    if publication.replayed:
        response.headers["Idempotent-Replayed"] = "true"
        return EventOut(**publication.event)
    return _published(request, publication)


_EVENT_IN = TypeAdapter(EventIn)
_IDEMPOTENCY_KEY = TypeAdapter(
    Annotated[str, Field(min_length=1, max_length=255)]  # as declared on publish_event
)


def _is_json(content_type: str | None) -> bool:
    """Whether FastAPI would parse a body of this type as JSON (no type: yes)."""
    if not content_type:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def _located(exc: ValidationError, *where: str) -> list[dict[str, Any]]:
    return [
        {
            "type": e["type"],
            "loc": (*where, *e["loc"]),
            "msg": e["msg"],
            "input": e.get("input"),
            **({"ctx": e["ctx"]} if "ctx" in e else {}),
        }
        for e in exc.errors(include_url=False)
    ]


async def _lean_publish(request: Request) -> Response:
    raw = await request.body()
    body: Any = None
    has_body = False
    if raw:
        has_body = True
        if _is_json(request.headers.get("content-type")):
            try:
                body = json.loads(raw)
            except json.JSONDecodeError as e:
                error = {
                    "type": "json_invalid",
                    "loc": ("body", e.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": e.msg},
                }
                raise RequestValidationError([error], body=e.doc) from e
            except Exception as e:  # nested too deep to parse, as FastAPI answers it
                raise HTTPException(400, "There was an error parsing the body") from e
        else:
            body = raw
    ctx = request.app.state.ctx
    headers = request.headers
    caller = await auth.authenticate(
        ctx,
        presented_key(headers.get("authorization"), headers.get("x-api-key")),
        headers.get("tidings-account"),
    )
    request.state.key_id = caller.key_id
    request.state.account_id = caller.account_id
    access = caller.acting("events", "write")
    errors: list[dict[str, Any]] = []
    idempotency_key = headers.get("idempotency-key")
    if idempotency_key is not None:
        try:
            _IDEMPOTENCY_KEY.validate_python(idempotency_key)
        except ValidationError as exc:
            errors += _located(exc, "header", "idempotency-key")
    event: EventIn | None = None
    if not has_body:
        errors.append({"type": "missing", "loc": ("body",), "msg": "Field required", "input": None})
    else:
        try:
            event = _EVENT_IN.validate_python(body, from_attributes=True)
        except ValidationError as exc:
            errors += _located(exc, "body")
    if errors or event is None:
        raise RequestValidationError(errors, body=body)
    publication = await publish.publish(
        ctx,
        access,
        event.event_type,
        event.event_data,
        idempotency_key=idempotency_key,
        log_id=log_id(request),
    )
    out = EventOut(**publication.event)
    answer = Response(
        out.model_dump_json(by_alias=True), status_code=202, media_type="application/json"
    )
    if publication.replayed:
        answer.headers["Idempotent-Replayed"] = "true"
    else:
        request.state.event_ids = [publication.event["id"]]
    return answer


router.add_api_route(
    "/v1/events",
    publish_event,
    methods=["POST"],
    status_code=202,
    response_model=EventOut,
    responses={409: {"description": "The Idempotency-Key was used with a different body"}},
    route_class_override=_LeanPublish,
)


@router.post(
    "/v1/test-events",
    status_code=202,
    response_model=EventOut,
    responses={404: {"description": "A named webhook does not exist"}},
)
async def publish_test_event(
    body: TestEventIn, ctx: Ctx, access: Write, request: Request
) -> EventOut:
    """Send an event to the named webhooks only, whether Active or Disabled and whatever
    their event-type filter: create a webhook Disabled, test it, then enable it."""
    publication = await publish.publish_test(
        ctx, access, body.webhook_ids, body.event_type, body.event_data, log_id=log_id(request)
    )
    return _published(request, publication)


@router.get("/v1/events", response_model=Page[EventOut])
async def list_events(
    ctx: Ctx,
    access: Read,
    event_type: Annotated[str | None, Query(alias="eventType")] = None,
    log: Annotated[str | None, Query(alias="logId", description="The publishing request")] = None,
    start: From = None,
    end: To = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[EventOut]:
    rows, next_cursor = await service.page(
        ctx,
        access,
        event_type=event_type,
        log_id=log,
        start=start,
        end=end,
        limit=limit,
        cursor=cursor,
    )
    return Page(data=[EventOut(**r) for r in rows], next_cursor=next_cursor)


@router.get("/v1/events/{event_id}", response_model=EventDetail)
async def get_event(event_id: str, ctx: Ctx, access: Read) -> EventDetail:
    """The event, the API request that published it, and every notification with its
    attempts: the whole story of one event in one answer."""
    return EventDetail(**await service.get(ctx, access, event_id))
