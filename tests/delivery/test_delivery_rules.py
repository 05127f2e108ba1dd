"""The delivery rules of issue 5, end to end against real receivers: 410 Gone, Retry-After,
redirects, the circuit breaker, auto-disable and the operational events, ordered delivery, the
rate limit and the concurrency cap, isolation of a hanging receiver, replay, basic auth."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Sequence
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook
from tidings_client import Tidings, ValidationError

from tests.support.databases import make_settings
from tests.support.partner import (
    add_event_type,
    create_webhook,
    eventually,
    notification,
    open_partner,
    own_partner,
    publish,
    publish_concurrently,
    tidings_at,
    wait_status,
    webhook,
)
from tests.support.receiver import Received, Receiver, Reply, sooner_than_rate
from tests.support.server import RunningServer

PAYMENT = {"paymentId": "pay_1", "status": "completed"}


def _payment(n: int) -> dict[str, Any]:
    return {"paymentId": f"pay_{n}", "status": "completed", "amount": n}


def _only_notification(event: dict[str, Any]) -> str:
    [only] = event["notifications"]
    return str(only["id"])


# --- status codes ---------------------------------------------------------------------------


def test_410_gone_disables_the_webhook(partner: Tidings, event_type: str) -> None:
    with Receiver(Reply(410, body="endpoint removed")) as rx, Receiver() as ops:
        hook = create_webhook(partner, rx.url, event_types=[event_type])
        create_webhook(partner, ops.url, event_types=["webhook.disabled"])
        notification_id = _only_notification(publish(partner, event_type, PAYMENT))
        failed = wait_status(partner, notification_id, "failed")
        # No retry after 410, although the schedule has two more.
        assert failed["attemptCount"] == 1
        assert [a["statusCode"] for a in failed["attempts"]] == [410]
        shown = webhook(partner, hook["id"])
        assert shown["status"] == "Disabled"
        assert shown["disabledReason"] == "gone"
        # A Disabled webhook gets nothing more.
        assert publish(partner, event_type, PAYMENT)["notifications"] == []
        # The operational event tells why.
        [told] = ops.wait(1)
        assert json.loads(told.body)["eventData"]["webhookId"] == hook["id"]
        assert json.loads(told.body)["eventData"]["reason"] == "gone"
        time.sleep(0.3)
        assert len(rx.requests) == 1
    enabled = partner.webhooks.enable(hook["id"])
    assert enabled["status"] == "Active"
    assert enabled["disabledReason"] is None


@pytest.mark.parametrize(
    ("status", "form"), [(429, "seconds"), (503, "seconds"), (503, "http-date")]
)
def test_retry_after_is_honoured(partner: Tidings, event_type: str, status: int, form: str) -> None:
    # Retry-After is delay-seconds or an HTTP-date (RFC 9110 §10.2.3); both ask for ≥ 3 s. The
    # date is written now, before the first attempt: 8 s ahead (a whole-second date) still
    # asks for more than 2.5 s when that attempt comes as late as 4.5 s from now.
    retry_after = "3" if form == "seconds" else formatdate(time.time() + 8, usegmt=True)
    with Receiver(Reply(status, headers={"Retry-After": retry_after}), 200) as rx:
        create_webhook(partner, rx.url, retry_schedule=["1s"])
        notification_id = _only_notification(publish(partner, event_type, PAYMENT))
        first, second = rx.wait(2)
        done = wait_status(partner, notification_id, "succeeded")
    # The schedule says 1 s; the receiver asked for 3.
    assert second.at - first.at >= (2.95 if form == "seconds" else 2.5)
    assert [a["statusCode"] for a in done["attempts"]] == [status, 200]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_a_failed_attempt_and_not_followed(
    partner: Tidings, event_type: str, status: int
) -> None:
    with (
        Receiver() as elsewhere,
        Receiver(default=Reply(status, headers={"Location": elsewhere.url})) as rx,
    ):
        create_webhook(partner, rx.url, retry_schedule=["200ms"])
        notification_id = _only_notification(publish(partner, event_type, PAYMENT))
        failed = wait_status(partner, notification_id, "failed")
        assert len(rx.requests) == 2
        assert elsewhere.requests == []
    assert [a["statusCode"] for a in failed["attempts"]] == [status, status]
    assert [a["outcome"] for a in failed["attempts"]] == ["failed", "failed"]


@pytest.mark.parametrize(
    "schedule",
    [["1s"] * 21, ["25h"], ["24h"] * 8, ["soon"], ["-5s"]],
    ids=["too-many", "step-over-24h", "span-over-7d", "not-a-duration", "negative"],
)
def test_retry_schedule_is_validated(partner: Tidings, schedule: list[str]) -> None:
    with pytest.raises(ValidationError) as refused:
        partner.webhooks.create("https://example.com/hook", retry_schedule=schedule)
    assert refused.value.details[0]["field"].startswith("retrySchedule")


# --- circuit breaker and auto-disable -------------------------------------------------------


def _breaker_opened(partner: Tidings, rx: Receiver) -> str:
    """A webhook retrying every 200 ms whose first notification has failed three times (the
    breaker threshold of the tests below): that notification's id."""
    add_event_type(partner, "order.paid")
    create_webhook(partner, rx.url, retry_schedule=["200ms"] * 10)
    first = _only_notification(publish(partner, "order.paid", _payment(0)))
    eventually(lambda: notification(partner, first)["attemptCount"] == 3, what="3 failures")
    return first


