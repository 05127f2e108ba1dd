"""``/v1/listen``: the stream ``tidings listen`` holds open (Server-Sent Events), and where it
reports what its local URL answered. While the stream is open the listener is a webhook of
the account (services/listeners.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import Field

from tidings.api.deps import Ctx, allow
from tidings.api.model import ApiModel
from tidings.core.access import Access
from tidings.outbound.sender import Response as Answer
from tidings.runtime.context import Context
from tidings.services import listeners

router = APIRouter(prefix="/v1/listen", tags=["listen"])

Write = Annotated[Access, Depends(allow("webhooks", "write"))]

# While nothing is due, the stream looks again this often (and wakes at once when told).
POLL = 0.25

STREAM = """A `text/event-stream`. First `event: ready` with
`{"listenerId", "webhookId", "secret"}` (the signing secret, the same for this API key at every
connection); then one `event: notification` per delivery, with
`{"notificationId", "webhookId", "eventType", "lease", "headers", "body"}`: POST `body` with
`headers` to the local URL, then report the answer to `POST /v1/listen/{listenerId}/results`.
A comment line (`: keep-alive`) comes every 15 s. Closing the stream removes the listener."""


def _event(name: str, data: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _camel(handed: dict[str, Any]) -> dict[str, Any]:
    return {
        "notificationId": handed["notification_id"],
        "webhookId": handed["webhook_id"],
        "eventType": handed["event_type"],
        "lease": handed["lease"],
        "headers": handed["headers"],
        "body": handed["body"],
    }


async def _stream(
    ctx: Context, request: Request, listener: listeners.Listener
) -> AsyncIterator[bytes]:
    try:
        yield _event(
            "ready",
            {
                "listenerId": listener.id,
                "webhookId": listener.webhook_id,
                "secret": listener.secret,
            },
        )
        last_seen = time.monotonic()
        while not ctx.stopping.is_set() and not await request.is_disconnected():
            handed = await listeners.due(ctx, listener)
            for item in handed:
                yield _event("notification", _camel(item))
            if time.monotonic() - last_seen >= listeners.HEARTBEAT:
                await listeners.seen(ctx, listener)
                last_seen = time.monotonic()
                yield b": keep-alive\n\n"
            if not handed:
                await asyncio.sleep(POLL)
    finally:
        # Whether the listener left or the server stops: its webhook goes (not cancellable).
        await asyncio.shield(listeners.disconnect(ctx, listener))


@router.get(
    "",
    response_class=StreamingResponse,
    responses={200: {"description": STREAM, "content": {"text/event-stream": {}}}},
)
async def listen(
    request: Request,
    ctx: Ctx,
    access: Write,
    events: Annotated[
        str | None,
        Query(description="Comma-separated event types or patterns (payment.*); none: all"),
    ] = None,
) -> StreamingResponse:
    """Receive the account's events as they are published, for as long as the stream is open."""
    wanted = [e.strip() for e in (events or "").split(",") if e.strip()]
    listener = await listeners.connect(ctx, access, wanted)
    return StreamingResponse(
        _stream(ctx, request, listener),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


class ResultIn(ApiModel):
    notification_id: str
    lease: int = Field(description="As the notification event gave it")
    status_code: int | None = Field(default=None, ge=100, le=599)
    duration_ms: float = Field(ge=0)
    error: str | None = Field(default=None, max_length=4000)
    response_body: str | None = Field(default=None, max_length=4096)


@router.post("/{listener_id}/results", status_code=204)
async def report_result(listener_id: str, body: ResultIn, ctx: Ctx, access: Write) -> Response:
    """What the local URL answered: recorded as the notification's attempt (a non-2xx, or an
    error, is retried on the schedule while the listener stays)."""
    answer = Answer(
        status_code=body.status_code,
        body=body.response_body,
        duration_ms=body.duration_ms,
        error=body.error
        if body.error or (body.status_code is not None and 200 <= body.status_code < 300)
        else f"HTTP {body.status_code}",
    )
    await listeners.report(ctx, access, listener_id, body.notification_id, body.lease, answer)
    return Response(status_code=204)
