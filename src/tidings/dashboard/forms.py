"""Reading a submitted dashboard form: its CSRF token, for a change a step-up before anything
is done, its fields, and a service's refusal shown on the form's own page."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable
from typing import Any

from fastapi import Request, Response
from starlette.datastructures import FormData

from tidings.core.durations import parse_expires_in
from tidings.core.errors import DomainError
from tidings.dashboard.web import PRE_COOKIE, Answer, View, render
from tidings.services import sessions as session_service


async def checked_form(request: Request, expected: str | None) -> FormData:
    """The submitted form, after its CSRF token matched (403 otherwise)."""
    form = await request.form()
    sent = form.get("csrf_token")
    if expected is None:
        expected = request.cookies.get(PRE_COOKIE)
    if not isinstance(sent, str) or not expected or not secrets.compare_digest(sent, expected):
        raise DomainError(403, "The form's security token is missing or wrong: reload the page.")
    return form


async def change_form(
    request: Request, view: View, found: Awaitable[object] | None = None
) -> FormData:
    """The submitted form of a change, once it may be made: ``found`` (the item's look-up)
    first, so an unknown id is a 404 before a code is asked for; then its CSRF token; then a
    fresh code (step-up), whose page is the answer (raised) until one is given."""
    if found is not None:
        await found
    form = await checked_form(request, view.csrf)
    asked = await step_up(request, view, form)
    if asked:
        raise Answer(asked)
    return form


def values_of(form: FormData) -> list[tuple[str, str]]:
    """The form's fields to carry through a step-up (never the CSRF token nor a code)."""
    return [
        (k, v)
        for k, v in form.multi_items()
        if isinstance(v, str) and k not in ("csrf_token", "otp")
    ]


async def step_up(request: Request, view: View, form: FormData) -> Response | None:
    """None when the session's last code is fresh (under 5 minutes) or the form carries a
    right one now; otherwise the page asking for a code, which submits the same form again
    (every field kept) to the same address."""
    if not session_service.needs_step_up(view.ctx, view.session):
        return None
    error = None
    code = form.get("otp")
    if isinstance(code, str):
        try:
            await session_service.verify(view.ctx, view.session, code)
            return None
        except DomainError as exc:
            if exc.status == 429:
                raise
            error = exc.message
    return render(
        request,
        "step_up.html",
        view,
        {"action": request.url.path, "fields": values_of(form), "error": error},
        status_code=401 if error else 200,
    )


def text(form: FormData, name: str) -> str:
    """A field's value without surrounding spaces; "" when absent."""
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def typed(form: FormData, name: str) -> str | None:
    """A field as typed, never stripped (a password may hold spaces); None when empty."""
    value = form.get(name)
    return value if isinstance(value, str) and value else None


def expiry(form: FormData) -> float:
    """Seconds the rolled key or secret keeps working: the form's choice, else 24 hours."""
    try:
        return parse_expires_in(text(form, "expires_in") or "24h")
    except ValueError as exc:
        raise DomainError(422, f"Expiry: {exc}") from None


def refusal(exc: DomainError, *statuses: int) -> dict[str, Any]:
    """A service's refusal with one of ``statuses`` as the values that show it on the form's
    own page (render takes its status from them); any other goes on to the error page."""
    if exc.status not in statuses:
        raise exc
    return {"error": exc.message, "error_status": exc.status}