def test_circuit_breaker_opens_probes_and_closes(own_database: str, tmp_path: Path) -> None:
    settings = {"breaker_threshold": 3, "breaker_probe_interval": "2s"}
    # Three failures open the breaker; two probes fail; the third probe succeeds.
    with (
        own_partner(own_database, tmp_path, **settings) as partner,
        Receiver(500, 500, 500, 500, 500, default=200) as rx,
    ):
        first = _breaker_opened(partner, rx)

        # The breaker is open: the webhook's other due notifications wait, spending nothing;
        # nothing reaches the receiver before the probe interval is over, however slow the
        # machine.
        others = [
            _only_notification(publish(partner, "order.paid", _payment(n))) for n in (1, 2, 3)
        ]
        time.sleep(0.3)
        opened = rx.requests[2].at
        assert [round(r.at - opened, 3) for r in rx.requests[3:] if r.at - opened < 1.9] == []
        for notification_id in others:
            waiting = notification(partner, notification_id)
            assert (waiting["status"], waiting["attemptCount"]) == ("pending", 0)

        rx.wait(9)
        done = [wait_status(partner, n, "succeeded") for n in (first, *others)]
        time.sleep(0.3)
        got = list(rx.requests)

    # Five failures (three, then two failed probes) and one success for each notification:
    # every request is an attempt of a notification, none was spent while waiting.
    assert len(got) == 9
    assert sum(n["attemptCount"] for n in done) == 9
    assert sum(a["outcome"] == "failed" for n in done for a in n["attempts"]) == 5
    # While open, one probe per interval: requests 4, 5 and 6 each come alone, 2 s apart.
    for before, probe in itertools.pairwise(got[2:6]):
        assert probe.at - before.at >= 1.9
    # The first successful probe closes it: the rest follow at once, not one probe interval
    # apart (which would take 6 s more); the bound leaves a loaded machine seconds to spare.
    assert got[-1].at - got[5].at < 4.0


def test_closing_the_breaker_releases_the_waiting_notifications_at_once(
    own_database: str, tmp_path: Path
) -> None:
    """'The first success resumes normal delivery': the notifications that waited behind the
    breaker go out as soon as a probe succeeds, not one more probe interval later."""
    # A long probe interval, so that "at once" and "an interval later" are far apart.
    settings = {"breaker_threshold": 3, "breaker_probe_interval": "10s"}
    with (
        own_partner(own_database, tmp_path, **settings) as partner,
        Receiver(500, 500, 500, default=200) as rx,
    ):
        first = _breaker_opened(partner, rx)
        others = [
            _only_notification(publish(partner, "order.paid", _payment(n))) for n in (1, 2, 3)
        ]
        rx.wait(7)
        got = list(rx.requests)
    probe = got[3]
    assert probe.at - got[2].at >= 9.9
    assert got[-1].at - probe.at < 5.0, "the waiting notifications were held after the probe"
    assert {r.headers["webhook-id"] for r in got[3:]} == {first, *others}


