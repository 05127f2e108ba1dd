"""Receivers run by the benchmark in processes of their own.

    receiver.py serve PORT LOG   # aiohttp.web: 200 "ok" to everything, one LOG line per request
    receiver.py hang PORT        # accepts connections and never answers

The aiohttp receiver is the fallback where nginx is not installed. It writes the same lines as
the nginx receiver's access log: ``<unix time> <webhook-id header or -> <path>``, buffered and
flushed every 0.2 s."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TextIO

from aiohttp import web

from common import use_uvloop


def serve(port: int, log: Path) -> None:
    lines: list[str] = []

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        lines.append(f"{time.time():.6f} {request.headers.get('webhook-id', '-')} {request.path}\n")
        return web.Response(text="ok")

    async def flush_loop(out: TextIO) -> None:
        while True:
            await asyncio.sleep(0.2)
            if lines:
                chunk, lines[:] = "".join(lines), []
                out.write(chunk)
                out.flush()

    async def background(_app: web.Application) -> AsyncIterator[None]:
        with log.open("a") as out:
            task = asyncio.create_task(flush_loop(out))
            yield
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            out.write("".join(lines))

    app = web.Application(client_max_size=1024**2)
    app.cleanup_ctx.append(background)
    app.router.add_route("*", "/{tail:.*}", hook)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


def hang(port: int) -> None:
    """A receiver that accepts, reads, and never answers: every delivery runs to the sender's
    timeout."""
    held: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        with contextlib.suppress(ConnectionError):
            while await reader.read(65536):
                pass
        held.remove(writer)

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def main() -> None:
    use_uvloop()
    command, port = sys.argv[1], int(sys.argv[2])
    if command == "serve":
        serve(port, Path(sys.argv[3]))
    elif command == "hang":
        hang(port)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
