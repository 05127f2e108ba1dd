"""Pulls on their schedule, with a clock the test controls: ``nextRunAt`` in three time zones
and across both 2026 daylight-saving changes of Europe/Berlin, the runner running a pull when
it is due (and only then), failing runs disabling a pull with ``pull.disabled``, the limits
of a run (timeout, size, pages, redirects), and two workers on one database never running a
pull twice."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from tidings_client import ConflictError, Tidings, ValidationError

from tests.pulls.feed import Feed
from tests.pulls.test_pulls import RECORDS, create_pull, run
from tests.support.clock import FakeClock
from tests.support.databases import fresh_database, make_settings
from tests.support.partner import (
    add_event_type,
    create_webhook,
    eventually,
    open_partner,
)
from tests.support.processes import query
from tests.support.receiver import Receiver
from tests.support.server import RunningServer
from tidings.core.clock import from_datetime


def moment(text: str) -> int:
    return from_datetime(datetime.fromisoformat(text.replace("Z", "+00:00")))


@pytest.fixture(scope="module")
def limited(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningServer, FakeClock]]:
    """A server of this module's own, with tight pull limits and a clock the tests set (its
    runner claims due pulls every 0.1 s)."""
    directory = tmp_path_factory.mktemp("pulls")
    clock = FakeClock(moment("2026-03-28T12:00:00Z"))
    settings = {
        "pull_poll_interval": 0.1,
        "pull_disable_after": 3,
        "pull_max_bytes": 2048,
        "pull_max_pages": 2,
        "delivery_timeout": 1.0,
    }
    with (
        fresh_database(backend, directory) as url,
        RunningServer(make_settings(url, directory, **settings), clock=clock) as server,
    ):
        yield server, clock


@pytest.fixture
def limited_partner(limited: tuple[RunningServer, FakeClock]) -> Iterator[Tidings]:
    server, clock = limited
    clock.set(moment("2026-03-28T12:00:00Z"))
    with open_partner(server, event_types=["booking.created"]) as partner:
        yield partner


def pull_of(partner: Tidings, pull_id: str) -> dict[str, Any]:
    return dict(partner.pulls.get(pull_id))


def test_next_run_at_in_three_timezones(limited_partner: Tidings) -> None:
    expected = [
        ("Europe/Berlin", "daily", "02:30", "2026-03-29T01:00:00.000Z"),  # 02:30 missing: 03:00
        ("Europe/Berlin", "hourly", ":30", "2026-03-28T12:30:00.000Z"),
        ("Europe/Berlin", "weekly", "sunday 02:30", "2026-03-29T01:00:00.000Z"),
        ("Europe/Berlin", "30 2 * * *", None, "2026-03-29T01:00:00.000Z"),
        ("America/New_York", "daily", "09:00", "2026-03-28T13:00:00.000Z"),
        ("America/New_York", "weekly", "monday 08:15", "2026-03-30T12:15:00.000Z"),
        ("Asia/Kolkata", "weekly", "monday 02:30", "2026-03-29T21:00:00.000Z"),
        ("Asia/Kolkata", "*/20 * * * *", None, "2026-03-28T12:10:00.000Z"),
    ]
    with Feed() as feed:
        for timezone, frequency, schedule, next_run_at in expected:
            pull = create_pull(
                limited_partner,
                feed,
                "booking.created",
                idPointer=None,
                timezone=timezone,
                frequency=frequency,
                schedule=schedule,
                status="Disabled",
            )
            assert pull["nextRunAt"] is None  # a Disabled pull has no next run
            enabled = limited_partner.pulls.enable(pull["id"])
            assert enabled["nextRunAt"] == next_run_at, (timezone, frequency, schedule)
            assert limited_partner.pulls.delete(pull["id"]) is None
        assert feed.count() == 0


def test_the_runner_runs_a_pull_when_due_across_both_berlin_changes(
    limited: tuple[RunningServer, FakeClock], limited_partner: Tidings
) -> None:
    _server, clock = limited
    partner = limited_partner
    records = [{"bookingId": "b1"}]
    with Feed(records) as feed:
        pull = create_pull(partner, feed, "booking.created", idPointer="/bookingId")
        assert pull["nextRunAt"] == "2026-03-29T01:00:00.000Z"
        # Not yet due: nothing runs.
        clock.set(moment("2026-03-29T00:59:59Z"))
        with pytest.raises(AssertionError):
            eventually(lambda: feed.count() > 0, 0.5)
        # Due (03:00, the end of the gap): it runs once, and is scheduled for the next day.
        clock.set(moment("2026-03-29T01:00:00Z"))
        eventually(lambda: pull_of(partner, pull["id"])["lastRunAt"], what="the spring run")
        shown = pull_of(partner, pull["id"])
        assert shown["nextRunAt"] == "2026-03-30T00:30:00.000Z"
        assert feed.count() == 1

        # Autumn: 02:30 summer time runs; the second 02:30 (winter time) does not.
        # (Disabled while the clock jumps, so that the runs in between are not due at once.)
        partner.pulls.disable(pull["id"])
        clock.set(moment("2026-10-25T00:00:00Z"))
        partner.pulls.enable(pull["id"])
        assert pull_of(partner, pull["id"])["nextRunAt"] == "2026-10-25T00:30:00.000Z"
        feed.records.append({"bookingId": "b2"})
        clock.set(moment("2026-10-25T00:30:00Z"))
        eventually(lambda: feed.count() == 2, what="the autumn run")
        eventually(
            lambda: pull_of(partner, pull["id"])["nextRunAt"] == "2026-10-26T01:30:00.000Z",
            what="the next run moved on",
        )
        clock.set(moment("2026-10-25T01:30:00Z"))
        with pytest.raises(AssertionError):
            eventually(lambda: feed.count() > 2, 0.5)
        runs = list(partner.pulls.runs(pull["id"]))
    assert [(r["status"], r["recordsNew"]) for r in runs] == [("succeeded", 1), ("succeeded", 1)]
    events = list(partner.events.list())
    assert sorted(e["eventData"]["bookingId"] for e in events) == ["b1", "b2"]
    assert {e["pullId"] for e in events} == {pull["id"]}


def test_failed_runs_in_a_row_disable_the_pull_with_pull_disabled(
    limited_partner: Tidings,
) -> None:
    partner = limited_partner
    with Feed([{"bookingId": "b1"}]) as feed, Receiver() as ops:
        watcher = create_webhook(partner, ops.url, event_types=["pull.disabled"])
        pull = create_pull(partner, feed, "booking.created", idPointer="/bookingId")
        feed.mode = "fail"
        assert [run(partner, pull["id"])["status"] for _ in range(2)] == ["failed"] * 2
        # A success starts the count again.
        feed.mode = "ok"
        assert run(partner, pull["id"])["status"] == "succeeded"
        feed.mode = "fail"
        for _ in range(2):
            assert run(partner, pull["id"])["status"] == "failed"
        assert pull_of(partner, pull["id"])["status"] == "Active"
        third = run(partner, pull["id"])
        assert third["status"] == "failed" and third["httpStatus"] == 500
        shown = pull_of(partner, pull["id"])
        assert shown["status"] == "Disabled" and shown["disabledReason"] == "failing"
        assert shown["nextRunAt"] is None
        [got] = ops.wait(1)
        with pytest.raises(ConflictError):
            partner.pulls.run(pull["id"])
        enabled = partner.pulls.enable(pull["id"])
        assert enabled["status"] == "Active" and enabled["disabledReason"] is None
        assert enabled["nextRunAt"] is not None
    # Signed at the test's clock (months from now): the signature is checked, not the age.
    signed = f"{got.headers['webhook-id']}.{got.headers['webhook-timestamp']}.".encode()
    key = base64.b64decode(watcher["secret"].removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, signed + got.body, hashlib.sha256).digest())
    assert f"v1,{expected.decode()}" in got.headers["webhook-signature"].split()
    body = json.loads(got.body)
    assert body["eventType"] == "pull.disabled"
    assert body["eventData"]["pullId"] == pull["id"]
    assert body["eventData"]["disabledReason"] == "failing"


def test_a_partner_slower_than_the_timeout_fails_the_run(limited_partner: Tidings) -> None:
    with Feed(RECORDS, delay=2.5) as feed:
        add_event_type(limited_partner, "payment.updated")
        pull = create_pull(limited_partner, feed, "payment.updated")
        feed.mode = "slow"
        outcome = run(limited_partner, pull["id"])
    assert outcome["status"] == "failed"
    assert "timed out" in outcome["error"]
    assert outcome["httpStatus"] is None and outcome["recordsNew"] == 0


def test_the_size_page_and_redirect_limits(limited_partner: Tidings) -> None:
    partner = limited_partner
    add_event_type(partner, "payment.updated")
    big = [{"paymentId": f"pay_{n}", "note": "x" * 1500} for n in range(2)]
    with Feed(big, page_size=2) as feed:
        pull = create_pull(partner, feed, "payment.updated")
        too_big = run(partner, pull["id"])
        assert too_big["status"] == "failed"
        assert "TIDINGS_PULL_MAX_BYTES" in too_big["error"]
        # Five pages on offer, two (TIDINGS_PULL_MAX_PAGES) taken.
        feed.records = [{"paymentId": f"pay_{n}"} for n in range(5)]
        feed.page_size = 1
        paged = run(partner, pull["id"])
        assert paged["status"] == "succeeded" and paged["recordsSeen"] == 2
        assert feed.count() == 3
        feed.mode = "redirect"
        moved = run(partner, pull["id"])
    assert moved["status"] == "failed" and moved["httpStatus"] == 302
    assert "redirect" in moved["error"]
    assert not any("moved" in r.path for r in feed.requests)


def test_private_addresses_are_refused_as_for_webhooks(backend: str, tmp_path: Path) -> None:
    settings = make_settings(backend, tmp_path, allow_private_networks=False)
    with (
        RunningServer(settings) as server,
        open_partner(server, event_types=["booking.created"]) as partner,
        Feed() as feed,
    ):
        for url in (feed.url, feed.url.replace("127.0.0.1", "localhost")):
            with pytest.raises(ValidationError) as refused:
                create_pull(partner, feed, "booking.created", idPointer=None, url=url)
            assert [d.get("field") for d in refused.value.details] == ["url"]
    assert feed.count() == 0


def test_two_workers_never_run_one_pull_twice(backend: str, tmp_path: Path) -> None:
    """Two servers on one database, each with its own runner, both claiming every 0.05 s."""
    clock = FakeClock(moment("2026-03-28T12:00:00Z"))
    with fresh_database(backend, tmp_path) as url:
        settings = make_settings(url, tmp_path, pull_poll_interval=0.05)
        with (
            RunningServer(settings, clock=clock) as one,
            RunningServer(settings, clock=clock),
            open_partner(one, event_types=["booking.created"]) as partner,
            Feed([{"bookingId": "b1"}], delay=0.3) as feed,
        ):
            feed.mode = "slow"  # each run takes a while: time for the other to try
            pull = create_pull(
                partner,
                feed,
                "booking.created",
                idPointer="/bookingId",
                frequency="hourly",
                schedule=":00",
            )
            for hour in range(1, 6):
                due = pull_of(partner, pull["id"])["nextRunAt"]
                clock.set(moment(due.replace(".000Z", "Z")))
                eventually(
                    lambda due=due: pull_of(partner, pull["id"])["nextRunAt"] != due,
                    what=f"run {hour}",
                )
                assert feed.count() == hour
            # Nothing more is due: no one runs it again.
            with pytest.raises(AssertionError):
                eventually(lambda: feed.count() > 5, 1.0)
            runs = list(partner.pulls.runs(pull["id"]))
    assert len(runs) == 5
    assert [r["recordsNew"] for r in runs] == [0, 0, 0, 0, 1]


def test_a_killed_processs_run_is_taken_over_when_its_lease_runs_out(
    limited: tuple[RunningServer, FakeClock], limited_partner: Tidings
) -> None:
    server, clock = limited
    partner = limited_partner
    with Feed([{"bookingId": "b1"}]) as feed:
        pull = create_pull(
            partner,
            feed,
            "booking.created",
            idPointer="/bookingId",
            frequency="hourly",
            schedule=":00",
        )
        assert pull["nextRunAt"] == "2026-03-28T13:00:00.000Z"
        # A process claimed it at 13:00 and was killed: its lease holds until 13:01.
        until = moment("2026-03-28T13:01:00Z")
        query(
            str(server.settings.database_url),
            f"UPDATE pulls SET leased_by = 'prn_killed', lease_until = {until} "
            f"WHERE id = '{pull['id']}'",
        )
        clock.set(moment("2026-03-28T13:00:30Z"))
        with pytest.raises(AssertionError):
            eventually(lambda: feed.count() > 0, 0.5)
        with pytest.raises(ConflictError):
            partner.pulls.run(pull["id"])
        clock.set(until)
        eventually(lambda: feed.count() == 1, what="the run taken over")
        eventually(
            lambda: pull_of(partner, pull["id"])["nextRunAt"] == "2026-03-28T14:00:00.000Z",
            what="the next run",
        )
    [taken] = partner.pulls.runs(pull["id"])
    assert taken["status"] == "succeeded" and taken["recordsNew"] == 1