def test_auto_disable_publishes_webhook_disabled(own_database: str, tmp_path: Path) -> None:
    settings = {"auto_disable_after": "2s", "auto_disable_min_failures": 2}
    with (
        own_partner(own_database, tmp_path, **settings) as partner,
        Receiver(default=500) as failing,
        Receiver() as ops,
    ):
        add_event_type(partner, "order.paid")
        types = {t["name"] for t in partner.event_types.list()}
        assert {"webhook.disabled", "notification.failed"} <= types
        bad = create_webhook(
            partner, failing.url, event_types=["order.paid"], retry_schedule=["300ms"] * 15
        )
        watcher = create_webhook(partner, ops.url, event_types=["webhook.disabled"])
        event = publish(partner, "order.paid", _payment(1))
        assert [n["webhookId"] for n in event["notifications"]] == [bad["id"]]

        [got] = ops.wait(1)
        shown = webhook(partner, bad["id"])
        assert shown["status"] == "Disabled"
        assert shown["disabledReason"] == "failing"
        sent = len(failing.requests)
        time.sleep(0.6)
        assert len(failing.requests) == sent, "a Disabled webhook still gets requests"

    # Disabled only once every attempt had failed for the whole window.
    assert failing.requests[-1].at - failing.requests[0].at >= 1.9
    assert sent >= 2
    body = Webhook(watcher["secret"]).verify(got.body, got.headers)
    assert body["eventType"] == "webhook.disabled"
    assert body["webhookId"] == watcher["id"]
    data = body["eventData"]
    assert data["webhookId"] == bad["id"]
    assert data["reason"] == "failing"
    assert data["url"] == bad["url"]


def test_a_success_restarts_the_auto_disable_window(own_database: str, tmp_path: Path) -> None:
    # Three failures and a success a second apart, then four failures a second apart: together
    # the failures span more than the 5 s window, the last four alone 3 s (seconds to spare
    # for a loaded machine's late retries).
    settings = {"auto_disable_after": "5s", "auto_disable_min_failures": 2}
    with (
        own_partner(own_database, tmp_path, **settings) as partner,
        Receiver(500, 500, 500, 200, default=500) as rx,
    ):
        add_event_type(partner, "order.paid")
        hook = create_webhook(partner, rx.url, retry_schedule=["1s"] * 3)
        first = _only_notification(publish(partner, "order.paid", _payment(1)))
        wait_status(partner, first, "succeeded")
        second = _only_notification(publish(partner, "order.paid", _payment(2)))
        wait_status(partner, second, "failed")
        assert webhook(partner, hook["id"])["status"] == "Active"
        got = list(rx.requests)
    assert len(got) == 8
    # Failures spanned more than the window, but a success came in between.
    assert got[-1].at - got[0].at > 5.2


def test_notification_failed_reaches_a_subscribed_webhook(
    partner: Tidings, event_type: str
) -> None:
    with Receiver(default=500) as failing, Receiver() as ops:
        bad = create_webhook(
            partner, failing.url, event_types=[event_type], retry_schedule=["200ms"]
        )
        watcher = create_webhook(partner, ops.url, event_types=["notification.failed"])
        event = publish(partner, event_type, PAYMENT)
        notification_id = _only_notification(event)
        wait_status(partner, notification_id, "failed")
        [got] = ops.wait(1)
        time.sleep(0.3)
        assert len(ops.requests) == 1
    body = Webhook(watcher["secret"]).verify(got.body, got.headers)
    assert body["eventType"] == "notification.failed"
    data = body["eventData"]
    assert data["notificationId"] == notification_id
    assert data["webhookId"] == bad["id"]
    assert data["eventId"] == event["id"]
    assert data["eventType"] == event_type
    assert data["lastStatusCode"] == 500
    # An ordinary event of the account: listed with the others.
    listed = partner.events.list()
    assert body["eventType"] in [e["eventType"] for e in listed]


# --- ordered delivery -----------------------------------------------------------------------


def _assert_strictly_in_order(got: Sequence[Received], expected: Sequence[str]) -> None:
    """Each notification arrives (with its retries) only once the one before has ended, and
    first arrivals follow ``expected``."""
    arrivals = [r.headers["webhook-id"] for r in got]
    runs = [nid for nid, _ in itertools.groupby(arrivals)]
    assert runs == list(expected), "out of order"


