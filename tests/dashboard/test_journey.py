"""The dashboard end to end, as a partner uses it in a browser: invite, password, TOTP
enrolment, sign-in with a code, a webhook added after a step-up that receives a test event,
its secret rolled, a key shown once, logs filtered, an event's three sections, and every page
checked with axe-core and photographed (tests/artifacts/)."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import BrowserContext, Page, expect

from tests.dashboard.conftest import (
    api,
    axe,
    code,
    enrol,
    new_partner,
    next_step,
    set_password,
    shoot,
    sign_in,
    verify,
)
from tests.support.clock import FakeClock
from tests.support.processes import tidings
from tests.support.receiver import Receiver, Reply
from tests.support.server import RunningServer


def test_partner_journey(
    dash: RunningServer, clock: FakeClock, page: Page, context: BrowserContext
) -> None:
    base = dash.base_url
    partner = new_partner(dash, "Acme Payments", "ana@acme.test")
    other = new_partner(dash, "Globex", "gil@globex.test")
    with Receiver() as elsewhere:
        foreign = api(dash, other["key"], "POST", "/v1/webhooks", json={"url": elsewhere.url})

    # No session: the login page.
    page.goto(f"{base}/dashboard")
    expect(page).to_have_url(re.compile(r"/dashboard/login$"))
    axe(page, "login")

    set_password(page, partner["invite_url"], snap=True)
    sign_in(page, base, "ana@acme.test")
    seed, recovery = enrol(page, clock, snap=True)
    assert len(recovery) == 10 and len(set(recovery)) == 10
    page.get_by_role("link", name="Continue to the dashboard").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    axe(page, "overview")

    # Sign out, then in again: a wrong code is refused, the right one passes.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/dashboard/login$"))
    sign_in(page, base, "ana@acme.test")
    page.wait_for_url(re.compile(r"/two-step/verify"))
    axe(page, "verify")
    page.get_by_label("Authentication code").fill("000000")
    page.get_by_role("button", name="Verify").click()
    expect(page.locator(".error")).to_contain_text("Wrong code")
    verify(page, seed, clock)

    # Six minutes on, adding a webhook asks for a fresh code, then carries on.
    clock.advance(6 * 60)
    with Receiver() as receiver:
        page.get_by_role("link", name="Webhooks").click()
        axe(page, "webhooks-empty")
        page.get_by_role("link", name="Add webhook").click()
        page.get_by_label("URL").fill(receiver.url)
        page.get_by_label("Description").fill("Billing receiver")
        page.get_by_label("Category").fill("Billing")
        page.get_by_label("invoice.paid").check()
        axe(page, "webhook-new")
        page.get_by_role("button", name="Add webhook").click()
        expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
        axe(page, "step-up")
        next_step(clock)
        page.get_by_label("Authentication code").fill(code(seed, clock))
        page.get_by_role("button", name="Verify").click()
        expect(page.locator(".notice")).to_contain_text("Webhook added")
        webhook_id = page.url.rsplit("/", 1)[-1].split("?")[0]
        assert webhook_id.startswith("wh_")
        # Nothing typed was lost.
        expect(page.get_by_label("Description")).to_have_value("Billing receiver")
        expect(page.get_by_label("invoice.paid")).to_be_checked()
        # The API sees the same webhook.
        shown = api(dash, partner["key"], "GET", f"/v1/webhooks/{webhook_id}")
        assert shown["url"] == receiver.url and shown["eventTypes"] == ["invoice.paid"]

        page.get_by_role("button", name="Send test event").click()
        expect(page.locator(".notice")).to_contain_text("Test event")
        got = receiver.wait(1)
        assert got[0].headers.get("webhook-id") or got[0].headers.get("Webhook-Id")
        page.reload()
        expect(page.get_by_role("button", name="Resend")).to_be_visible()
        axe(page, "webhook-detail")
        # The overview counts the delivery.
        page.get_by_role("link", name="Overview").click()
        expect(page.locator(".stat .value").nth(1)).to_have_text("1")
        expect(page.locator(".stat .value").first).to_have_text("100.0%")
        axe(page, "overview-data")
        page.go_back()

    # The secret: masked by the API, shown by "Reveal secret" (step-up still fresh).
    assert "secret" not in shown
    page.get_by_role("button", name="Reveal secret").click()
    first_secret = page.locator("#webhook-secret").inner_text()
    assert first_secret.startswith("whsec_")
    page.get_by_label("Current secret expires").select_option(label="Now")
    page.get_by_role("button", name="Roll secret").click()
    rolled = page.locator("#webhook-secret").inner_text()
    assert rolled.startswith("whsec_") and rolled != first_secret
    assert api(dash, partner["key"], "GET", f"/v1/webhooks/{webhook_id}/secret")["secret"] == rolled
    axe(page, "webhook-rolled")

    # Delete asks for confirmation.
    page.get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", name="Delete this webhook?")).to_be_visible()
    axe(page, "webhook-delete")
    page.get_by_role("link", name="Cancel").click()

    # A key, shown once.
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name", exact=True).fill("dashboard key")
    page.get_by_role("button", name="Create key").click()
    plaintext = page.locator("#new-key-value").inner_text()
    assert plaintext.startswith("sk_")
    axe(page, "api-key-created")
    assert httpx.get(f"{base}/v1/webhooks", headers={"X-Api-Key": plaintext}).status_code == 200
    page.goto(f"{base}/dashboard/api-keys")
    assert page.locator("#new-key-value").count() == 0
    assert plaintext not in page.content()
    axe(page, "api-keys")

    # Logs: the dashboard's changes are there, with the user's id.
    page.get_by_role("link", name="Logs").click()
    page.get_by_label("Endpoint URL").fill("/dashboard/webhooks")
    page.get_by_role("button", name="Filter").click()
    rows = page.locator("table.logs tbody tr")
    expect(rows.first).to_be_visible()
    assert all(
        "/dashboard/webhooks" in t
        for t in page.locator("table.logs tbody tr td.wrap").all_inner_texts()
    )
    rows.first.locator("a").click()
    expect(page.locator("#log-detail h2")).to_contain_text("/dashboard/webhooks")
    axe(page, "logs")
    page.get_by_role("link", name="Failed").click()
    for status in page.locator("table.logs tbody .status").all_inner_texts():
        assert status.endswith("ERR")
    logged = api(dash, partner["key"], "GET", "/v1/logs?path=/dashboard")["data"]
    assert logged and all(row["userId"] == partner["user_id"] for row in logged)
    assert any(row["path"] == "/dashboard/webhooks" and row["method"] == "POST" for row in logged)

    # The test event's page: three sections.
    page.get_by_role("link", name="Events").click()
    expect(page.get_by_role("columnheader", name="UUID")).to_be_visible()
    axe(page, "events")
    page.get_by_role("link", name="invoice.paid").first.click()
    for heading in ("Event", "Event log", "Webhook"):
        expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible()
    expect(
        page.locator("section", has=page.get_by_role("heading", name="Event log"))
    ).to_contain_text(f"/dashboard/webhooks/{webhook_id}/test")
    axe(page, "event")

    page.get_by_role("link", name="Sources").click()
    page.get_by_label("Name", exact=True).fill("Partner push")
    page.get_by_role("button", name="Create source").click()
    expect(page.locator("#source-credential")).to_contain_text("whk_")
    axe(page, "sources")
    page.get_by_role("link", name="Event types").click()
    expect(page.get_by_text("An invoice was paid")).to_be_visible()
    axe(page, "event-types")

    # Another account's webhook is not found.
    answer = page.goto(f"{base}/dashboard/webhooks/{foreign['id']}")
    assert answer is not None and answer.status == 404
    axe(page, "not-found")

    # A form without its CSRF token is refused.
    refused = page.request.post(f"{base}/dashboard/webhooks", form={"url": "https://x.test/"})
    assert refused.status == 403

    # Small screens: the same pages from 375 px wide.
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"{base}/dashboard/webhooks/{webhook_id}")
    axe(page, "webhook-detail-375")
    page.goto(f"{base}/dashboard")
    shoot(page, "overview-375")
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= 380, f"the overview is {overflow}px wide at 375px"
    context.clear_cookies()


def test_replayed_code_and_recovery_codes(
    dash: RunningServer, clock: FakeClock, page: Page
) -> None:
    partner = new_partner(dash, "Initech", "ivo@initech.test")
    set_password(page, partner["invite_url"])
    sign_in(page, dash.base_url, "ivo@initech.test")
    seed, recovery = enrol(page, clock)
    page.get_by_role("link", name="Continue to the dashboard").click()
    page.get_by_role("button", name="Sign out").click()

    # The code that enabled two-step verification cannot sign in again in the same step.
    sign_in(page, dash.base_url, "ivo@initech.test")
    page.wait_for_url(re.compile(r"/two-step/verify"))
    page.get_by_label("Authentication code").fill(code(seed, clock))
    page.get_by_role("button", name="Verify").click()
    expect(page.locator(".error")).to_contain_text("used already")

    # A recovery code works once.
    page.get_by_label("Authentication code").fill(recovery[0])
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(re.compile(r"/dashboard$"))
    page.get_by_role("button", name="Sign out").click()
    sign_in(page, dash.base_url, "ivo@initech.test")
    page.wait_for_url(re.compile(r"/two-step/verify"))
    page.get_by_label("Authentication code").fill(recovery[0])
    page.get_by_role("button", name="Verify").click()
    expect(page.locator(".error")).to_be_visible()
    verify(page, seed, clock)


def test_five_wrong_passwords_lock_the_email(dash: RunningServer, page: Page) -> None:
    partner = new_partner(dash, "Hooli", "hal@hooli.test")
    set_password(page, partner["invite_url"])
    for _ in range(5):
        sign_in(page, dash.base_url, "hal@hooli.test", "wrong password!")
        expect(page.locator(".error")).to_contain_text("Wrong email or password")
    page.goto(f"{dash.base_url}/dashboard/login")
    page.get_by_label("Email").fill("hal@hooli.test")
    page.get_by_label("Password").fill("correct horse battery")
    with page.expect_response(re.compile(r"/dashboard/login$")) as caught:
        page.get_by_role("button", name="Sign in").click()
    answer = caught.value
    assert answer.status == 429
    expect(page.locator(".error")).to_contain_text("Too many failed sign-ins")


def test_portal_link_signs_in_once(
    dash: RunningServer, page: Page, context: BrowserContext
) -> None:
    partner = new_partner(dash, "Umbrella", "uma@umbrella.test")
    link = api(dash, dash.operator_key, "POST", f"/v1/accounts/{partner['id']}/portal-links")
    page.goto(link["url"])
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.get_by_text("Portal session")).to_be_visible()
    axe(page, "portal-overview")
    # A portal session writes without a code (the operator's product vouched).
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_role("link", name="Add webhook").click()
    page.get_by_label("URL").fill("http://127.0.0.1:9/portal-hook")
    page.get_by_role("button", name="Add webhook").click()
    expect(page.locator(".notice")).to_contain_text("Webhook added")
    context.clear_cookies()
    second = page.goto(link["url"])
    assert second is not None and second.status == 404


def test_operator_user_picks_an_account(dash: RunningServer, clock: FakeClock, page: Page) -> None:
    """``tidings users invite --operator`` makes a user who acts for the account picked in the
    switcher, and sees only that account's webhooks."""
    first = new_partner(dash, "Wayne Enterprises", "bruce@wayne.test")
    second = new_partner(dash, "Stark Industries", "tony@stark.test")
    made = api(
        dash, second["key"], "POST", "/v1/webhooks", json={"url": "http://127.0.0.1:9/stark"}
    )
    database = dash.settings.resolved_database_url().replace("sqlite+aiosqlite", "sqlite")
    ran = tidings("users", "invite", "--operator", "ops@tidings.test", "--database-url", database)
    assert ran.code == 0, ran.err
    token = re.search(r"/dashboard/invite/([A-Za-z0-9_-]+)", ran.out)
    assert token, ran.out
    refused = tidings("users", "invite", "x@y.test", "--database-url", database)
    assert refused.code != 0 and "--account or --operator" in refused.out

    set_password(page, f"{dash.base_url}/dashboard/invite/{token.group(1)}")
    sign_in(page, dash.base_url, "ops@tidings.test")
    enrol(page, clock)
    page.get_by_role("link", name="Continue to the dashboard").click()
    expect(page).to_have_url(re.compile(r"/dashboard/accounts$"))
    axe(page, "accounts")
    page.locator("main").get_by_label("Account").select_option(value=second["id"])
    page.get_by_role("button", name="Act for this account").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("link", name="http://127.0.0.1:9/stark")).to_be_visible()
    # The switcher in the header moves to the other account.
    page.locator("header").get_by_label("Account").select_option(value=first["id"])
    page.get_by_role("button", name="Switch").click()
    page.get_by_role("link", name="Webhooks").click()
    expect(page.get_by_text("No webhook yet")).to_be_visible()
    answer = page.goto(f"{dash.base_url}/dashboard/webhooks/{made['id']}")
    assert answer is not None and answer.status == 404


