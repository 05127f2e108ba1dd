"""Errors as the API answers them: ``{"error": {"type", "message", "details"}}``, never a 500
for bad input."""

from __future__ import annotations

from typing import Any, Literal

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException

from tidings.core.errors import DomainError
from tidings.store.db import DATABASE_ERRORS, is_unavailable

log = structlog.get_logger("tidings.api")

ErrorType = Literal[
    "invalid_request",
    "authentication_error",
    "permission_error",
    "not_found",
    "method_not_allowed",
    "conflict",
    "payload_too_large",
    "unsupported_media_type",
    "validation_error",
    "rate_limited",
    "unavailable",
    "internal_error",
]

_TYPES: dict[int, ErrorType] = {
    400: "invalid_request",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "unavailable",
}


def error_response(
    status: int,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {
        "error": {
            "type": _TYPES.get(status, "invalid_request" if status < 500 else "internal_error"),
            "message": message,
            "details": details or [],
        }
    }
    return Response(
        orjson.dumps(body), status_code=status, headers=headers, media_type="application/json"
    )


def _field_of(loc: tuple[Any, ...]) -> str:
    """``("body", "eventTypes", 1)`` → ``eventTypes[1]``: list positions in brackets, as the
    paths of event data are written."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    field = ""
    for part in parts:
        if isinstance(part, int):
            field += f"[{part}]"
        else:
            field += f".{part}" if field else str(part)
    return field or "body"


def _validation_response(exc: RequestValidationError) -> Response:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        ctx = errors[0].get("ctx") or {}
        reason = ctx.get("error", "could not be parsed")
        message = f"Malformed JSON body: {reason}"
        return error_response(400, message, [{"field": "body", "message": message}])
    details = []
    for err in errors:
        field = _field_of(tuple(err.get("loc", ())))
        message = err.get("msg", "invalid value")
        if err.get("type") == "extra_forbidden":
            message = "unknown field"
        elif err.get("type") == "missing":
            message = "field required"
        details.append({"field": field, "message": message})
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details)
    return error_response(422, f"Invalid request: {summary}", details)


def install(app: FastAPI) -> None:
    document(app)

    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, exc: DomainError) -> Response:
        return error_response(exc.status, exc.message, exc.details, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> Response:
        return _validation_response(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> Response:
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = "no such endpoint"
        return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))

    async def _database(request: Request, exc: Exception) -> Response:
        if is_unavailable(exc):
            # Nothing was committed: the client may simply try again.
            log.warning("database unavailable", path=request.url.path, error=type(exc).__name__)
            return error_response(
                503,
                "the database is unavailable right now; try again shortly",
                headers={"Retry-After": "1"},
            )
        log.error("unhandled error", path=request.url.path, exc_info=exc)
        return error_response(500, "internal error; the request id is in the logs")

    for kind in DATABASE_ERRORS:
        app.add_exception_handler(kind, _database)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", path=request.url.path)
        return error_response(500, "internal error; the request id is in the logs")


# --- the OpenAPI description of errors --------------------------------------------------------


class ErrorDetail(BaseModel):
    field: str = Field(description="The field, parameter or header at fault, e.g. headers.X-Foo")
    message: str


class ErrorInfo(BaseModel):
    type: ErrorType
    message: str
    details: list[ErrorDetail]


class ErrorBody(BaseModel):
    """Every error answer: a 4xx naming what is wrong (a 5xx is a bug)."""

    error: ErrorInfo


# Why each status can happen; which operations answer which is decided by ``error_codes``.
_WHY = {
    400: "Malformed JSON body, a NUL in the query string, or an operator key without the "
    "Tidings-Account header this call needs",
    401: "No API key, or an unknown, expired or revoked one",
    403: "The API key lacks the permission this call needs",
    404: "Not found (also when Tidings-Account names an unknown account)",
    413: "The body is larger than TIDINGS_MAX_BODY_BYTES",
    415: "The body is not application/json",
    422: "A field, parameter or header is invalid; the details name each",
    429: "Too many requests with this API key; Retry-After says when to try again",
    503: "The database cannot be reached right now (restart, network); nothing was done: "
    "try again after Retry-After",
}


def error_codes(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    """The error statuses an operation can answer, from the middleware and dependencies every
    route goes through. An operation declares its own others (409, say) where it is defined."""
    api = path.startswith("/v1/")
    codes = {400}  # a NUL in the query string, on any path (limits.NulGuard)
    if api:  # every /v1 call authenticates (deps.authenticate) and checks a permission
        codes |= {401, 403, 404, 429, 503}
    if method in ("post", "put", "patch"):  # limits.BodyLimit reads (and checks) every body
        codes |= {413, 415} if api else {413}
    if operation.get("parameters") or operation.get("requestBody"):
        codes.add(422)
    return codes


def document(app: FastAPI) -> None:
    """Describe in the OpenAPI document every error each operation can answer, with the error
    body; FastAPI's own 422 schema (``HTTPValidationError``) is not what the API answers."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _describe_errors(generate())
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _describe_errors(schema: dict[str, Any]) -> None:
    ref_template = "#/components/schemas/{model}"
    _, top = models_json_schema([(ErrorBody, "serialization")], ref_template=ref_template)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    components.update(top["$defs"])
    content = {"application/json": {"schema": {"$ref": ref_template.format(model="ErrorBody")}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for code in error_codes(path, method, operation):
                # A route's own description is the more precise; FastAPI's 422 is replaced.
                own = responses.get(str(code), {}).get("description") if code != 422 else None
                responses[str(code)] = {"description": own or _WHY[code]}
            for code, response in responses.items():
                if code.startswith("4") or code == "503":
                    response["content"] = content
            for waits in ("429", "503"):
                if waits in responses:
                    responses[waits]["headers"] = {
                        "Retry-After": {
                            "description": "Seconds to wait before trying again",
                            "schema": {"type": "integer"},
                        }
                    }
            operation["responses"] = dict(sorted(responses.items()))
