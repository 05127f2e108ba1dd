"""``tidings notifications …``: one event for one webhook, with its attempts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import Progress

from tidings.cli.params import options
from tidings.cli.remote import Output, first, group, remote
from tidings.cli.resource import Commands

if TYPE_CHECKING:
    from tidings_client import Tidings

app = group("List, read and resend notifications (over the API).")

COLUMNS = ["id", "eventType", "webhookId", "status", "attemptCount", "lastStatusCode", "createdAt"]

WebhookId = Annotated[str | None, typer.Option("--webhook", help="Only this webhook's (wh_…)")]
Status = Annotated[str | None, typer.Option(help="pending, succeeded or failed")]


def _query(
    webhook: str | None, status: str | None, event_type: str | None, event: str | None
) -> dict[str, Any]:
    return {"webhook_id": webhook, "status": status, "event_type": event_type, "event_id": event}


notifications = Commands(
    app, "notifications", "notification_id", Annotated[str, typer.Argument(help="ntf_…")]
)
notifications.listing(
    "Notifications, newest first.",
    COLUMNS,
    options(
        webhook=WebhookId,
        status=Status,
        event_type=Annotated[str | None, typer.Option(help="Only this event type")],
        event=Annotated[str | None, typer.Option(help="Only this event's (evt_…)")],
    ),
    limit=50,
    query=_query,
)
notifications.call(
    "get",
    "A notification and every attempt to deliver it.",
    nested=("attempts", ["attemptedAt", "outcome", "statusCode", "durationMs", "error"]),
)


@app.command()
@remote
def resend(
    api: Tidings,
    out: Output,
    notification_ids: Annotated[
        list[str] | None, typer.Argument(help="The notifications to resend (ntf_…)")
    ] = None,
    webhook: WebhookId = None,
    status: Annotated[
        str | None, typer.Option(help="With no ids: resend every notification in this status")
    ] = None,
    limit: Annotated[int, typer.Option(help="With no ids: at most this many", min=1)] = 1000,
) -> None:
    """Deliver notifications again now: the ids given, or every one matching --webhook and
    --status (a progress bar follows them)."""
    ids = list(notification_ids or [])
    if not ids:
        if not (webhook or status):
            raise typer.BadParameter("give notification ids, or --webhook and/or --status")
        matching = api.notifications.list(webhook_id=webhook, status=status, limit=250)
        ids = [n["id"] for n in first(matching, limit)]
    resent = []
    with Progress(disable=out.as_json or len(ids) < 2) as progress:
        task = progress.add_task("resending", total=len(ids))
        for notification_id in ids:
            resent.append(api.notifications.resend(notification_id))
            progress.advance(task)
    if out.as_json:
        out.json(resent)
    else:
        out.done(f"Resent {len(resent)} notification(s).")
