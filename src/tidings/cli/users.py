"""``tidings users invite``: a dashboard user and its invite link, made directly against the
store (no server needed), through the same service as ``POST /v1/users``."""

from __future__ import annotations

from typing import Annotated

import typer

from tidings.cli.admin import Run, acting_for, console, store
from tidings.services import users as user_service

users_app = typer.Typer(help="Invite dashboard users.", no_args_is_help=True)


@users_app.command("invite")
@store
def users_invite(
    run: Run,
    email: Annotated[str, typer.Argument(help="The user's email address")],
    account: Annotated[
        str | None, typer.Option("--account", "-a", help="The account the user belongs to")
    ] = None,
    operator: Annotated[
        bool,
        typer.Option("--operator", help="An operator user, who picks the account to act for"),
    ] = False,
) -> None:
    """Create a user and print its invite link (single use, valid 72 hours)."""
    caller = acting_for(account, operator)
    shown = run(lambda ctx: user_service.invite(ctx, caller, email, account))
    console.print(f"User {shown['id']} ({shown['email']}). Invite link, valid 72 hours:")
    console.print(shown["invite_url"], style="bold", soft_wrap=True, highlight=False)