@pytest.mark.parametrize(
    ("script", "first_ends"),
    [((500, 500), "succeeded"), ((500, 500, 500), "failed")],
    ids=["first-fails-twice", "first-fails-for-good"],
)
def test_ordered_delivery_waits_for_the_one_before(
    partner: Tidings, event_type: str, script: tuple[int, ...], first_ends: str
) -> None:
    with Receiver(*script, default=200) as rx:
        create_webhook(partner, rx.url, ordered=True, retry_schedule=["200ms", "200ms"])
        ids = [_only_notification(publish(partner, event_type, _payment(n))) for n in range(6)]
        rx.wait(len(script) + 6 - (first_ends == "failed"))
        assert wait_status(partner, ids[0], first_ends)["attemptCount"] == 3
        for later in ids[1:]:
            assert wait_status(partner, later, "succeeded")["attemptCount"] == 1
        got = list(rx.requests)
    _assert_strictly_in_order(got, ids)
    assert [r.headers["webhook-id"] for r in got[:3]] == [ids[0]] * 3


def test_ordered_delivery_goes_on_behind_more_than_a_webhooks_room(
    partner: Tidings, event_type: str
) -> None:
    # The first one's retry falls due after the forty published behind it: a claim that read
    # only each webhook's room of earliest due rows (32) never reached it, and the webhook stalled.
    later = 40
    with Receiver(500, default=200) as rx:
        create_webhook(partner, rx.url, ordered=True, retry_schedule=["2s"])
        first = _only_notification(publish(partner, event_type, _payment(0)))
        rx.wait(1)
        ids = [first] + [
            _only_notification(publish(partner, event_type, _payment(n)))
            for n in range(1, later + 1)
        ]
        rx.wait(later + 2, timeout=30)
        got = list(rx.requests)
    _assert_strictly_in_order(got, ids)


def test_ordered_delivery_of_events_published_concurrently(
    partner: Tidings, event_type: str
) -> None:
    with Receiver(500, 500, default=200) as rx:
        create_webhook(partner, rx.url, ordered=True, retry_schedule=["200ms", "200ms"])
        events = publish_concurrently(partner, event_type, [_payment(n) for n in range(20)])
        rx.wait(22)
        time.sleep(0.3)
        got = list(rx.requests)
    assert len(got) == 22
    # Concurrent requests have no order of their own: the order is the one Tidings gave the
    # events, by their ids (time-sortable, as GET /v1/events lists them) and their
    # eventRaisedAt. The receiver must get them in that order, and never see an event raised
    # earlier after one raised later.
    in_event_order = [_only_notification(e) for e in sorted(events, key=lambda e: e["id"])]
    _assert_strictly_in_order(got, in_event_order)
    raised = [json.loads(r.body)["eventRaisedAt"] for r in got]
    assert raised == sorted(raised), "eventRaisedAt goes backwards at the receiver"


# --- rate limit, concurrency cap, isolation -------------------------------------------------


def test_rate_limit_spreads_deliveries(partner: Tidings, event_type: str) -> None:
    with Receiver() as rx:
        hook = create_webhook(partner, rx.url, rate_limit=5)
        assert hook["rateLimit"] == 5
        started = time.monotonic()
        for n in range(20):
            publish(partner, event_type, _payment(n))
        got = rx.wait(20)
    # 20 at 5 per second: the n-th no sooner than n/5 s after the first publish, the last about
    # 3.8 s after it (a loaded machine only makes them later). Without the limit all 20 would
    # arrive together, most of them too soon.
    assert sooner_than_rate(got, 5, since=started) == []


def test_rate_limit_holds_across_workers(own_database: str, tmp_path: Path) -> None:
    """Two servers on one database, each with its own worker, as a scaled-out deployment."""
    settings = make_settings(own_database, tmp_path)
    with (
        RunningServer(settings) as one,
        RunningServer(settings) as two,
        open_partner(one) as partner,
        Receiver() as rx,
    ):
        add_event_type(partner, "order.paid")
        create_webhook(partner, rx.url, rate_limit=5)
        started = time.monotonic()
        # Publish through both, so that both workers are woken and claim.
        with tidings_at(two.base_url, partner.api_key) as other:
            for n in range(10):
                publish(partner, "order.paid", _payment(n))
                publish(other, "order.paid", _payment(100 + n))
        got = rx.wait(20)
    # The slots come from the webhook row, shared by both workers: the same bound as one worker.
    assert sooner_than_rate(got, 5, since=started) == []


