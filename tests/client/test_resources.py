"""The Python client against a real server, on each backend: every resource created, listed
(through several pages), read, changed and deleted; errors raised with their status, type
and details."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from tidings_client import (
    ConflictError,
    NotFoundError,
    Paginator,
    Tidings,
    UnauthorizedError,
    ValidationError,
    verify,
)

from tests.pulls.feed import Feed
from tests.support.receiver import Receiver
from tests.support.server import RunningServer


@pytest.fixture
def tidings(server: RunningServer, account: dict[str, Any]) -> Iterator[Tidings]:
    with Tidings(account["key"], server.base_url) as client:
        yield client


@pytest.fixture
def operator_tidings(server: RunningServer) -> Iterator[Tidings]:
    with Tidings(server.operator_key, server.base_url) as client:
        yield client


def _webhook(tidings: Tidings, n: int, **fields: Any) -> dict[str, Any]:
    return dict(tidings.webhooks.create(f"https://partner.example/hooks/{n}", **fields))


def test_webhooks_lifecycle_and_paging(tidings: Tidings) -> None:
    made = [_webhook(tidings, n, category="Payments") for n in range(5)]
    assert all(w["secret"].startswith("whsec_") for w in made)
    listed = tidings.webhooks.list(limit=2)
    assert isinstance(listed, Paginator)
    pages = list(listed.pages())
    assert [len(p.data) for p in pages] == [2, 2, 1]
    assert {w["id"] for w in listed} == {w["id"] for w in made}
    first = made[0]["id"]
    assert tidings.webhooks.get(first)["url"] == "https://partner.example/hooks/0"
    changed = tidings.webhooks.update(first, description="Payments backend", rate_limit=None)
    assert changed["description"] == "Payments backend"
    replaced = tidings.webhooks.replace(first, "https://partner.example/v2", [])
    assert (replaced["url"], replaced["description"]) == ("https://partner.example/v2", None)
    assert tidings.webhooks.disable(first)["status"] == "Disabled"
    assert [w["id"] for w in tidings.webhooks.list(status="Disabled")] == [first]
    assert tidings.webhooks.enable(first)["status"] == "Active"
    assert tidings.webhooks.secret(first)["secret"] == made[0]["secret"]
    rolled = tidings.webhooks.roll_secret(first, "1h")
    assert rolled["secret"] != made[0]["secret"] and rolled["previousSecretExpiresAt"]
    assert tidings.webhooks.delete(first) is None
    with pytest.raises(NotFoundError) as missing:
        tidings.webhooks.get(first)
    assert (missing.value.status, missing.value.type) == (404, "not_found")


def test_errors_carry_status_type_and_details(server: RunningServer, tidings: Tidings) -> None:
    with pytest.raises(ValidationError) as invalid:
        tidings.webhooks.create("https://partner.example/x", event_types=["Not A Type!"])
    assert invalid.value.status == 422
    assert invalid.value.type == "validation_error"
    assert invalid.value.details[0]["field"] == "eventTypes[0]"
    _webhook(tidings, 1)
    with pytest.raises(ConflictError) as taken:
        _webhook(tidings, 1)
    assert taken.value.status == 409 and "URL" in taken.value.message.upper()
    with pytest.raises(ValidationError) as unknown:
        tidings.webhooks.replace("wh_nope", "https://x.example", [], colour="red")
    assert unknown.value.details == [{"field": "colour", "message": "unknown field"}]
    with (
        Tidings("whk_not_a_real_key", server.base_url) as stranger,
        pytest.raises(UnauthorizedError) as refused,
    ):
        stranger.webhooks.list().first()
    assert refused.value.type == "authentication_error"


def test_event_types(tidings: Tidings) -> None:
    schema = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}
    made = tidings.event_types.create("invoice.paid", category="Billing", schema=schema)
    assert made["schema"] == schema
    for n in range(3):
        tidings.event_types.create(f"invoice.step{n}", category="Billing")
    names = [t["name"] for t in tidings.event_types.list(category="Billing", limit=2)]
    assert sorted(names) == ["invoice.paid", "invoice.step0", "invoice.step1", "invoice.step2"]
    assert tidings.event_types.get("invoice.paid")["category"] == "Billing"
    assert tidings.event_types.update("invoice.paid", description="Paid")["description"] == "Paid"
    assert tidings.event_types.replace("invoice.void", category="Billing")["name"] == "invoice.void"
    tidings.event_types.delete("invoice.step0")
    assert tidings.event_types.get("invoice.step0")["archived"] is True
    archived = [t["name"] for t in tidings.event_types.list(include_archived=True)]
    assert "invoice.step0" in archived
    assert "invoice.step0" not in [t["name"] for t in tidings.event_types.list()]
    with pytest.raises(ValidationError) as unfit:
        tidings.events.publish("invoice.paid", {"id": 5})
    assert unfit.value.details and unfit.value.details[0]["field"].startswith("eventData")


def test_publish_with_an_idempotency_key_and_read_events(tidings: Tidings) -> None:
    tidings.event_types.create("payment.updated")
    with Receiver() as receiver:
        hook = tidings.webhooks.create(receiver.url, ["payment.updated"])
        first = tidings.events.publish(
            "payment.updated", {"paymentId": "p1", "big": 2**60}, idempotency_key="p1-v1"
        )
        again = tidings.events.publish(
            "payment.updated", {"paymentId": "p1", "big": 2**60}, idempotency_key="p1-v1"
        )
        assert again["id"] == first["id"] and first["idempotencyKey"] == "p1-v1"
        with pytest.raises(ConflictError):
            tidings.events.publish("payment.updated", {"paymentId": "p2"}, idempotency_key="p1-v1")
        delivered = receiver.wait(1)[0]
        # What the receiver got verifies with the webhook's secret.
        payload = verify(hook["secret"], delivered.body, delivered.headers)
        assert payload["eventData"] == {"paymentId": "p1", "big": 2**60}
        tested = tidings.webhooks.test(hook["id"], "payment.updated", {"paymentId": "t1"})
        assert tested["test"] is True
        test_delivery = receiver.wait(2)[1]
        assert verify(hook["secret"], test_delivery.body, test_delivery.headers)["eventData"] == {
            "paymentId": "t1"
        }
    for n in range(3):
        tidings.events.publish("payment.updated", {"paymentId": f"q{n}"})
    events = [
        e for e in tidings.events.list(event_type="payment.updated", limit=2) if not e["test"]
    ]
    assert len(events) == 4 and events[-1]["id"] == first["id"]
    detail = tidings.events.get(first["id"])
    assert detail["request"]["path"] == "/v1/events"
    assert [n["webhookId"] for n in detail["notifications"]] == [hook["id"]]


def test_notifications_logs_and_replay(tidings: Tidings) -> None:
    tidings.event_types.create("order.paid")
    since = datetime.now(UTC) - timedelta(minutes=1)
    with Receiver(default=500) as receiver:
        hook = tidings.webhooks.create(receiver.url, ["order.paid"], retry_schedule=[])
        published = [tidings.events.publish("order.paid", {"n": n}) for n in range(3)]
        receiver.wait(3)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            failed = list(tidings.notifications.list(webhook_id=hook["id"], status="failed"))
            if len(failed) == 3:
                break
            time.sleep(0.1)
        assert len(failed) == 3
        one = tidings.notifications.get(failed[0]["id"])
        assert one["attempts"][0]["statusCode"] == 500
        receiver.default = type(receiver.default)(200)
        resent = tidings.notifications.resend(one["id"])
        assert resent["id"] == one["id"]
        receiver.wait(4)
        replayed = tidings.webhooks.replay(hook["id"], since)
        assert replayed["count"] >= 2
        receiver.wait(6)
    by_event = list(tidings.notifications.list(event_id=published[0]["id"]))
    assert [n["eventId"] for n in by_event] == [published[0]["id"]]
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert len(list(tidings.notifications.list(start=since, end=later))) == 3
    assert list(tidings.notifications.list(start=later)) == []
    assert len(list(tidings.events.list(event_type="order.paid", start=since, end=later))) == 3
    assert list(tidings.logs.list(start=later)) == []
    logs = tidings.logs.list(path="/v1/events", method="POST", limit=2)
    assert len(list(logs)) == 3
    log = tidings.logs.get(next(iter(logs))["id"])
    assert log["requestBody"] and log["method"] == "POST"
    # A 422 answer is a failed log.
    with pytest.raises(ValidationError):
        tidings.logs.list(status="sideways").first()
    assert tidings.logs.list(status="failed").first()["statusCode"] == 422


def test_api_keys(tidings: Tidings) -> None:
    made = tidings.api_keys.create("reporting", type="restricted", permissions={"logs": "read"})
    assert made["key"] and made["permissions"]["logs"] == "read"
    assert made["id"] in [k["id"] for k in tidings.api_keys.list(limit=1)]
    assert tidings.api_keys.get(made["id"])["name"] == "reporting"
    rolled = tidings.api_keys.roll(made["id"], "now")
    assert rolled["key"] != made["key"]
    with pytest.raises(ConflictError):
        tidings.api_keys.roll(made["id"])
    tidings.api_keys.revoke(rolled["id"])
    assert tidings.api_keys.get(rolled["id"])["status"] == "revoked"


def test_accounts_as_the_operator(operator_tidings: Tidings) -> None:
    made = [operator_tidings.accounts.create(f"Partner {n}") for n in range(3)]
    ids = {a["id"] for a in operator_tidings.accounts.list(limit=2)}
    assert {a["id"] for a in made} <= ids
    first = made[0]["id"]
    assert operator_tidings.accounts.get(first)["name"] == "Partner 0"
    assert operator_tidings.accounts.update(first, name="Renamed")["name"] == "Renamed"
    # The operator acts for an account with for_account (the Tidings-Account header).
    acting = operator_tidings.for_account(first)
    acting.event_types.create("acting.for")
    assert acting.event_types.get("acting.for")["scope"] == "account"
    acting.close()
    operator_tidings.accounts.delete(first)
    with pytest.raises(NotFoundError):
        operator_tidings.accounts.get(first)


def test_sources_and_push(tidings: Tidings) -> None:
    tidings.event_types.create("partner.pushed")
    source = tidings.sources.create("Partner", "partner.pushed")
    assert source["key"]
    for n in range(2):
        tidings.sources.create(f"Other {n}", "partner.pushed")
    assert len(list(tidings.sources.list(limit=2))) == 3
    assert tidings.sources.get(source["id"])["name"] == "Partner"
    assert tidings.sources.update(source["id"], name="Partner A")["name"] == "Partner A"
    pushed = tidings.sources.push(source["id"], {"hello": "world"}, key=source["key"])
    assert tidings.events.get(pushed["eventId"])["sourceId"] == source["id"]
    with pytest.raises(UnauthorizedError):
        tidings.sources.push(source["id"], {"hello": "world"})
    assert tidings.sources.disable(source["id"])["status"] == "Disabled"
    assert tidings.sources.enable(source["id"])["status"] == "Active"
    rolled = tidings.sources.roll_key(source["id"], "now")
    assert rolled["key"] != source["key"]
    tidings.sources.delete(source["id"])
    with pytest.raises(NotFoundError):
        tidings.sources.get(source["id"])


def test_pulls_and_runs(tidings: Tidings) -> None:
    tidings.event_types.create("partner.pulled")
    with Feed([{"id": "r1", "n": 1}, {"id": "r2", "n": 2}, {"id": "r3", "n": 3}]) as feed:
        pull = tidings.pulls.create(
            "Partner feed",
            feed.url,
            "partner.pulled",
            username=feed.username,
            password=feed.password,
            timezone="Europe/Berlin",
            frequency="daily",
            schedule="02:30",
            records_pointer="/data",
            id_pointer="/id",
        )
        assert pull["password"] == "****" and pull["nextRunAt"]
        tidings.pulls.create(
            "Other", feed.url, "partner.pulled", frequency="hourly", schedule=":15"
        )
        assert len(list(tidings.pulls.list(limit=1))) == 2
        assert tidings.pulls.get(pull["id"])["timezone"] == "Europe/Berlin"
        assert tidings.pulls.update(pull["id"], name="Feed A")["name"] == "Feed A"
        run = tidings.pulls.run(pull["id"])
        assert (run["status"], run["recordsSeen"], run["recordsNew"]) == ("succeeded", 3, 3)
        assert tidings.pulls.run(pull["id"])["recordsNew"] == 0
        # Both runs, paged one at a time.
        runs = list(tidings.pulls.runs(pull["id"], limit=1))
        assert len(runs) == 2 and run["id"] in {r["id"] for r in runs}
        assert tidings.events.get(run["eventIds"][0])["pullId"] == pull["id"]
    with pytest.raises(ValidationError) as refused:
        tidings.pulls.update(pull["id"], timezone="Mars/Olympus")
    assert refused.value.status == 422 and "timezone" in str(refused.value.details)
    assert tidings.pulls.disable(pull["id"])["status"] == "Disabled"
    assert tidings.pulls.enable(pull["id"])["status"] == "Active"
    tidings.pulls.delete(pull["id"])
    with pytest.raises(NotFoundError):
        tidings.pulls.get(pull["id"])


def test_users_and_portal_links(
    server: RunningServer, operator_tidings: Tidings, account: dict[str, Any]
) -> None:
    acting = operator_tidings.for_account(account["id"])
    invited = acting.users.create(f"dev-{time.monotonic_ns()}@example.com")
    assert invited["id"].startswith("usr_") and "/dashboard/invite/" in invited["inviteUrl"]
    assert invited["id"] in {u["id"] for u in acting.users.list(limit=1)}
    assert acting.users.get(invited["id"])["email"] == invited["email"]
    acting.users.delete(invited["id"])
    with pytest.raises(NotFoundError):
        acting.users.get(invited["id"])
    acting.close()
    link = operator_tidings.accounts.portal_link(account["id"])
    assert link["url"].startswith(server.base_url) and link["expiresAt"]


def test_listen_stream_and_report(tidings: Tidings) -> None:
    tidings.event_types.create("listen.me")
    got: list[tuple[str, Any]] = []
    stream = tidings.listen.stream("listen.*")
    name, ready = next(stream)
    assert name == "ready" and ready["secret"].startswith("whsec_")

    def publish() -> None:
        time.sleep(0.3)
        with Tidings(tidings.api_key, tidings.base_url) as other:
            other.events.publish("listen.me", {"x": 1})

    threading.Thread(target=publish).start()
    got.append(next(stream))
    name, notification = got[0]
    assert name == "notification" and notification["eventType"] == "listen.me"
    verify(ready["secret"], notification["body"], notification["headers"])
    tidings.listen.report(
        ready["listenerId"],
        notification["notificationId"],
        notification["lease"],
        status_code=204,
        duration_ms=3.5,
    )
    stream.close()
    recorded = tidings.notifications.get(notification["notificationId"])
    assert recorded["status"] == "succeeded" and recorded["attempts"][0]["statusCode"] == 204


def test_operations(tidings: Tidings) -> None:
    assert tidings.operations.health()["status"] == "ok"
    assert tidings.operations.ready()["status"] == "ready"
    assert "tidings" in tidings.operations.metrics()
