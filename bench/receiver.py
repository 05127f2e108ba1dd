"""A fast webhook receiver for the benchmark, in its own process: answers 200 at once and
remembers when each notification id arrived (GET /stats returns them)."""

from __future__ import annotations

import sys
import time

from aiohttp import web

arrivals: dict[str, float] = {}


async def hook(request: web.Request) -> web.Response:
    await request.read()
    arrivals.setdefault(request.headers.get("webhook-id", ""), time.time())
    return web.Response(text="ok")


async def stats(_request: web.Request) -> web.Response:
    return web.json_response(arrivals)


async def reset(_request: web.Request) -> web.Response:
    arrivals.clear()
    return web.Response(text="ok")


def main() -> None:
    app = web.Application()
    app.router.add_post("/hook", hook)
    app.router.add_get("/stats", stats)
    app.router.add_post("/reset", reset)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)


if __name__ == "__main__":
    main()