def test_pulls_create_run_now_and_runs(dash: RunningServer, page: Page) -> None:
    partner = new_partner(dash, "Pull Partner", "pat@pull.test")
    link = api(dash, dash.operator_key, "POST", f"/v1/accounts/{partner['id']}/portal-links")
    records = '[{"id": "r1", "amount": 5}, {"id": "r2", "amount": 7}]'
    with Receiver(default=Reply(body=records, headers={"Content-Type": "application/json"})) as rx:
        page.goto(link["url"])
        page.get_by_role("link", name="Pulls").click()
        page.get_by_label("Name", exact=True).fill("Partner orders")
        page.get_by_label("URL", exact=True).fill(rx.url)
        page.get_by_label("Schedule", exact=False).fill(":15")
        page.get_by_label("Id pointer (optional, e.g. /id)").fill("/id")
        axe(page, "pulls")
        page.get_by_role("button", name="Create pull").click()
        expect(page.locator("main")).not_to_contain_text("error")
        expect(page.locator(".notice")).to_contain_text("Pull created")
        page.get_by_role("button", name="Run now").click()
        expect(page.locator(".notice")).to_contain_text("Run succeeded")
        runs = page.locator("table tbody tr")
        expect(runs).to_have_count(1)
        expect(runs.first).to_contain_text("succeeded")
        axe(page, "pull")
        assert rx.requests, "the partner's URL was not fetched"
    events = api(dash, partner["key"], "GET", "/v1/events")["data"]
    assert len(events) == 2
