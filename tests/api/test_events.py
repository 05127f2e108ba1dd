"""``/v1/events``: publishing an event, reading it back, listing and idempotent retries."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.support.partner import (
    client_with_key,
    create_webhook,
    error_fields,
    open_account,
    publish,
)
from tests.support.receiver import Receiver
from tests.support.server import RunningServer

PAYMENT = {"paymentId": "pay_123", "status": "completed", "amount": 12.5}
# Nothing listens on the discard port: deliveries there simply fail, which these tests ignore.
NOWHERE = "http://127.0.0.1:9"


def _publish(
    client: httpx.Client, event_type: str, data: dict[str, Any], **headers: str
) -> httpx.Response:
    return client.post(
        "/v1/events", json={"eventType": event_type, "eventData": data}, headers=headers
    )


@pytest.fixture
def other(server: RunningServer) -> Iterator[httpx.Client]:
    """A second account's client, with its own payment.updated event type."""
    with open_account(server, "Other Co", event_types=["payment.updated"]) as other_client:
        yield other_client


def _parse(moment: str) -> datetime:
    assert moment.endswith("Z"), moment
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))


# --- publishing ----------------------------------------------------------------------------


def test_publish_answers_202_with_one_notification_per_matching_active_webhook(
    client: httpx.Client, event_type: str
) -> None:
    assert client.post("/v1/event-types", json={"name": "wallet.created"}).status_code == 201
    all_types = create_webhook(client, f"{NOWHERE}/all")
    subscribed = create_webhook(client, f"{NOWHERE}/subscribed", eventTypes=[event_type])
    create_webhook(client, f"{NOWHERE}/other-type", eventTypes=["wallet.created"])
    create_webhook(client, f"{NOWHERE}/disabled", status="Disabled")

    before = datetime.now(UTC)
    response = _publish(client, event_type, PAYMENT)
    assert response.status_code == 202, response.text
    event = response.json()

    assert event["id"].startswith("evt_")
    assert event["eventType"] == event_type
    assert event["eventData"] == PAYMENT
    assert event["test"] is False
    assert event["idempotencyKey"] is None
    created = _parse(event["createdAt"])
    assert before - timedelta(seconds=5) <= created <= datetime.now(UTC) + timedelta(seconds=5)

    notifications = event["notifications"]
    assert len(notifications) == 2
    assert {n["webhookId"] for n in notifications} == {all_types["id"], subscribed["id"]}
    for notification in notifications:
        assert notification["id"].startswith("ntf_")
        assert notification["eventId"] == event["id"]
        assert notification["eventType"] == event_type
        assert notification["status"] in ("pending", "succeeded", "failed")
    assert len({n["id"] for n in notifications}) == 2


def test_publish_with_no_webhooks_has_no_notifications(
    client: httpx.Client, event_type: str
) -> None:
    event = publish(client, event_type, PAYMENT)
    assert event["notifications"] == []
    assert client.get(f"/v1/events/{event['id']}").json()["notifications"] == []


def test_get_event_shows_it_with_its_notifications(client: httpx.Client, event_type: str) -> None:
    first = create_webhook(client, f"{NOWHERE}/one")
    second = create_webhook(client, f"{NOWHERE}/two")
    event = publish(client, event_type, PAYMENT)

    response = client.get(f"/v1/events/{event['id']}")
    assert response.status_code == 200, response.text
    shown = response.json()
    assert shown["id"] == event["id"]
    assert shown["eventType"] == event_type
    assert shown["eventData"] == PAYMENT
    assert shown["createdAt"] == event["createdAt"]
    assert shown["test"] is False
    assert {n["id"] for n in shown["notifications"]} == {n["id"] for n in event["notifications"]}
    assert {n["webhookId"] for n in shown["notifications"]} == {first["id"], second["id"]}
    assert all(n["eventId"] == event["id"] for n in shown["notifications"])


