"""``tidings listen``: the account's events on a developer's machine, like ``stripe listen``.

Connects out to a Tidings server (no inbound port, no tunnel), holds its event stream open
(``GET /v1/listen``) and forwards each notification to a local URL with the headers and
Standard Webhooks signature a receiver gets, then reports the local answer back, where it is
recorded as the notification's attempt."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import typer
from rich.console import Console

if TYPE_CHECKING:
    from tidings_client import AsyncTidings

console = Console(highlight=False)

ApiUrl = Annotated[
    str,
    typer.Option(envvar="TIDINGS_API_URL", help="The Tidings server"),
]
ApiKey = Annotated[
    str,
    typer.Option(envvar="TIDINGS_API_KEY", help="An API key of the account"),
]
# After a dropped stream (server restart, network), wait this long, doubling up to the most.
RECONNECT = 1.0
MOST = 30.0


def listen(
    forward_to: Annotated[
        str, typer.Option("--forward-to", help="Local URL each event is POSTed to")
    ],
    events: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated event types or patterns, e.g. payment.*,booking.created"
        ),
    ] = None,
    api_url: ApiUrl = "http://127.0.0.1:8000",
    api_key: ApiKey = "",
) -> None:
    """Forward the account's events to a local URL while this runs (Ctrl-C to stop)."""
    if not api_key:
        raise typer.BadParameter("give --api-key or set TIDINGS_API_KEY", param_hint="--api-key")
    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        asyncio.run(_run(api_url.rstrip("/"), api_key, forward_to, events))
    console.print("Stopped.")


async def _run(api_url: str, api_key: str, forward_to: str, events: str | None) -> None:
    from tidings_client import AsyncTidings, TidingsError

    wait = RECONNECT
    shown_secret = False
    # Ctrl-C or SIGTERM stops for good: a cancellation that a transport error hides (httpx may
    # report an interrupted read as one) must not turn into a reconnect.
    stopping = asyncio.Event()
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()

    def stop() -> None:
        stopping.set()
        if main is not None:
            main.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop)
    async with (
        AsyncTidings(api_key, api_url, max_retries=0) as api,
        httpx.AsyncClient(timeout=30, follow_redirects=False) as local,
    ):
        while True:
            try:
                listener = ""
                async for name, data in api.listen.stream(events):
                    wait = RECONNECT
                    if name == "ready":
                        if not shown_secret:
                            console.print(
                                f"Ready! Your webhook signing secret is {data['secret']} "
                                f"(forwarding to {forward_to}; Ctrl-C to stop)"
                            )
                            shown_secret = True
                        listener = data["listenerId"]
                    elif name == "notification":
                        await _forward(api, local, listener, forward_to, data)
            except TidingsError as exc:  # the server refused the stream (a bad key, say)
                console.print(f"[red]error:[/] {exc.message}")
                raise typer.Exit(1) from None
            except httpx.TransportError as exc:
                if stopping.is_set():
                    return
                console.print(
                    f"[yellow]connection lost ({exc.__class__.__name__}); retrying in {wait:g}s[/]"
                )
            if stopping.is_set():
                return
            await asyncio.sleep(wait)
            wait = min(wait * 2, MOST)


async def _forward(
    api: AsyncTidings,
    local: httpx.AsyncClient,
    listener: str,
    forward_to: str,
    notification: dict[str, Any],
) -> None:
    from tidings_client import TidingsError

    started = time.perf_counter()
    status: int | None = None
    error: str | None = None
    body: str | None = None
    try:
        answer = await local.post(
            forward_to, content=notification["body"].encode(), headers=notification["headers"]
        )
        status, body = answer.status_code, answer.text[:4096]
    except httpx.HTTPError as exc:
        error = f"{exc.__class__.__name__}: {exc}"
    took = (time.perf_counter() - started) * 1000
    shown = f"{status}" if status is not None else f"[red]{error}[/]"
    console.print(
        f"{datetime.now():%H:%M:%S}  {notification['eventType']:<32} "
        f"{notification['notificationId']}  {shown}  {took:.0f} ms"
    )
    try:
        await api.listen.report(
            listener,
            notification["notificationId"],
            notification["lease"],
            status_code=status,
            duration_ms=round(took, 3),
            error=error,
            response_body=body,
        )
    except TidingsError as exc:
        console.print(f"[red]error:[/] {exc.message}")
