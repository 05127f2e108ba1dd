"""Signing in: the login page, the invite page that sets a password, enrolling and giving the
second factor, portal links, the operator's account switcher, and signing out."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from tidings.core.errors import DomainError
from tidings.dashboard.forms import checked_form, refusal, text, typed
from tidings.dashboard.web import (
    PREFIX,
    Redirect,
    Signed,
    any_session,
    clear_session_cookie,
    context,
    page_router,
    pre_session_token,
    render,
    see_other,
    set_pre_session_cookie,
    set_session_cookie,
)
from tidings.services import sessions as service
from tidings.services import users as user_service

router = page_router()


def _pre_page(
    request: Request, name: str, values: dict[str, object], status: int | None = None
) -> Response:
    token = pre_session_token(request)
    response = render(request, name, None, {**values, "csrf": token}, status_code=status)
    set_pre_session_cookie(request, response, token)
    return response


@router.get("/login")
async def login_page(request: Request) -> Response:
    session = await any_session(request)
    if session is not None and session.verified:
        return see_other(PREFIX)
    return _pre_page(request, "login.html", {"email": ""})


@router.post("/login")
async def login(request: Request) -> Response:
    form = await checked_form(request, None)
    email = text(form, "email")
    try:
        token = await service.sign_in(context(request), email, typed(form, "password") or "")
    except DomainError as exc:
        return _pre_page(
            request,
            "login.html",
            {"email": email, "error": exc.message},
            status=exc.status,
        )
    session = await service.resolve(context(request), token)
    target = "verify" if session and session.two_factor_enabled else "enrol"
    response = see_other(f"{PREFIX}/two-step/{target}")
    set_session_cookie(request, response, token)
    return response


@router.get("/invite/{token}")
async def invite_page(token: str, request: Request) -> Response:
    email = await user_service.invite_email(context(request), token)
    return _pre_page(request, "invite.html", {"email": email})


@router.post("/invite/{token}")
async def accept_invite(token: str, request: Request) -> Response:
    form = await checked_form(request, None)
    ctx = context(request)
    email = await user_service.invite_email(ctx, token)
    password = typed(form, "password") or ""
    confirm = typed(form, "confirm_password") or ""
    try:
        await user_service.accept_invite(ctx, token, password, confirm)
    except DomainError as exc:
        shown = {"email": email, "error_field": exc.field, **refusal(exc, 422)}
        return _pre_page(request, "invite.html", shown)
    # Straight to signing in, with the address filled in.
    return see_other(f"{PREFIX}/login?done=password")


async def _pending_session(request: Request) -> service.Session:
    """A session past its password but not yet its second factor."""
    session = await any_session(request)
    if session is None:
        raise Redirect(f"{PREFIX}/login")
    if session.verified:
        raise Redirect(PREFIX)
    return session


async def _enrolment(request: Request, session: service.Session, **extra: Any) -> Response:
    """The page to enrol an authenticator app: its seed as text and as a QR code."""
    seed, _uri, svg = await service.enrolment(context(request), session)
    shown = {"seed": seed, "qr": svg, "csrf": session.csrf_token, **extra}
    return render(request, "enrol.html", None, shown)


@router.get("/two-step/enrol")
async def enrol_page(request: Request) -> Response:
    session = await _pending_session(request)
    if session.two_factor_enabled:
        return see_other(f"{PREFIX}/two-step/verify")
    return await _enrolment(request, session)


@router.post("/two-step/enrol")
async def enable(request: Request) -> Response:
    session = await _pending_session(request)
    form = await checked_form(request, session.csrf_token)
    try:
        codes = await service.enable(context(request), session, text(form, "otp"))
    except DomainError as exc:
        return await _enrolment(request, session, **refusal(exc, 422))
    return render(request, "recovery_codes.html", None, {"codes": codes})


@router.get("/two-step/verify")
async def verify_page(request: Request) -> Response:
    session = await _pending_session(request)
    if not session.two_factor_enabled:
        return see_other(f"{PREFIX}/two-step/enrol")
    return render(request, "verify.html", None, {"csrf": session.csrf_token})


@router.post("/two-step/verify")
async def verify(request: Request) -> Response:
    session = await _pending_session(request)
    form = await checked_form(request, session.csrf_token)
    try:
        await service.verify(context(request), session, text(form, "otp"))
    except DomainError as exc:
        shown = {"csrf": session.csrf_token, **refusal(exc, 422, 429)}
        return render(request, "verify.html", None, shown, headers=exc.headers)
    return see_other(PREFIX)


@router.get("/portal/{token}")
async def portal(token: str, request: Request) -> Response:
    session_token = await service.redeem_portal_link(context(request), token)
    response = see_other(PREFIX)
    set_session_cookie(request, response, session_token)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    session = await any_session(request)
    if session is not None:
        await checked_form(request, session.csrf_token)
        await service.sign_out(context(request), session)
    response = see_other(f"{PREFIX}/login")
    clear_session_cookie(response)
    return response


@router.get("/accounts")
async def accounts_page(request: Request, view: Signed) -> Response:
    if not view.session.is_operator:
        return see_other(PREFIX)
    return render(request, "accounts.html", view)


@router.post("/accounts")
async def switch_account(request: Request, view: Signed) -> Response:
    form = await checked_form(request, view.csrf)
    await service.switch_account(view.ctx, view.session, text(form, "account"))
    return see_other(PREFIX)