def test_concurrency_cap_per_webhook(own_database: str, tmp_path: Path) -> None:
    # Each answer takes a second: time enough for two to be under way together on any machine.
    with (
        own_partner(own_database, tmp_path, webhook_concurrency=2) as partner,
        Receiver(default=Reply(200, delay=1.0)) as rx,
    ):
        add_event_type(partner, "order.paid")
        create_webhook(partner, rx.url)
        publish_concurrently(partner, "order.paid", [_payment(n) for n in range(8)])
        got = rx.wait(8)
    # The receiver counts the requests it is answering: never more than two at once.
    assert rx.max_in_flight == 2
    assert got[-1].at - got[0].at >= 2.9  # 8 requests, 2 at a time, 1 s each


def test_a_hanging_receiver_does_not_slow_a_healthy_one(own_database: str, tmp_path: Path) -> None:
    # Room for 48 requests at once: the hanging webhook's 40 (and their retries) could fill
    # it, but the per-webhook cap (32 by default) keeps room for the others. The hanging
    # requests time out after 10 s: were the healthy ones stuck behind them, they would come
    # after that; they need a second or so.
    timeout = 10.0
    settings = {"delivery_timeout": timeout, "worker_concurrency": 48}
    with (
        own_partner(own_database, tmp_path, **settings) as partner,
        Receiver(default=Reply(200, delay=timeout + 2)) as hanging,
        Receiver() as healthy,
    ):
        with Receiver() as closed:
            refusing_url = closed.url
        add_event_type(partner, "order.paid")
        create_webhook(partner, hanging.url)
        create_webhook(partner, refusing_url)
        create_webhook(partner, healthy.url)
        events = publish_concurrently(partner, "order.paid", [_payment(n) for n in range(40)])
        assert all(len(e["notifications"]) == 3 for e in events)
        got = healthy.wait(40)
        assert len({r.headers["webhook-id"] for r in got}) == 40
        assert len(hanging.requests) >= 1
        # All 40 arrived before the first hanging request could even time out.
        assert got[-1].at < hanging.requests[0].at + timeout


def test_a_hung_webhooks_backlog_does_not_hold_back_another(
    own_database: str, tmp_path: Path
) -> None:
    # Two at a time to the hung receiver: its other 298 notifications stay due, the oldest in
    # the queue, far more than one claim reads. Another webhook's event, published after them,
    # must still go out at once, not after the hung requests time out (10 s).
    timeout = 10.0
    settings = {"delivery_timeout": timeout, "webhook_concurrency": 2, "worker_concurrency": 8}
    with (
        own_partner(own_database, tmp_path, **settings) as partner,
        Receiver(default=Reply(200, delay=timeout + 2)) as hung,
        Receiver() as healthy,
    ):
        add_event_type(partner, "order.paid")
        add_event_type(partner, "order.shipped")
        create_webhook(partner, hung.url, event_types=["order.paid"])
        publish_concurrently(partner, "order.paid", [_payment(n) for n in range(300)])
        hung.wait(2)
        create_webhook(partner, healthy.url, event_types=["order.shipped"])
        event = publish(partner, "order.shipped", _payment(1000))
        (got,) = healthy.wait(1)
        assert got.headers["webhook-id"] == _only_notification(event)
        # Before the first hung request could time out, while the two still hang.
        assert got.at < hung.requests[0].at + timeout
        assert len(hung.requests) == 2


# --- replay ---------------------------------------------------------------------------------


def _replay(partner: Tidings, hook_id: str, **window: Any) -> int:
    return int(partner.webhooks.replay(hook_id, **window)["count"])


