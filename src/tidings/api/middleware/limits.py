"""Limits on what a request may carry, applied before routing: body size and NUL bytes."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tidings.api.errors import error_response


class BodyLimit:
    """Request body size limit, on the bytes received (chunked bodies included)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "DELETE", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
        # Read the body up to the limit, then hand it on as one message.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and scope["path"].startswith("/v1/") and not _is_json(scope):
            await error_response(
                415,
                "the body must be JSON: send Content-Type: application/json",
                [{"field": "Content-Type", "message": "must be application/json"}],
            )(scope, receive, send)
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            f"request body is larger than {self.max_bytes} bytes",
            [{"field": "body", "message": f"at most {self.max_bytes} bytes"}],
        )
        await response(scope, receive, send)


class NulGuard:
    """A NUL in the path or query string can match nothing and cannot reach PostgreSQL's
    text columns: answer 404 (path) or 400 naming the parameter (query) before routing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if "\x00" in scope["path"]:
                await error_response(404, "no such resource: the path contains a NUL")(
                    scope, receive, send
                )
                return
            query = scope.get("query_string", b"")
            if b"%00" in query or b"\x00" in query:
                names = [
                    name for name, value in parse_qsl(query.decode("latin-1")) if "\x00" in value
                ]
                field = names[0] if names else "query"
                await error_response(
                    400,
                    f"query parameter {field!r} contains a NUL character",
                    [{"field": field, "message": "must not contain NUL characters"}],
                )(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            media: bytes = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False
