"""``tidings pulls …``: scheduled fetches of a partner's URL, over the API."""

from __future__ import annotations

from typing import Annotated

import typer

from tidings.cli.params import options, required
from tidings.cli.remote import group
from tidings.cli.resource import Commands

app = group("List, create, run and follow scheduled pulls (over the API).")

COLUMNS = ["id", "name", "url", "frequency", "schedule", "status", "nextRunAt"]
RUN_COLUMNS = ["id", "startedAt", "status", "httpStatus", "recordsSeen", "recordsNew", "error"]

PullId = Annotated[str, typer.Argument(help="The pull's id (pull_…)")]
Opt = Annotated[str | None, typer.Option()]

pulls = Commands(app, "pulls", "pull_id", PullId)
pulls.listing("The account's pulls.", COLUMNS)
pulls.call("get", "One pull.")
pulls.create(
    "Create a pull.",
    required(
        name=Annotated[str, typer.Option(help="Its name")],
        url=Annotated[str, typer.Option(help="The partner URL to GET")],
        event_type=Annotated[str, typer.Option(help="The event type each new record becomes")],
    ),
    options(
        frequency=Annotated[
            str | None, typer.Option(help="hourly, daily, weekly, or a cron expression")
        ],
        schedule=Annotated[str | None, typer.Option(help='":MM", "HH:MM" or "monday 02:30"')],
        timezone=Annotated[str | None, typer.Option(help="IANA name, e.g. Europe/Berlin")],
        category=Opt,
        username=Opt,
        password=Opt,
        records_pointer=Annotated[
            str | None, typer.Option(help="JSON Pointer to the array of records")
        ],
        id_pointer=Annotated[str | None, typer.Option(help="JSON Pointer to a record's id")],
    ),
)
pulls.update(
    options(
        **dict.fromkeys(
            [
                "name",
                "url",
                "event_type",
                "frequency",
                "schedule",
                "timezone",
                "category",
                "username",
                "password",
            ],
            Opt,
        )
    )
)
pulls.delete("Delete a pull.")
pulls.call("enable", "Run on schedule again.")
pulls.call("disable", "Stop running on schedule.")
pulls.call("run", "Run the pull now and show the run.")
pulls.listing("The pull's runs, newest first.", RUN_COLUMNS, name="runs", of_one=True, limit=50)
