"""``tidings sources …``: inbound endpoints partners push to, over the API."""

from __future__ import annotations

from typing import Annotated

import typer

from tidings.cli.params import expires_in, options, required
from tidings.cli.remote import group
from tidings.cli.resource import Commands

app = group("List, create, change and roll the keys of push sources (over the API).")

COLUMNS = ["id", "name", "eventType", "authType", "status", "url"]

SourceId = Annotated[str, typer.Argument(help="The source's id (src_…)")]
Basic = Annotated[str | None, typer.Option(help="basic sources")]
# What create and update both take, after the source's name and event type.
FIELDS = options(
    category=Annotated[str | None, typer.Option(help="Its category")],
    event_type_pointer=Annotated[
        str | None, typer.Option(help="Where a push names its type: a JSON Pointer, e.g. /type")
    ],
    signature_scheme=Annotated[
        str | None, typer.Option(help="hmac sources: standard or hmac-sha256-hex")
    ],
    username=Basic,
    password=Basic,
)

sources = Commands(app, "sources", "source_id", SourceId)
sources.listing("The account's sources.", COLUMNS)
sources.call("get", "One source.")
sources.create(
    "Create a source: its ingest URL and, this once, its key or secret are shown.",
    required(
        name=Annotated[str, typer.Option(help="Its name")],
        event_type=Annotated[str, typer.Option(help="The event type a push becomes")],
    ),
    options(auth_type=Annotated[str | None, typer.Option(help="api-key (default), basic or hmac")]),
    FIELDS,
)
sources.update(
    options(
        name=Annotated[str | None, typer.Option(help="A new name")],
        event_type=Annotated[str | None, typer.Option(help="A new event type")],
    ),
    FIELDS,
)
sources.delete("Delete a source.")
sources.call("enable", "Accept pushes again.")
sources.call("disable", "Answer pushes 404 until enabled.")
sources.call(
    "roll_key",
    "A new key or secret, shown once.",
    expires_in("When the current key or secret stops working: now, 1h, 24h…"),
)
