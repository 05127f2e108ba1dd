"""Pulls end to end: Tidings fetches a real partner feed on loopback (basic auth, two pages by
``Link``, ETag and 304), makes an event of each record once, delivers it to a webhook, and
records each run in its runs and in the sync log."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.pulls.feed import Feed
from tests.support.partner import Partner, create_webhook, error_fields, tidings_for
from tests.support.processes import query
from tests.support.receiver import Receiver
from tests.support.server import RunningServer

RECORDS = [
    {"paymentId": "pay_1", "status": "completed"},
    {"paymentId": "pay_2", "status": "pending"},
    {"paymentId": "pay_3", "status": "failed"},
]
PULL_FIELDS = {
    "id",
    "name",
    "category",
    "url",
    "username",
    "password",
    "timezone",
    "frequency",
    "schedule",
    "eventType",
    "recordsPointer",
    "idPointer",
    "status",
    "nextRunAt",
    "disabledReason",
}
RUN_FIELDS = {
    "id",
    "pullId",
    "startedAt",
    "finishedAt",
    "status",
    "httpStatus",
    "recordsSeen",
    "recordsNew",
    "error",
}


def pull_body(feed: Feed, event_type: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": "Partner bookings",
        "url": feed.url,
        "username": feed.username,
        "password": feed.password,
        "timezone": "Europe/Berlin",
        "frequency": "daily",
        "schedule": "02:30",
        "eventType": event_type,
        "recordsPointer": "/data",
        "idPointer": "/paymentId",
        **fields,
    }


def create_pull(client: Partner, feed: Feed, event_type: str, **fields: Any) -> dict[str, Any]:
    """A pull of ``feed`` made through the Python client, with ``pull_body``'s fields (``None``:
    left out, which the API takes as null)."""
    body = pull_body(feed, event_type, **fields)
    name, url = body.pop("name"), body.pop("url")
    del body["eventType"]
    return dict(tidings_for(client).pulls.create(name, url, event_type, **body))


def run(client: Partner, pull_id: str) -> dict[str, Any]:
    """Run the pull now; the run record."""
    return dict(tidings_for(client).pulls.run(pull_id))


# --- what a pull is -----------------------------------------------------------------------


def test_create_shows_every_field_and_masks_the_password(
    client: httpx.Client, event_type: str
) -> None:
    with Feed() as feed:
        pull = create_pull(client, feed, event_type)
    assert set(pull) >= PULL_FIELDS
    assert pull["id"].startswith("pull_")
    assert pull["password"] == "****" and feed.password not in str(pull)
    assert pull["status"] == "Active" and pull["disabledReason"] is None
    # 02:30 in Berlin is 00:30 or 01:30 UTC, whatever the day.
    assert pull["nextRunAt"].endswith(("T00:30:00.000Z", "T01:30:00.000Z"))
    shown = client.get(f"/v1/pulls/{pull['id']}").json()
    assert shown == pull
    listed = client.get("/v1/pulls").json()
    assert [p["id"] for p in listed["data"]] == [pull["id"]] and listed["nextCursor"] is None


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"timezone": "Mars/Olympus_Mons"}, "timezone"),
        ({"frequency": "fortnightly"}, "frequency"),
        ({"frequency": "61 * * * *"}, "frequency"),
        ({"frequency": "hourly", "schedule": "02:30"}, "schedule"),
        ({"frequency": "daily", "schedule": "25:00"}, "schedule"),
        ({"frequency": "weekly", "schedule": "someday 02:30"}, "schedule"),
        ({"frequency": "daily", "schedule": None}, "schedule"),
        ({"recordsPointer": "data"}, "recordsPointer"),
        ({"idPointer": "/a~2b"}, "idPointer"),
        ({"eventType": "no.such.type"}, "eventType"),
        ({"category": "Bookings"}, "eventType"),
        ({"url": "ftp://partner.example/feed"}, "url"),
        ({"url": "http://user:pw@partner.example/feed"}, "url"),
        ({"username": None}, "username"),
        ({"name": ""}, "name"),
        ({"status": "Paused"}, "status"),
    ],
)
def test_create_refuses_what_does_not_fit(
    client: httpx.Client, event_type: str, fields: dict[str, Any], field: str
) -> None:
    with Feed() as feed:
        body = {k: v for k, v in pull_body(feed, event_type, **fields).items() if v is not None}
        response = client.post("/v1/pulls", json=body)
    assert field in error_fields(response, 422)


def test_an_unknown_timezone_is_named(client: httpx.Client, event_type: str) -> None:
    with Feed() as feed:
        response = client.post(
            "/v1/pulls", json=pull_body(feed, event_type, timezone="Europe/Atlantis")
        )
    assert error_fields(response, 422) == ["timezone"]
    assert "Europe/Atlantis" in response.json()["error"]["message"]


def test_patch_moves_the_next_run_and_keeps_a_masked_password(
    client: httpx.Client, event_type: str
) -> None:
    with Feed() as feed:
        pull = create_pull(client, feed, event_type, timezone="UTC")
        assert pull["nextRunAt"].endswith("T02:30:00.000Z")
        changed = client.patch(
            f"/v1/pulls/{pull['id']}",
            json={"frequency": "hourly", "schedule": ":45", "password": "****"},
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["nextRunAt"].endswith(":45:00.000Z")
        # The masked password sent back kept the real one: a run still authenticates.
        assert run(client, pull["id"])["httpStatus"] == 200
        bad = client.patch(f"/v1/pulls/{pull['id']}", json={"timezone": "Nowhere/Town"})
        assert error_fields(bad, 422) == ["timezone"]
        assert error_fields(client.patch(f"/v1/pulls/{pull['id']}", json={"url": None}), 422) == [
            "url"
        ]
        cron = client.patch(f"/v1/pulls/{pull['id']}", json={"frequency": "*/20 * * * *"})
        assert cron.json()["nextRunAt"][14:16] in ("00", "20", "40")


def test_disable_enable_and_delete(client: httpx.Client, event_type: str) -> None:
    with Feed() as feed:
        pull = create_pull(client, feed, event_type)
        off = client.post(f"/v1/pulls/{pull['id']}/disable").json()
        assert off["status"] == "Disabled" and off["nextRunAt"] is None
        refused = client.post(f"/v1/pulls/{pull['id']}/run")
        assert refused.status_code == 409
        on = client.post(f"/v1/pulls/{pull['id']}/enable").json()
        assert on["status"] == "Active" and on["nextRunAt"] == pull["nextRunAt"]
        assert client.delete(f"/v1/pulls/{pull['id']}").status_code == 204
        assert client.get(f"/v1/pulls/{pull['id']}").status_code == 404
        assert client.get(f"/v1/pulls/{pull['id']}/runs").status_code == 404
        assert feed.count() == 0


def test_another_account_sees_none_of_it(
    client: httpx.Client, other_client: httpx.Client, event_type: str
) -> None:
    with Feed() as feed:
        pull = create_pull(client, feed, event_type)
    for method, path in [
        ("GET", f"/v1/pulls/{pull['id']}"),
        ("PATCH", f"/v1/pulls/{pull['id']}"),
        ("DELETE", f"/v1/pulls/{pull['id']}"),
        ("POST", f"/v1/pulls/{pull['id']}/run"),
        ("GET", f"/v1/pulls/{pull['id']}/runs"),
    ]:
        answer = other_client.request(method, path, json={} if method == "PATCH" else None)
        assert answer.status_code == 404, (method, path, answer.text)
    assert other_client.get("/v1/pulls").json()["data"] == []


def test_a_category_limited_key_sees_only_its_categories_pulls(
    client: httpx.Client, event_type: str
) -> None:
    client.post("/v1/event-types", json={"name": "booking.created", "category": "Booking"})
    with Feed() as feed:
        payments = create_pull(client, feed, event_type, category="Payments")
        booking = create_pull(client, feed, "booking.created", category="Booking", idPointer=None)
        limited = client.post(
            "/v1/api-keys",
            json={
                "type": "restricted",
                "permissions": {"pulls": "write"},
                "categories": ["Booking"],
            },
        ).json()["key"]
        with httpx.Client(base_url=str(client.base_url), headers={"X-Api-Key": limited}) as own:
            assert [p["id"] for p in own.get("/v1/pulls").json()["data"]] == [booking["id"]]
            assert own.get(f"/v1/pulls/{payments['id']}").status_code == 404
            assert own.post(f"/v1/pulls/{payments['id']}/run").status_code == 404
            assert own.delete(f"/v1/pulls/{payments['id']}").status_code == 404
            outside = own.post("/v1/pulls", json=pull_body(feed, event_type, category="Payments"))
            assert error_fields(outside, 403) == ["category"]
            moved = own.patch(f"/v1/pulls/{booking['id']}", json={"category": "Payments"})
            assert error_fields(moved, 403) == ["category"]
    assert client.get(f"/v1/pulls/{payments['id']}").status_code == 200


# --- runs ---------------------------------------------------------------------------------


def test_a_run_makes_each_record_an_event_once_and_delivers_it(
    client: httpx.Client, event_type: str
) -> None:
    with Feed(RECORDS, page_size=2) as feed, Receiver() as rx:
        hook = create_webhook(client, rx.url, eventTypes=[event_type])
        pull = create_pull(client, feed, event_type)
        first = run(client, pull["id"])
        assert set(first) >= RUN_FIELDS
        assert first["id"].startswith("run_") and first["pullId"] == pull["id"]
        assert first["status"] == "succeeded" and first["error"] is None
        assert first["httpStatus"] == 200
        assert (first["recordsSeen"], first["recordsNew"]) == (3, 3)
        assert len(first["eventIds"]) == 3
        # Two pages, each asked for with basic auth; the second found by its Link.
        assert [r.path for r in feed.requests] == ["/records", "/records?page=2"]
        assert all(r.headers["Authorization"].startswith("Basic ") for r in feed.requests)
        got = rx.wait(3)

        # Nothing changed: the ETag answers 304, and nothing new is made.
        second = run(client, pull["id"])
        assert second["status"] == "succeeded" and second["httpStatus"] == 304
        assert (second["recordsSeen"], second["recordsNew"]) == (0, 0)
        assert feed.requests[-1].headers["If-None-Match"] == feed.etag()

        # A new record (the ETag changes): only it becomes an event.
        feed.records.append({"paymentId": "pay_4", "status": "completed"})
        third = run(client, pull["id"])
        assert (third["recordsSeen"], third["recordsNew"]) == (4, 1)
        [fourth] = rx.wait(4)[3:]

    secret = client.get(f"/v1/webhooks/{hook['id']}/secret").json()["secret"]
    delivered = [Webhook(secret).verify(r.body, r.headers) for r in [*got, fourth]]
    assert sorted(d["eventData"]["paymentId"] for d in delivered) == [
        "pay_1",
        "pay_2",
        "pay_3",
        "pay_4",
    ]
    assert all(d["eventType"] == event_type for d in delivered)
    event = client.get(f"/v1/events/{first['eventIds'][0]}").json()
    assert event["pullId"] == pull["id"] and event["sourceId"] is None
    assert event["eventData"] == RECORDS[0]
    runs = client.get(f"/v1/pulls/{pull['id']}/runs").json()
    assert [r["id"] for r in runs["data"]] == [third["id"], second["id"], first["id"]]
    paged = client.get(f"/v1/pulls/{pull['id']}/runs", params={"limit": 2}).json()
    assert len(paged["data"]) == 2 and paged["nextCursor"]
    rest = client.get(
        f"/v1/pulls/{pull['id']}/runs", params={"limit": 2, "cursor": paged["nextCursor"]}
    ).json()
    assert [r["id"] for r in rest["data"]] == [first["id"]]


def test_without_an_id_pointer_a_record_is_known_by_its_content(
    client: httpx.Client, event_type: str
) -> None:
    with Feed(RECORDS[:2], page_size=10) as feed:
        pull = create_pull(client, feed, event_type, idPointer=None)
        assert run(client, pull["id"])["recordsNew"] == 2
        feed.records[0] = {**feed.records[0], "status": "failed"}  # changed: a new record
        again = run(client, pull["id"])
    assert (again["recordsSeen"], again["recordsNew"]) == (2, 1)


def test_each_run_is_in_the_sync_log_with_its_events(client: httpx.Client, event_type: str) -> None:
    with Feed(RECORDS, page_size=10) as feed:
        pull = create_pull(client, feed, event_type)
        made = run(client, pull["id"])
        feed.mode = "fail"
        failed = run(client, pull["id"])
    synced = client.get("/v1/logs", params={"type": "sync"}).json()["data"]
    by_id = {entry["id"]: entry for entry in synced}
    assert set(by_id) == {made["logId"], failed["logId"]}
    entry = by_id[made["logId"]]
    assert entry["type"] == "sync" and entry["method"] == "GET"
    assert entry["path"] == "/records" and entry["statusCode"] == 200
    assert entry["outcome"] == "succeeded"
    assert sorted(entry["eventIds"]) == sorted(made["eventIds"])
    assert by_id[failed["logId"]]["outcome"] == "failed"
    assert by_id[failed["logId"]]["statusCode"] == 500
    normal = client.get("/v1/logs", params={"type": "normal"}).json()["data"]
    assert not {e["id"] for e in normal} & set(by_id)
    detail = client.get(f"/v1/logs/{made['logId']}").json()
    assert feed.password not in str(detail)
    assert '"recordsNew":3' in detail["responseBody"]
    assert made["id"] in detail["responseBody"]
    # The event names the run's log record as the request it came from.
    event = client.get(f"/v1/events/{made['eventIds'][0]}").json()
    assert event["request"]["id"] == made["logId"]


@pytest.mark.parametrize("trouble", ["fail", "password", "no-records"])
def test_a_failed_run_is_recorded_and_makes_nothing(
    client: httpx.Client, event_type: str, trouble: str
) -> None:
    with Feed(RECORDS) as feed:
        pull = create_pull(client, feed, event_type)
        if trouble == "fail":
            feed.mode = "fail"
        elif trouble == "password":
            feed.password = "changed-by-the-partner"
        else:
            client.patch(f"/v1/pulls/{pull['id']}", json={"recordsPointer": "/items"})
        outcome = run(client, pull["id"])
    assert outcome["status"] == "failed" and outcome["recordsNew"] == 0
    expected = {"fail": 500, "password": 401, "no-records": 200}[trouble]
    assert outcome["httpStatus"] == expected
    assert outcome["error"]
    shown = client.get(f"/v1/pulls/{pull['id']}").json()
    assert shown["status"] == "Active" and shown["nextRunAt"] == pull["nextRunAt"]
    assert client.get("/v1/events").json()["data"] == []


def test_deleting_the_account_stops_its_pulls(
    server: RunningServer,
    operator: httpx.Client,
    account: dict[str, Any],
    client: httpx.Client,
    event_type: str,
) -> None:
    with Feed() as feed:
        pull = create_pull(client, feed, event_type)
    assert operator.delete(f"/v1/accounts/{account['id']}").status_code == 204
    # The account is gone from the API: the store shows what became of its pull.
    [row] = query(
        str(server.settings.database_url),
        f"SELECT status, disabled_reason, next_run_at FROM pulls WHERE id = '{pull['id']}'",
    )
    assert row == ("Disabled", "account deleted", None)


def test_a_record_that_does_not_fit_the_schema_is_tried_again(
    client: httpx.Client, event_type: str
) -> None:
    records = [RECORDS[0], {"paymentId": "pay_9", "status": "lost"}]
    with Feed(records, page_size=10) as feed:
        pull = create_pull(client, feed, event_type)
        first = run(client, pull["id"])
        assert first["status"] == "succeeded"
        assert (first["recordsSeen"], first["recordsNew"]) == (2, 1)
        assert "record 1" in first["error"]
        # Fetched again in full (no If-None-Match): the refused record is still refused.
        second = run(client, pull["id"])
        assert "If-None-Match" not in feed.requests[-1].headers
        assert (second["httpStatus"], second["recordsNew"]) == (200, 0)
        feed.records[1] = {"paymentId": "pay_9", "status": "completed"}
        third = run(client, pull["id"])
    assert (third["recordsNew"], third["error"]) == (1, None)
    made = client.get(f"/v1/events/{third['eventIds'][0]}").json()
    assert made["eventData"] == feed.records[1]


@pytest.mark.parametrize("answer", ["empty", "null"])
def test_an_answer_without_records_is_a_run_with_none(
    client: httpx.Client, event_type: str, answer: str
) -> None:
    with Feed([{"items": None}] if answer == "null" else RECORDS) as feed:
        pull = create_pull(client, feed, event_type)
        if answer == "empty":
            feed.mode = "empty"  # 204 No Content
        else:
            client.patch(f"/v1/pulls/{pull['id']}", json={"recordsPointer": "/data/0/items"})
        outcome = run(client, pull["id"])
    assert outcome["status"] == "succeeded", outcome
    assert (outcome["recordsSeen"], outcome["recordsNew"]) == (0, 0)
