"""``tidings notifications …``: one event for one webhook, with its attempts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress

from tidings.cli.remote import Limit, Output, first, group, remote

if TYPE_CHECKING:
    from tidings_client import Tidings

app = group("List, read and resend notifications (over the API).")

COLUMNS = ["id", "eventType", "webhookId", "status", "attemptCount", "lastStatusCode", "createdAt"]

WebhookId = Annotated[str | None, typer.Option("--webhook", help="Only this webhook's (wh_…)")]
Status = Annotated[str | None, typer.Option(help="pending, succeeded or failed")]


@app.command("list")
@remote
def list_(
    api: Tidings,
    out: Output,
    webhook: WebhookId = None,
    status: Status = None,
    event_type: Annotated[str | None, typer.Option(help="Only this event type")] = None,
    event: Annotated[str | None, typer.Option(help="Only this event's (evt_…)")] = None,
    limit: Limit = 50,
) -> None:
    """Notifications, newest first."""
    listed = api.notifications.list(
        webhook_id=webhook,
        status=status,
        event_type=event_type,
        event_id=event,
        limit=min(limit, 250),
    )
    out.table(first(listed, limit), COLUMNS)


@app.command()
@remote
def get(
    api: Tidings, out: Output, notification_id: Annotated[str, typer.Argument(help="ntf_…")]
) -> None:
    """A notification and every attempt to deliver it."""
    shown = api.notifications.get(notification_id)
    if out.as_json:
        out.json(shown)
        return
    attempts = shown.pop("attempts", [])
    out.record(shown)
    out.table(attempts, ["attemptedAt", "outcome", "statusCode", "durationMs", "error"])


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