def test_replay_redelivers_failed_notifications_with_the_same_ids(
    partner: Tidings, event_type: str
) -> None:
    with Receiver(500, 500, 500, default=200) as rx:
        hook = create_webhook(partner, rx.url, retry_schedule=[])
        first = publish(partner, event_type, _payment(1))
        second = publish(partner, event_type, _payment(2))
        ids = [_only_notification(first), _only_notification(second)]
        for notification_id in ids:
            wait_status(partner, notification_id, "failed")
        time.sleep(0.01)
        third = publish(partner, event_type, _payment(3))
        outside = _only_notification(third)
        wait_status(partner, outside, "failed")
        rx.wait(3)

        # The window [since, until) holds the first two.
        count = _replay(partner, hook["id"], since=first["createdAt"], until=third["createdAt"])
        assert count == 2
        got = rx.wait(5)
        done = [wait_status(partner, n, "succeeded") for n in ids]
        time.sleep(0.3)
        assert len(rx.requests) == 5
    assert sorted(r.headers["webhook-id"] for r in got[3:]) == sorted(ids)
    for again in done:
        assert again["attemptCount"] == 2
        assert [a["statusCode"] for a in again["attempts"]] == [500, 200]
    # The one outside the window stays as it was.
    left = notification(partner, outside)
    assert (left["status"], left["attemptCount"]) == ("failed", 1)


def test_replay_by_status(partner: Tidings, event_type: str) -> None:
    with Receiver(200, 500, default=200) as rx:
        hook = create_webhook(partner, rx.url, retry_schedule=[])
        events = [publish(partner, event_type, _payment(n)) for n in (1, 2)]
        succeeded, failed = (_only_notification(e) for e in events)
        wait_status(partner, succeeded, "succeeded")
        wait_status(partner, failed, "failed")
        since = events[0]["createdAt"]

        # "succeeded": only the one that succeeded, sent again.
        assert _replay(partner, hook["id"], since=since, status="succeeded") == 1
        third = rx.wait(3)[2]
        assert third.headers["webhook-id"] == succeeded
        eventually(lambda: notification(partner, succeeded)["attemptCount"] == 2, what="resent")

        # Default "failed": only the failed one.
        assert _replay(partner, hook["id"], since=since) == 1
        fourth = rx.wait(4)[3]
        assert fourth.headers["webhook-id"] == failed
        wait_status(partner, failed, "succeeded")

        # Nothing failed any more.
        assert _replay(partner, hook["id"], since=since, status="failed") == 0

        # "all": both.
        eventually(lambda: notification(partner, succeeded)["status"] == "succeeded", what="idle")
        assert _replay(partner, hook["id"], since=since, status="all") == 2
        got = rx.wait(6)
        assert sorted(r.headers["webhook-id"] for r in got[4:]) == sorted([succeeded, failed])
        time.sleep(0.3)
        assert len(rx.requests) == 6

        # A window that holds nothing.
        assert _replay(partner, hook["id"], since="2001-01-01T00:00:00Z", until=since) == 0


# --- receiver authentication ----------------------------------------------------------------


def test_username_and_password_send_basic_auth(partner: Tidings, event_type: str) -> None:
    def authorization(got: Received) -> str | None:
        return {k.lower(): v for k, v in got.headers.items()}.get("authorization")

    with Receiver() as rx, Receiver() as rx_url:
        hook = create_webhook(partner, rx.url, username="acme", password="s3cret:with:colons")
        # Fields win over credentials in the URL.
        create_webhook(
            partner,
            rx_url.url.replace("http://", "http://urluser:urlpass@"),
            username="fielduser",
            password="fieldpass",
        )
        publish(partner, event_type, PAYMENT)
        [got] = rx.wait(1)
        [got_url] = rx_url.wait(1)
        assert authorization(got) == "Basic YWNtZTpzM2NyZXQ6d2l0aDpjb2xvbnM="  # acme:s3cret:…
        assert authorization(got_url) == "Basic ZmllbGR1c2VyOmZpZWxkcGFzcw=="  # fielduser:…

        # Removing them stops basic auth.
        cleared = partner.webhooks.update(hook["id"], username=None, password=None)
        assert (cleared["username"], cleared["password"]) == (None, None)
        publish(partner, event_type, PAYMENT)
        _, again = rx.wait(2)
        assert authorization(again) is None
    assert json.loads(again.body)["eventData"] == PAYMENT
