"""Browser tests of the dashboard: Debian's Chromium (never a downloaded browser) driven by
Playwright, one browser for the whole session, against a real server on SQLite whose clock
the tests move (TOTP steps, the 5-minute step-up)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.support.clock import FakeClock
from tests.support.databases import make_settings
from tests.support.partner import call, create_account
from tests.support.server import RunningServer

HERE = Path(__file__).parent
AXE = HERE / "vendor" / "axe.min.js"
ARTIFACTS = HERE.parent / "artifacts"
PASSWORD = "correct horse battery"


# Module scope: Playwright's sync API keeps an event loop running in this thread while it is
# open, and the suite's other tests (run after these in the same worker) call asyncio.run.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        pytest.fail("Chromium is not installed: apt-get install chromium (.ci/run does)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def dash(tmp_path_factory: pytest.TempPathFactory, clock: FakeClock) -> Iterator[RunningServer]:
    data = tmp_path_factory.mktemp("dashboard")
    settings = make_settings(f"sqlite:///{data / 'tidings.db'}", data)
    with RunningServer(settings, clock=clock) as running:
        yield running


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    made = browser.new_context(viewport={"width": 1280, "height": 900})
    yield made
    made.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@dataclass
class Partner:
    """An account with its secret key, an event type, and a signed-up dashboard user."""

    account_id: str
    key: str
    user_id: str
    email: str
    seed: str


def api(server: RunningServer, key: str, method: str, path: str, **kw: Any) -> Any:
    response = call(server.base_url, key, method, path, **kw)
    assert response.status_code < 300, response.text
    return response.json() if response.content else None


def new_partner(server: RunningServer, name: str, email: str) -> dict[str, str]:
    account = create_account(server.base_url, server.operator_key, name)
    api(
        server,
        account["key"],
        "POST",
        "/v1/event-types",
        json={"name": "invoice.paid", "category": "Billing", "description": "An invoice was paid"},
    )
    invited = api(server, account["key"], "POST", "/v1/users", json={"email": email})
    return {**account, "user_id": invited["id"], "invite_url": invited["inviteUrl"]}


def code(seed: str, clock: FakeClock) -> str:
    """The TOTP code at the server's (fake) time."""
    return pyotp.TOTP(seed).at(clock.now() // 1_000_000)


def next_step(clock: FakeClock) -> None:
    """Move to the next 30-second TOTP step, so a fresh code exists."""
    clock.advance(30)


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def axe(page: Page, name: str) -> None:
    """No serious or critical accessibility violation (axe-core), and a screenshot."""
    shoot(page, name)
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    bad = [
        f"{v['id']} ({v['impact']}): {v['help']} -> {[n['target'] for n in v['nodes']][:3]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert not bad, f"{name}: {bad}"


def set_password(page: Page, invite_url: str, password: str = PASSWORD, snap: bool = False) -> None:
    page.goto(invite_url)
    if snap:
        axe(page, "invite")
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_label("Confirm password").fill(password)
    page.get_by_role("button", name="Set password").click()
    page.wait_for_url(re.compile(r"/dashboard/login"))


def sign_in(page: Page, base_url: str, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{base_url}/dashboard/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def enrol(page: Page, clock: FakeClock, snap: bool = False) -> tuple[str, list[str]]:
    """From the enrolment page: the seed shown, and the recovery codes once enabled."""
    page.wait_for_url(re.compile(r"/two-step/enrol"))
    assert page.locator(".qr svg").count() == 1
    seed = page.locator("#totp-secret").inner_text().strip()
    if snap:
        axe(page, "enrol")
    page.get_by_label("Authentication code").fill(code(seed, clock))
    page.get_by_role("button", name="Enable").click()
    codes = [c.strip() for c in page.locator("#recovery-codes code").all_inner_texts()]
    if snap:
        axe(page, "recovery-codes")
    return seed, codes


def verify(page: Page, seed: str, clock: FakeClock) -> None:
    page.wait_for_url(re.compile(r"/two-step/verify"))
    next_step(clock)
    page.get_by_label("Authentication code").fill(code(seed, clock))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(re.compile(r"/dashboard$"))
