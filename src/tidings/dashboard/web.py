"""What every dashboard page shares: templates, the session and CSRF cookies, the signed-in
view, and the route class that turns a DomainError into a page (a redirect into a 303, an
Answer into its page). Reading a submitted form (CSRF, step-up, refusals) is forms.py's."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from tidings.core import permissions
from tidings.core.access import Access, Caller, operator
from tidings.core.errors import DomainError
from tidings.runtime.context import Context
from tidings.services import accounts as account_service
from tidings.services import sessions as session_service
from tidings.services.sessions import Session

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
COOKIE = "tidings_session"
# Before a session exists (sign-in, invite): a double-submit CSRF cookie.
PRE_COOKIE = "tidings_csrf"
PREFIX = "/dashboard"

NAV = [
    ("Overview", ""),
    ("Webhooks", "/webhooks"),
    ("API keys", "/api-keys"),
    ("Events", "/events"),
    ("Logs", "/logs"),
    ("Sources", "/sources"),
    ("Pulls", "/pulls"),
    ("Event types", "/event-types"),
]


class Redirect(Exception):
    """Control flow: answer with a 303 to ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url


class Answer(Exception):
    """Control flow: answer with ``response`` (a step-up's code page, a form shown again),
    so that a helper deep in a route can end it."""

    def __init__(self, response: Response) -> None:
        self.response = response


def _when(value: str | None) -> str:
    """An ISO time as shown: 2026-12-03 05:40:12 UTC."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return value
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


templates.env.filters["when"] = _when


class DashboardRoute(APIRoute):
    """Errors become pages: a service's 404 is a 404 page, a redirect is a 303."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Redirect as redirect:
                return RedirectResponse(redirect.url, status_code=303)
            except Answer as answer:
                return answer.response
            except DomainError as exc:
                return error_page(request, exc.status, exc.message, exc.headers)

        return route


def page_router(path: str = "") -> APIRouter:
    """The routes of one page group at ``/dashboard{path}``: errors as pages, none in the API's
    schema."""
    return APIRouter(prefix=f"{PREFIX}{path}", route_class=DashboardRoute, include_in_schema=False)


def error_page(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    view = getattr(request.state, "dashboard_view", None)
    return render(
        request,
        "error.html",
        view,
        {"status": status, "message": message},
        status_code=status,
        headers=headers,
    )


def context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def secure(request: Request) -> bool:
    return request.url.scheme == "https" or (
        request.headers.get("x-forwarded-proto", "").lower() == "https"
    )


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=session_service.IDLE_SECONDS,
        path=PREFIX,
        httponly=True,
        samesite="lax",
        secure=secure(request),
    )


def clear_session_cookie(response: Response) -> None:
    response.delete_cookie(COOKIE, path=PREFIX)


@dataclass
class View:
    """The signed-in session of a page, and who it acts as."""

    ctx: Context
    session: Session
    accounts: list[dict[str, Any]]

    @property
    def caller(self) -> Caller:
        return self.session.caller()

    @property
    def access(self) -> Access:
        return Access(account_id=self.session.account_id or "", caller=self.caller)

    @property
    def csrf(self) -> str:
        return self.session.csrf_token

    def may(self, resource: str, level: str) -> bool:
        return permissions.allows(self.caller.permissions, resource, level)


async def any_session(request: Request) -> Session | None:
    session = await session_service.resolve(context(request), request.cookies.get(COOKIE))
    if session is not None:
        # For the log (api/middleware/request_log.py): who changed what, for which account.
        request.state.user_id = session.user_id
        request.state.account_id = session.account_id
    return session


async def _signed_in(request: Request) -> View:
    session = await any_session(request)
    if session is None:
        raise Redirect(f"{PREFIX}/login")
    if not session.verified:
        target = "verify" if session.two_factor_enabled else "enrol"
        raise Redirect(f"{PREFIX}/two-step/{target}")
    accounts: list[dict[str, Any]] = []
    if session.is_operator:
        accounts = await account_service.active(context(request), operator())
        if session.account_id is None and request.url.path != f"{PREFIX}/accounts":
            raise Redirect(f"{PREFIX}/accounts")
    view = View(ctx=context(request), session=session, accounts=accounts)
    request.state.dashboard_view = view
    return view


Signed = Annotated[View, Depends(_signed_in)]


def pre_session_token(request: Request) -> str:
    return request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)


def set_pre_session_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        PRE_COOKIE, token, path=PREFIX, httponly=True, samesite="lax", secure=secure(request)
    )


def render(
    request: Request,
    name: str,
    view: View | None,
    values: dict[str, Any] | None = None,
    *,
    status_code: int | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The page ``name``; its status is ``status_code``, else a refusal's that it shows
    (forms.refusal's ``error_status``), else 200."""
    values = dict(values or {})
    if status_code is None:
        status_code = int(values.get("error_status", 200))
    values.setdefault("csrf", view.csrf if view else values.get("csrf", ""))
    response = templates.TemplateResponse(
        request,
        name,
        {
            "view": view,
            "session": view.session if view else None,
            "nav": NAV,
            "prefix": PREFIX,
            "path": request.url.path,
            **values,
        },
        status_code=status_code,
        headers=headers,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)