def test_event_data_comes_back_exactly_as_sent(client: httpx.Client, event_type: str) -> None:
    data = {
        "paymentId": "pay_ü€😀",
        "status": "pending",
        "amount": 0.1,
        "nested": {"list": [1, "two", None, True, {"x": []}], "empty": {}},
    }
    event = publish(client, event_type, data)
    assert event["eventData"] == data
    assert client.get(f"/v1/events/{event['id']}").json()["eventData"] == data


def test_unknown_event_type_is_422_naming_event_type(client: httpx.Client, event_type: str) -> None:
    response = _publish(client, "no.such.type", PAYMENT)
    assert response.status_code == 422, response.text
    assert "eventType" in error_fields(response)
    assert client.get("/v1/events").json()["data"] == []


def test_event_type_of_another_account_is_unknown(
    client: httpx.Client, other: httpx.Client
) -> None:
    assert other.post("/v1/event-types", json={"name": "only.theirs"}).status_code == 201
    response = _publish(client, "only.theirs", {})
    assert response.status_code == 422, response.text
    assert "eventType" in error_fields(response)


def test_event_data_that_is_not_an_object_is_422_naming_event_data(
    client: httpx.Client, event_type: str
) -> None:
    for data in ([1, 2, 3], "a string", 42, None, True):
        response = client.post("/v1/events", json={"eventType": event_type, "eventData": data})
        assert response.status_code == 422, (data, response.text)
        assert "eventData" in error_fields(response), data
    assert client.get("/v1/events").json()["data"] == []


def test_event_data_not_matching_the_schema_is_422(client: httpx.Client, event_type: str) -> None:
    response = _publish(client, event_type, {"paymentId": "pay_1", "status": "lost"})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"]


def test_missing_fields_are_422_naming_them(client: httpx.Client, event_type: str) -> None:
    response = client.post("/v1/events", json={})
    assert response.status_code == 422, response.text
    assert {"eventType", "eventData"} <= set(error_fields(response))

    response = client.post("/v1/events", json={"eventType": event_type})
    assert response.status_code == 422, response.text
    assert error_fields(response) == ["eventData"]

    response = client.post("/v1/events", json={"eventData": PAYMENT})
    assert response.status_code == 422, response.text
    assert error_fields(response) == ["eventType"]


def test_another_accounts_event_is_404(
    client: httpx.Client, other: httpx.Client, event_type: str
) -> None:
    mine = publish(client, event_type, PAYMENT)
    theirs = publish(other, "payment.updated", PAYMENT)
    response = client.get(f"/v1/events/{theirs['id']}")
    assert response.status_code == 404, response.text
    assert response.json()["error"]["type"] == "not_found"
    assert other.get(f"/v1/events/{mine['id']}").status_code == 404
    assert [e["id"] for e in other.get("/v1/events").json()["data"]] == [theirs["id"]]
    assert [e["id"] for e in client.get("/v1/events").json()["data"]] == [mine["id"]]


def test_unknown_event_id_is_404(client: httpx.Client) -> None:
    response = client.get("/v1/events/evt_01HZZZZZZZZZZZZZZZZZZZZZZZ")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"


# --- listing -------------------------------------------------------------------------------


def test_list_events_newest_first_without_notifications(
    client: httpx.Client, event_type: str
) -> None:
    ids = []
    for n in range(3):
        ids.append(publish(client, event_type, {**PAYMENT, "paymentId": f"p{n}"})["id"])
        time.sleep(0.005)
    response = client.get("/v1/events")
    assert response.status_code == 200, response.text
    page = response.json()
    assert [e["id"] for e in page["data"]] == list(reversed(ids))
    assert page["nextCursor"] is None
    assert page["data"][0]["eventData"] == {**PAYMENT, "paymentId": "p2"}


def test_list_events_filters_by_event_type(client: httpx.Client, event_type: str) -> None:
    assert client.post("/v1/event-types", json={"name": "wallet.created"}).status_code == 201
    payment = publish(client, event_type, PAYMENT)
    wallet = publish(client, "wallet.created", {"walletId": "w_1"})

    only_payments = client.get("/v1/events", params={"eventType": event_type}).json()["data"]
    assert [e["id"] for e in only_payments] == [payment["id"]]
    only_wallets = client.get("/v1/events", params={"eventType": "wallet.created"}).json()["data"]
    assert [e["id"] for e in only_wallets] == [wallet["id"]]
    assert client.get("/v1/events", params={"eventType": "nothing.here"}).json()["data"] == []


