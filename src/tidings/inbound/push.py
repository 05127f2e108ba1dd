"""``POST /in/{sourceId}``: where partners push events (a source's ingest URL).

Authenticated first (services/sources.py): a push that fails answers 401 and stores nothing
but its request's log record. A push that passes is committed as an event before the 202."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tidings.api.deps import Ctx, log_id
from tidings.api.errors import ErrorBody
from tidings.core.errors import DomainError
from tidings.core.jsonbytes import loads
from tidings.services import sources

router = APIRouter(tags=["push"])

_ERROR = {"model": ErrorBody}


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = loads(body)
    except ValueError as exc:
        raise DomainError(400, f"Malformed JSON body: {exc}", field="body") from None
    if not isinstance(data, dict):
        raise DomainError(400, "the body must be a JSON object", field="body")
    return data


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


@router.post(
    "/in/{source_id}",
    status_code=202,
    responses={
        202: {
            "description": "Committed as an event (or the first event of a repeated "
            "webhook-id / Idempotency-Key)",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"eventId": {"type": "string"}},
                        "required": ["eventId"],
                    }
                }
            },
        },
        400: {**_ERROR, "description": "Malformed JSON, or not a JSON object"},
        401: {**_ERROR, "description": "The push did not authenticate: nothing was stored"},
        404: {**_ERROR, "description": "No such source, or it is disabled"},
        413: {**_ERROR, "description": "The body is larger than TIDINGS_MAX_BODY_BYTES"},
        415: {**_ERROR, "description": "The body is not application/json"},
        422: {**_ERROR, "description": "The data does not fit the event type's schema"},
    },
)
async def push(source_id: str, request: Request, ctx: Ctx) -> JSONResponse:
    """Push one event: a JSON object, authenticated as the source requires (`X-Api-Key` or
    `Authorization: Bearer` with its key, `Authorization: Basic`, or a Standard Webhooks /
    `X-<Brand>-Signature` signature made with its secret)."""
    source = await sources.receiving(ctx, source_id)
    # For the API log: the push is the source's account's to read.
    request.state.account_id = source.account_id
    body = await request.body()
    headers = {name.lower(): value for name, value in request.headers.items()}

    def parse(raw: bytes) -> dict[str, Any]:
        if not _is_json(headers.get("content-type")):
            raise DomainError(
                415,
                "the body must be JSON: send Content-Type: application/json",
                field="Content-Type",
            )
        return _json_object(raw)

    publication = await sources.push(ctx, source, headers, body, parse, log_id=log_id(request))
    event_id = publication.event["id"]
    request.state.event_ids = [event_id]
    return JSONResponse({"eventId": event_id}, status_code=202)
