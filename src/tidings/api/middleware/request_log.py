"""The API log middleware: every request to ``/v1/…`` and ``/in/…`` becomes one ``logs`` row,
and its id goes back as ``X-Request-Id`` on every answer, errors included.

Pure ASGI, outermost of our middleware, so the answers of the size and NUL guards are recorded
too. The record is handed to the log writer's buffer before the answer's last byte goes out;
redaction runs after the answer is sent, and the database write happens in batches elsewhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tidings.api.errors import error_response
from tidings.core import redact
from tidings.core.ids import new_request_id
from tidings.runtime.context import Context

log = structlog.get_logger("tidings.api")

RECORDED_PREFIXES = ("/v1/", "/in/")
# Dashboard requests that change something are recorded like API calls (with the user's id);
# its page views are not.
DASHBOARD_PREFIX = "/dashboard"
READ_METHODS = ("GET", "HEAD", "OPTIONS")
# Bodies are kept whole up to this size for redaction (JSON must parse to be redacted by
# field name); beyond it only the first part is kept and redacted as text.
CAPTURE_LIMIT = 1024 * 1024
# A request that ended without an answer (the client went away): nginx's convention.
NO_ANSWER = 499


@dataclass
class RequestRecord:
    """One request as captured; ``row()`` redacts it once, into the values to store."""

    id: str
    created_at: int
    method: str
    path: str
    # What may hold secrets until redacted stays out of repr (and so out of tracebacks).
    raw_query: str = field(repr=False)
    client_ip: str | None
    headers: list[tuple[bytes, bytes]] = field(repr=False)
    started: float = field(default_factory=time.perf_counter)
    request_body: bytearray = field(default_factory=bytearray, repr=False)
    response_body: bytearray = field(default_factory=bytearray, repr=False)
    status_code: int = NO_ANSWER
    duration_ms: float = 0.0
    state: dict[str, Any] = field(default_factory=dict, repr=False)
    _row: dict[str, Any] | None = field(default=None, init=False, repr=False)

    def finish(self, status_code: int) -> None:
        self.status_code = status_code
        self.duration_ms = round((time.perf_counter() - self.started) * 1000, 3)

    def row(self) -> dict[str, Any]:
        if self._row is None:
            event_ids = self.state.get("event_ids")
            self._row = {
                "id": self.id,
                "account_id": self.state.get("account_id"),
                "key_id": self.state.get("key_id"),
                "user_id": self.state.get("user_id"),
                "created_at": self.created_at,
                "type": "normal",
                "method": self.method[:10],
                "status_code": self.status_code,
                "outcome": "succeeded" if self._succeeded() else "failed",
                "duration_ms": self.duration_ms,
                "client_ip": self.client_ip[:64] if self.client_ip else None,
                "event_ids": list(event_ids) if event_ids else None,
                **self._redacted(),
            }
            # The raw capture may hold secrets: drop it as soon as the redacted row exists.
            self.headers = []
            self.request_body = bytearray()
            self.response_body = bytearray()
        return self._row

    def _succeeded(self) -> bool:
        # A dashboard form that worked answers with a redirect to the page it changed.
        if self.path.startswith(DASHBOARD_PREFIX) and 300 <= self.status_code < 400:
            return True
        return 200 <= self.status_code < 300

    def _redacted(self) -> dict[str, Any]:
        try:
            dashboard = self.path.startswith(DASHBOARD_PREFIX)
            return {
                "path": redact.clean(redact.redact_text(self.path))[:2048],
                "query": redact.redact_query(self.raw_query),
                "request_headers": redact.redact_headers(self.headers),
                # A dashboard form is a query string: its secret-named fields are redacted.
                "request_body": (
                    redact.redact_query(bytes(self.request_body).decode("utf-8", "replace"))
                    if dashboard
                    else redact.redact_body(bytes(self.request_body))
                ),
                # A dashboard answer is a page, which may show a key or codes once: not kept.
                "response_body": None
                if dashboard
                else redact.redact_body(bytes(self.response_body)),
            }
        except Exception:
            # A bug here must neither leak what it could not redact nor block the log.
            log.exception("redacting an API log record failed", request_id=self.id)
            return {
                "path": redact.REDACTED,
                "query": None,
                "request_headers": None,
                "request_body": None,
                "response_body": None,
            }


def _recorded_path(scope: Scope) -> bool:
    path: str = scope["path"]
    if path.startswith(RECORDED_PREFIXES):
        return True
    return path.startswith(DASHBOARD_PREFIX) and scope["method"] not in READ_METHODS


def _capture(buffer: bytearray, chunk: bytes) -> None:
    room = CAPTURE_LIMIT - len(buffer)
    if room > 0 and chunk:
        buffer += chunk[:room]


class RequestLog:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Before the app runs: routers read it (an event stores the id of the request
        # that published it), and scope["state"] is what request.state writes to.
        state: dict[str, Any] = scope.setdefault("state", {})
        request_id = new_request_id()
        state["request_id"] = request_id
        # Every log line written while this request runs carries its id.
        structlog.contextvars.bind_contextvars(request_id=request_id)
        ctx: Context | None = getattr(getattr(scope.get("app"), "state", None), "ctx", None)
        if ctx is None or not _recorded_path(scope):
            await self.app(scope, receive, send)
            return
        await self._recorded(scope, receive, send, ctx, request_id, state)

    async def _recorded(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        ctx: Context,
        request_id: str,
        state: dict[str, Any],
    ) -> None:
        client = scope.get("client")
        record = RequestRecord(
            id=request_id,
            created_at=ctx.clock.now(),
            method=scope["method"],
            path=scope["path"],
            raw_query=scope.get("query_string", b"").decode("latin-1"),
            client_ip=client[0] if client else None,
            headers=list(scope.get("headers", [])),
            state=state,
        )
        pushed = False
        started = False
        status = 500
        # A stream (tidings listen) is not a body to keep: only that it was opened, and how.
        streaming = False

        async def receive_recorded() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                _capture(record.request_body, message.get("body", b""))
            return message

        async def send_recorded(message: Message) -> None:
            nonlocal pushed, started, status, streaming
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                streaming = any(
                    name == b"content-type" and value.startswith(b"text/event-stream")
                    for name, value in message.get("headers", [])
                )
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body":
                if not streaming:
                    _capture(record.response_body, message.get("body", b""))
                if not message.get("more_body", False) and not pushed:
                    # In the buffer before the client has the answer: a shutdown now still
                    # writes it.
                    record.finish(status)
                    ctx.request_log.push(record)
                    pushed = True
            await send(message)

        try:
            await self.app(scope, receive_recorded, send_recorded)
        except Exception:
            if started:
                raise
            # Answered here rather than by the outer error middleware so that the 500 carries
            # X-Request-Id and is recorded.
            log.exception("unhandled error", request_id=request_id, path=scope["path"])
            response = error_response(500, "internal error; the request id is in the logs")
            await response(scope, receive, send_recorded)
        finally:
            if not pushed:
                record.finish(status if started else NO_ANSWER)
                ctx.request_log.push(record)
        # Redact now, after the answer went out, so the buffer holds no plaintext secrets.
        row = record.row()
        log.info(
            "request",
            method=row["method"],
            path=row["path"],
            status=row["status_code"],
            duration_ms=row["duration_ms"],
            account_id=row["account_id"],
            key_id=row["key_id"],
            user_id=row["user_id"],
        )
