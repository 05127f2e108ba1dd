"""``tidings logs …``: every API call of the account, and ``tail`` to follow new ones."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tidings.cli.params import options, param
from tidings.cli.remote import Output, cell, console, first, group
from tidings.cli.resource import Commands

if TYPE_CHECKING:
    from tidings_client import Tidings

app = group("List, read and follow the API log (over the API).")

COLUMNS = ["createdAt", "method", "path", "statusCode", "durationMs", "id"]

Status = Annotated[str | None, typer.Option(help="all, succeeded or failed")]
Path = Annotated[str | None, typer.Option(help="Path prefix, e.g. /v1/webhooks")]
Method = Annotated[str | None, typer.Option(help="GET, POST…")]
# What list and tail both filter by.
FILTERS = options(status=Status, path=Path, method=Method)

logs = Commands(app, "logs", "log_id", Annotated[str, typer.Argument(help="The log id")])
logs.listing(
    "API calls, newest first.",
    COLUMNS,
    [*FILTERS, *options(type=Annotated[str | None, typer.Option(help="normal or sync")])],
    limit=50,
)
logs.call("get", "One call with its headers and bodies.")


@logs.command(
    "tail",
    FILTERS,
    [param("interval", Annotated[float, typer.Option(help="Seconds between looks", min=0.1)], 1.0)],
    of_one=False,
)
def tail(api: Tidings, out: Output, interval: float, **filters: Any) -> None:
    """Follow new API calls as they are made (Ctrl-C to stop)."""
    # What is there already is not shown: only what comes after.
    seen = {item["id"] for item in first(api.logs.list(**filters, limit=250), 250)}
    since = None
    if not out.as_json:
        console.print("Following the API log (Ctrl-C to stop)…")
    try:
        while True:
            newest = first(api.logs.list(**filters, start=since, limit=250), 250)
            fresh = [item for item in reversed(newest) if item["id"] not in seen and not _own(item)]
            for item in fresh:
                seen.add(item["id"])
                _line(out, item)
            if newest:
                since = newest[0]["createdAt"]
                # Only the records at or after ``since`` can come back: forget the others.
                seen = {i["id"] for i in newest if i["createdAt"] >= since} | {
                    i["id"] for i in fresh
                }
            time.sleep(interval)
    except KeyboardInterrupt:
        if not out.as_json:
            console.print("Stopped.")


def _own(item: dict[str, Any]) -> bool:
    """This command's own reads of the log, were they logged."""
    return bool(item["method"] == "GET" and item["path"].startswith("/v1/logs"))


def _line(out: Output, item: dict[str, Any]) -> None:
    if out.as_json:
        print(json.dumps(item), flush=True)
        return
    colour = "green" if item["statusCode"] < 400 else "red"
    console.print(
        f"{item['createdAt']}  [{colour}]{item['statusCode']}[/]  {item['method']:<6} "
        f"{item['path']}  {cell(item.get('durationMs'))} ms  {item['id']}"
    )
    console.file.flush()