def test_list_events_filters_by_time(client: httpx.Client, event_type: str) -> None:
    first = publish(client, event_type, PAYMENT)
    time.sleep(0.05)
    second = publish(client, event_type, PAYMENT)
    time.sleep(0.05)
    third = publish(client, event_type, PAYMENT)

    def listed(**params: str) -> list[str]:
        response = client.get("/v1/events", params=params)
        assert response.status_code == 200, response.text
        return [e["id"] for e in response.json()["data"]]

    # `from` is inclusive, `to` exclusive.
    assert listed(**{"from": second["createdAt"]}) == [third["id"], second["id"]]
    assert listed(to=second["createdAt"]) == [first["id"]]
    assert listed(**{"from": second["createdAt"], "to": third["createdAt"]}) == [second["id"]]

    # The same instant written with an offset instead of Z.
    moment = _parse(second["createdAt"]).astimezone(timezone(timedelta(hours=2)))
    assert listed(**{"from": moment.isoformat()}) == [third["id"], second["id"]]

    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert listed(**{"from": later}) == []
    earlier = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert listed(to=earlier) == []


def test_list_events_bad_time_is_422_naming_it(client: httpx.Client) -> None:
    for name in ("from", "to"):
        response = client.get("/v1/events", params={name: "yesterday-ish"})
        assert response.status_code == 422, response.text
        assert error_fields(response) == [name]


