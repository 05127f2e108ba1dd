"""Keeps the route cache (api/route_cache.py) true: a successful change to webhooks, event
types or accounts clears it before its answer goes out, so the caller's next publish already
sees the change. A middleware rather than a call in each route, so that no new route that
changes where events go can forget it."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tidings.context import Context

PREFIXES = ("/v1/webhooks", "/v1/event-types", "/v1/accounts")
READS = ("GET", "HEAD", "OPTIONS")


class RoutesChanged:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in READS
            or not scope["path"].startswith(PREFIXES)
        ):
            await self.app(scope, receive, send)
            return
        ctx: Context = scope["app"].state.ctx

        async def send_after_change(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] < 400:
                ctx.routes.changed()
            await send(message)

        await self.app(scope, receive, send_after_change)
