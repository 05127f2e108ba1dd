"""The dashboard's sign-in rules over plain HTTP, on both backends where no clock is moved:
CSRF, cookies, seeds encrypted at rest; and on the test clock: invite, portal-link and idle
session expiry."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pyotp
import pytest

from tests.dashboard.conftest import PASSWORD, api, new_partner
from tests.security.test_secrets_at_rest import _dump
from tests.support.clock import FakeClock
from tests.support.databases import make_settings
from tests.support.server import RunningServer


@pytest.fixture(scope="module")
def timed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, FakeClock]]:
    """A server of these tests alone, whose clock they move by days (the browser tests' server
    keeps a clock near the real one, which the command line uses)."""
    clock = FakeClock()
    data = tmp_path_factory.mktemp("timed")
    settings = make_settings(f"sqlite:///{data / 'tidings.db'}", data)
    with RunningServer(settings, clock=clock) as running:
        yield running, clock


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def _signed_up(server: RunningServer, email: str) -> tuple[httpx.Client, dict[str, Any]]:
    """A partner whose user set its password and signed in (second factor still to come)."""
    partner = new_partner(server, f"Account of {email}", email)
    browser = httpx.Client(base_url=server.base_url)
    page = browser.get(partner["invite_url"])
    form = {"csrf_token": _csrf(page), "password": PASSWORD, "confirm_password": PASSWORD}
    assert browser.post(partner["invite_url"], data=form).status_code == 303
    login = browser.get("/dashboard/login")
    signed = browser.post(
        "/dashboard/login",
        data={"csrf_token": _csrf(login), "email": email, "password": PASSWORD},
    )
    assert signed.status_code == 303, signed.text
    return browser, partner


def test_forms_need_their_csrf_token(server: RunningServer) -> None:
    with httpx.Client(base_url=server.base_url) as browser:
        browser.get("/dashboard/login")
        refused = browser.post("/dashboard/login", data={"email": "a@b.test", "password": "x"})
        assert refused.status_code == 403
        forged = browser.post(
            "/dashboard/login",
            data={"csrf_token": "not-the-token", "email": "a@b.test", "password": "x"},
        )
        assert forged.status_code == 403


def test_cookies_are_http_only_lax_and_secure_over_https(server: RunningServer) -> None:
    browser, _ = _signed_up(server, "cookie@example.test")
    assert any(c.name == "tidings_session" for c in browser.cookies.jar)
    browser.close()
    partner = new_partner(server, "Https Inc", "tls@example.test")
    with httpx.Client(base_url=server.base_url, headers={"X-Forwarded-Proto": "https"}) as tls:
        page = tls.get(partner["invite_url"])
        cookie = page.headers["set-cookie"]
        assert "HttpOnly" in cookie and "Secure" in cookie and "samesite=lax" in cookie.lower()
    with httpx.Client(base_url=server.base_url) as plain_client:
        cookie = plain_client.get("/dashboard/login").headers["set-cookie"]
        assert "HttpOnly" in cookie and "Secure" not in cookie


def test_totp_seed_is_encrypted_at_rest(server: RunningServer) -> None:
    browser, _ = _signed_up(server, "seed@example.test")
    try:
        page = browser.get("/dashboard/two-step/enrol")
        assert page.status_code == 200
        seed = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text)
        assert seed
        assert "<svg" in page.text
        enabled = browser.post(
            "/dashboard/two-step/enrol",
            data={"csrf_token": _csrf(page), "otp": pyotp.TOTP(seed.group(1)).now()},
        )
        assert enabled.status_code == 200
        codes = re.findall(r"<li><code>([a-z0-9-]+)</code></li>", enabled.text)
        assert len(codes) == 10
    finally:
        browser.close()
    dump = _dump(server.settings.resolved_database_url())
    assert seed.group(1) not in dump
    for recovery in codes:
        assert recovery not in dump and recovery.replace("-", "") not in dump


def test_invite_expires_after_72_hours(timed: tuple[RunningServer, FakeClock]) -> None:
    dash, clock = timed
    partner = new_partner(dash, "Slow Co", "slow@example.test")
    clock.advance(72 * 3600 - 60)
    assert httpx.get(partner["invite_url"]).status_code == 200
    clock.advance(120)
    expired = httpx.get(partner["invite_url"])
    assert expired.status_code == 410
    assert "expired" in expired.text


def test_portal_link_expires(timed: tuple[RunningServer, FakeClock]) -> None:
    dash, clock = timed
    partner = new_partner(dash, "Late Co", "late@example.test")
    link = api(dash, dash.operator_key, "POST", f"/v1/accounts/{partner['id']}/portal-links")
    clock.advance(3601)
    assert httpx.get(link["url"]).status_code == 404


def test_session_ends_after_12_idle_hours(timed: tuple[RunningServer, FakeClock]) -> None:
    dash, clock = timed
    partner = new_partner(dash, "Idle Co", "idle@example.test")
    link = api(dash, dash.operator_key, "POST", f"/v1/accounts/{partner['id']}/portal-links")
    with httpx.Client(base_url=dash.base_url) as browser:
        assert browser.get(link["url"]).status_code == 303
        clock.advance(11 * 3600)
        assert browser.get("/dashboard").status_code == 200
        # Seen 11 hours in: the idle clock started again then.
        clock.advance(11 * 3600)
        assert browser.get("/dashboard").status_code == 200
        clock.advance(12 * 3600 + 1)
        gone = browser.get("/dashboard")
        assert gone.status_code == 303
        assert gone.headers["location"].endswith("/dashboard/login")