def test_list_events_cursor_pagination(client: httpx.Client, event_type: str) -> None:
    ids = []
    for n in range(5):
        ids.append(publish(client, event_type, {**PAYMENT, "paymentId": f"p{n}"})["id"])
        time.sleep(0.005)
    newest_first = list(reversed(ids))

    seen: list[str] = []
    pages = 0
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        response = client.get("/v1/events", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["data"]) <= 2
        seen += [e["id"] for e in page["data"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
        assert pages < 10
    assert pages == 3
    assert seen == newest_first

    # The filters hold across pages.
    first_page = client.get("/v1/events", params={"limit": 2, "eventType": event_type}).json()
    second_page = client.get(
        "/v1/events",
        params={"limit": 2, "eventType": event_type, "cursor": first_page["nextCursor"]},
    ).json()
    assert [e["id"] for e in second_page["data"]] == newest_first[2:4]


def test_list_limit_out_of_range_is_422(client: httpx.Client) -> None:
    for limit in (0, 251, -1):
        response = client.get("/v1/events", params={"limit": limit})
        assert response.status_code == 422, response.text
        assert error_fields(response) == ["limit"]
    assert client.get("/v1/events", params={"limit": 250}).status_code == 200


# --- idempotency ---------------------------------------------------------------------------


def test_same_idempotency_key_and_body_returns_the_first_event(
    client: httpx.Client, event_type: str
) -> None:
    with Receiver() as rx:
        hook = create_webhook(client, rx.url)
        first = _publish(client, event_type, PAYMENT, **{"Idempotency-Key": "order-42"})
        assert first.status_code == 202, first.text
        retried = _publish(client, event_type, PAYMENT, **{"Idempotency-Key": "order-42"})
        assert retried.status_code == 202, retried.text
        rx.wait(1)
        time.sleep(1.5)
        assert len(rx.requests) == 1

    assert retried.json()["id"] == first.json()["id"]
    assert retried.json()["idempotencyKey"] == "order-42"
    assert [n["id"] for n in retried.json()["notifications"]] == [
        n["id"] for n in first.json()["notifications"]
    ]
    listed = client.get("/v1/notifications", params={"webhookId": hook["id"]}).json()["data"]
    assert len(listed) == 1
    assert [e["id"] for e in client.get("/v1/events").json()["data"]] == [first.json()["id"]]


def test_same_idempotency_key_with_keys_reordered_is_the_same_body(
    client: httpx.Client, event_type: str
) -> None:
    first = _publish(client, event_type, PAYMENT, **{"Idempotency-Key": "k-reorder"})
    reordered = dict(reversed(list(PAYMENT.items())))
    again = _publish(client, event_type, reordered, **{"Idempotency-Key": "k-reorder"})
    assert again.status_code == 202, again.text
    assert again.json()["id"] == first.json()["id"]


def test_same_idempotency_key_with_another_body_is_409(
    client: httpx.Client, event_type: str
) -> None:
    with Receiver() as rx:
        hook = create_webhook(client, rx.url)
        first = _publish(client, event_type, PAYMENT, **{"Idempotency-Key": "order-43"})
        assert first.status_code == 202, first.text
        changed = _publish(
            client, event_type, {**PAYMENT, "amount": 99}, **{"Idempotency-Key": "order-43"}
        )
        assert changed.status_code == 409, changed.text
        error = changed.json()["error"]
        assert error["type"] == "conflict"
        assert error["message"]
        rx.wait(1)
        time.sleep(1.0)
        assert len(rx.requests) == 1
    listed = client.get("/v1/notifications", params={"webhookId": hook["id"]}).json()["data"]
    assert len(listed) == 1
    assert len(client.get("/v1/events").json()["data"]) == 1


def test_different_idempotency_keys_make_different_events(
    client: httpx.Client, event_type: str
) -> None:
    first = _publish(client, event_type, PAYMENT, **{"Idempotency-Key": "a"})
    second = _publish(client, event_type, PAYMENT, **{"Idempotency-Key": "b"})
    without = _publish(client, event_type, PAYMENT)
    ids = {first.json()["id"], second.json()["id"], without.json()["id"]}
    assert len(ids) == 3


def test_idempotency_keys_are_per_account(
    client: httpx.Client, other: httpx.Client, event_type: str
) -> None:
    mine = _publish(client, event_type, PAYMENT, **{"Idempotency-Key": "shared-key"})
    assert mine.status_code == 202, mine.text
    # Another body, same key, other account: a new event, not a conflict.
    theirs = _publish(
        other, "payment.updated", {"something": "else"}, **{"Idempotency-Key": "shared-key"}
    )
    assert theirs.status_code == 202, theirs.text
    assert theirs.json()["id"] != mine.json()["id"]
    # The same body as the first account's, same key: still the other account's own event.
    same_as_mine = _publish(other, "payment.updated", PAYMENT, **{"Idempotency-Key": "shared-key"})
    assert same_as_mine.status_code == 409, same_as_mine.text
    assert other.get(f"/v1/events/{mine.json()['id']}").status_code == 404
    again = _publish(client, event_type, PAYMENT, **{"Idempotency-Key": "shared-key"})
    assert again.json()["id"] == mine.json()["id"]


def test_concurrent_retries_with_one_idempotency_key_make_one_event(
    server: RunningServer, account: dict[str, Any], event_type: str
) -> None:
    def retry(_: int) -> httpx.Response:
        with client_with_key(server.base_url, account["key"]) as c:
            return _publish(c, event_type, PAYMENT, **{"Idempotency-Key": "burst"})

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(retry, range(8)))
    assert [r.status_code for r in responses] == [202] * 8, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    with client_with_key(server.base_url, account["key"]) as c:
        assert len(c.get("/v1/events").json()["data"]) == 1


def test_conflict_and_too_long_idempotency_key_name_the_header(
    client: httpx.Client, event_type: str
) -> None:
    _publish(client, event_type, PAYMENT, **{"Idempotency-Key": "named"})
    conflict = _publish(
        client, event_type, {**PAYMENT, "amount": 1}, **{"Idempotency-Key": "named"}
    )
    assert conflict.status_code == 409
    assert [f.lower() for f in error_fields(conflict)] == ["idempotency-key"]
    too_long = _publish(client, event_type, PAYMENT, **{"Idempotency-Key": "k" * 256})
    assert too_long.status_code == 422, too_long.text
    assert [f.lower() for f in error_fields(too_long)] == ["idempotency-key"]
