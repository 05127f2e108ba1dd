"""``/v1/logs``: every API call is recorded under the id sent back as ``X-Request-Id``,
filterable, newest first, scoped to the account; and a shutdown writes what is buffered."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from tests.support.clock import FakeClock
from tests.support.databases import make_settings
from tests.support.partner import client_with_key, create_account, eventually
from tests.support.server import RunningServer
from tidings.api.middleware.request_log import RequestLog, RequestRecord
from tidings.config import Settings
from tidings.core.clock import MICROS, to_iso
from tidings.core.crypto import Keyring, new_key
from tidings.core.ids import new_request_id
from tidings.runtime.context import Context
from tidings.services.logs import summary
from tidings.store.db import Database
from tidings.store.tables import logs

NOWHERE = "http://127.0.0.1:9"


def _request_id(response: httpx.Response) -> str:
    request_id = response.headers["X-Request-Id"]
    assert uuid.UUID(request_id).version == 7
    return request_id


def _log(client: httpx.Client, log_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/logs/{log_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _ids(client: httpx.Client, **params: Any) -> list[str]:
    """Every log id the filters match, newest first, following cursors."""
    ids: list[str] = []
    cursor = None
    while True:
        response = client.get("/v1/logs", params={**params, "limit": 250, "cursor": cursor})
        assert response.status_code == 200, response.text
        page = response.json()
        ids += [item["id"] for item in page["data"]]
        cursor = page["nextCursor"]
        if cursor is None:
            return ids


@pytest.fixture
def second(server: RunningServer) -> Iterator[tuple[str, httpx.Client]]:
    """Another account: its id and a client holding its key."""
    other = create_account(server.base_url, server.operator_key, "Logged Co")
    with client_with_key(server.base_url, other["key"]) as client:
        yield other["id"], client


# --- what is recorded ----------------------------------------------------------------------


def test_every_request_is_recorded_under_its_request_id(
    client: httpx.Client, account: dict[str, Any]
) -> None:
    answers = [
        client.get("/v1/webhooks", params={"limit": 5}),
        client.post("/v1/webhooks", json={"url": "not a url"}),
        client.get("/v1/webhooks/wh_missing"),
        client.delete("/v1/webhooks/wh_missing"),
    ]
    assert [a.status_code for a in answers] == [200, 422, 404, 404]
    key_id = client.get("/v1/api-keys").json()["data"][-1]["id"]
    for answer in answers:
        entry = _log(client, _request_id(answer))
        request = answer.request
        assert entry["id"] == answer.headers["X-Request-Id"]
        assert entry["method"] == request.method
        assert entry["path"] == request.url.path
        assert entry["statusCode"] == answer.status_code
        assert entry["outcome"] == ("succeeded" if answer.status_code == 200 else "failed")
        assert entry["type"] == "normal"
        assert entry["accountId"] == account["id"]
        assert entry["keyId"] == key_id
        assert entry["clientIp"] == "127.0.0.1"
        assert entry["durationMs"] >= 0
        assert entry["createdAt"].endswith("Z")
        assert entry["eventIds"] == []
    listed = _log(client, _request_id(answers[0]))
    assert listed["query"] == "limit=5"
    assert listed["responseBody"] == answers[0].text


def test_the_whole_record_has_headers_and_bodies(client: httpx.Client) -> None:
    answer = client.post("/v1/event-types", json={"name": "booking.created", "category": "Booking"})
    assert answer.status_code == 201, answer.text
    entry = _log(client, _request_id(answer))
    assert entry["requestBody"] == '{"name":"booking.created","category":"Booking"}'
    assert answer.json()["name"] in entry["responseBody"]
    headers = entry["requestHeaders"]
    assert headers["content-type"] == "application/json"
    assert headers["x-api-key"].startswith("sk_****")
    assert client.headers["X-Api-Key"] not in str(headers)


def test_a_list_shows_no_bodies(client: httpx.Client) -> None:
    answer = client.get("/v1/webhooks")
    listed = client.get("/v1/logs", params={"limit": 250}).json()["data"]
    item = next(i for i in listed if i["id"] == _request_id(answer))
    assert "requestBody" not in item and "responseBody" not in item
    assert "requestHeaders" not in item
    assert item["statusCode"] == 200


def test_unauthenticated_calls_are_recorded_for_the_operator(
    server: RunningServer, operator: httpx.Client, client: httpx.Client
) -> None:
    missing = httpx.get(f"{server.base_url}/v1/webhooks")
    wrong = httpx.get(f"{server.base_url}/v1/webhooks", headers={"X-Api-Key": "sk_" + "x" * 40})
    for answer in (missing, wrong):
        assert answer.status_code == 401
        entry = _log(operator, _request_id(answer))
        assert entry["statusCode"] == 401
        assert entry["outcome"] == "failed"
        assert entry["keyId"] is None and entry["accountId"] is None
        # A 401 belongs to no account: an account never sees it.
        assert client.get(f"/v1/logs/{entry['id']}").status_code == 404


def test_unknown_paths_and_guard_refusals_are_recorded(
    client: httpx.Client, operator: httpx.Client, event_type: str
) -> None:
    unknown = client.get("/v1/no-such-thing")
    too_big = client.post(
        "/v1/events",
        content=b'{"eventType": "payment.updated", "eventData": "' + b"x" * 300_000 + b'"}',
        headers={"Content-Type": "application/json"},
    )
    nul = client.get("/v1/webhooks", params={"status": "Active\x00"})
    assert (unknown.status_code, too_big.status_code, nul.status_code) == (404, 413, 400)
    # Refused before authentication: no account's, so the operator's to see.
    for answer in (unknown, too_big, nul):
        entry = _log(operator, _request_id(answer))
        assert entry["statusCode"] == answer.status_code
        assert entry["accountId"] is None
        assert client.get(f"/v1/logs/{entry['id']}").status_code == 404
    assert _log(operator, _request_id(unknown))["path"] == "/v1/no-such-thing"
    assert _log(operator, _request_id(nul))["query"] == "status=Active%00"


def test_stored_bodies_are_cut_to_16_kib(client: httpx.Client, event_type: str) -> None:
    answer = client.post(
        "/v1/events",
        json={
            "eventType": event_type,
            "eventData": {"paymentId": "p", "status": "pending", "note": "y" * 40_000},
        },
    )
    entry = _log(client, _request_id(answer))
    assert len(entry["requestBody"].encode()) == 16 * 1024
    assert entry["requestBody"].startswith('{"eventType":"payment.updated"')


def test_the_events_a_request_published_are_listed(client: httpx.Client, event_type: str) -> None:
    answer = client.post(
        "/v1/events",
        json={"eventType": event_type, "eventData": {"paymentId": "p1", "status": "pending"}},
    )
    assert answer.status_code == 202, answer.text
    entry = _log(client, _request_id(answer))
    assert entry["eventIds"] == [answer.json()["id"]]
    assert entry["outcome"] == "succeeded"


def test_other_paths_are_not_recorded(server: RunningServer, operator: httpx.Client) -> None:
    health = httpx.get(f"{server.base_url}/healthz")
    assert health.status_code == 200
    assert "X-Request-Id" not in health.headers


def test_an_unhandled_error_is_a_recorded_500_with_a_request_id(tmp_path: Path) -> None:
    """The one answer no test server gives on purpose: a crash inside a route."""
    app = FastAPI()

    @app.get("/v1/boom")
    async def boom() -> None:
        raise RuntimeError("boom")

    app.add_middleware(RequestLog)
    ctx = Context(
        settings=Settings(),
        db=Database(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}"),
        keyring=Keyring(new_key()),
    )
    app.state.ctx = ctx

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=("10.0.0.7", 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await http.get("/v1/boom")

    answer = asyncio.run(call())
    assert answer.status_code == 500
    assert answer.json()["error"]["type"] == "internal_error"
    row = ctx.request_log.find(_request_id(answer))
    assert row is not None
    assert (row["status_code"], row["outcome"], row["client_ip"]) == (500, "failed", "10.0.0.7")


# --- filters, order, pages -----------------------------------------------------------------


@pytest.fixture
def mixed(client: httpx.Client) -> dict[str, str]:
    """A few calls of every kind, by name; ids are time-sortable, so space them a little."""
    calls = {
        "list": lambda: client.get("/v1/webhooks"),
        "get_missing": lambda: client.get("/v1/webhooks/wh_missing"),
        "create_type": lambda: client.post("/v1/event-types", json={"name": "invoice.paid"}),
        "delete_missing": lambda: client.delete("/v1/webhooks/wh_gone"),
        "list_types": lambda: client.get("/v1/event-types"),
    }
    ids = {}
    for name, call in calls.items():
        ids[name] = _request_id(call())
        time.sleep(0.002)
    return ids


def test_status_filter(client: httpx.Client, mixed: dict[str, str]) -> None:
    mine = set(mixed.values())
    succeeded = _ids(client, status="succeeded")
    failed = _ids(client, status="failed")
    assert mine & set(succeeded) == {mixed["list"], mixed["create_type"], mixed["list_types"]}
    assert mine & set(failed) == {mixed["get_missing"], mixed["delete_missing"]}
    assert mine <= set(_ids(client, status="all"))
    assert mine <= set(_ids(client))
    for item in client.get("/v1/logs", params={"status": "failed"}).json()["data"]:
        assert item["outcome"] == "failed" and not 200 <= item["statusCode"] < 300
    assert client.get("/v1/logs", params={"status": "broken"}).status_code == 422


def test_type_filter(client: httpx.Client, mixed: dict[str, str]) -> None:
    assert set(mixed.values()) <= set(_ids(client, type="normal"))
    assert _ids(client, type="sync") == []
    assert client.get("/v1/logs", params={"type": "other"}).status_code == 422


def test_path_prefix_filter(
    client: httpx.Client, server: RunningServer, mixed: dict[str, str]
) -> None:
    webhooks = {mixed["list"], mixed["get_missing"], mixed["delete_missing"]}
    assert set(_ids(client, path="/v1/webhooks")) == webhooks
    assert set(_ids(client, path="/v1/web")) == webhooks
    assert set(_ids(client, path="/v1/webhooks/wh_")) == {
        mixed["get_missing"],
        mixed["delete_missing"],
    }
    # As a partner pastes it: without the slash, or the whole URL.
    assert set(_ids(client, path="v1/webhooks")) == webhooks
    assert set(_ids(client, path=f"{server.base_url}/v1/webhooks?x=1")) == webhooks
    # Exact characters: no wildcard, no case folding.
    assert _ids(client, path="/v1/webhooks%") == []
    assert _ids(client, path="/v1/web_ooks") == []
    assert _ids(client, path="/V1/webhooks") == []


def test_method_filter(client: httpx.Client, mixed: dict[str, str]) -> None:
    assert _ids(client, method="DELETE") == [mixed["delete_missing"]]
    assert _ids(client, method="post") == _ids(client, method="POST")
    assert mixed["create_type"] in _ids(client, method="POST")
    assert _ids(client, method="PATCH") == []
    assert client.get("/v1/logs", params={"method": "G E T"}).status_code == 422


def test_filters_combine(client: httpx.Client, mixed: dict[str, str]) -> None:
    assert _ids(client, path="/v1/webhooks", status="succeeded") == [mixed["list"]]
    assert _ids(client, path="/v1/webhooks", method="GET", status="failed") == [
        mixed["get_missing"]
    ]


def test_newest_first_and_cursor_pages(client: httpx.Client) -> None:
    made = []
    for n in range(7):
        made.append(_request_id(client.get(f"/v1/webhooks/wh_page{n}")))
        time.sleep(0.002)
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"path": "/v1/webhooks/wh_page", "limit": 3}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/v1/logs", params=params).json()
        pages += 1
        assert len(page["data"]) <= 3
        seen += [item["id"] for item in page["data"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == list(reversed(made))
    times = [client.get(f"/v1/logs/{i}").json()["createdAt"] for i in seen]
    assert times == sorted(times, reverse=True)
    assert client.get("/v1/logs", params={"limit": 0}).status_code == 422
    assert client.get("/v1/logs", params={"limit": 251}).status_code == 422


# --- time range, with a clock the test sets --------------------------------------------------


@pytest.fixture(scope="module")
def clocked(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A second server on the same database whose clock the test sets."""
    # No retention here: with a clock of its own, it would judge other tests' rows by it.
    settings = make_settings(backend, tmp_path_factory.mktemp("clocked"), retention_interval=0)
    clock = FakeClock()
    with RunningServer(settings, clock=clock) as running:
        yield running


def test_from_and_to_filter_on_the_time_of_the_call(
    clocked: RunningServer, account: dict[str, Any]
) -> None:
    assert isinstance(clocked.clock, FakeClock)
    base = clocked.clock.now()
    made = {}
    with client_with_key(clocked.base_url, account["key"]) as client:
        for hour in (1, 2, 3):
            clocked.clock.set(base + hour * 3600 * MICROS)
            made[hour] = _request_id(client.get("/v1/webhooks"))
        clocked.clock.set(base + 4 * 3600 * MICROS)

        def at(hour: int) -> str:
            return str(to_iso(base + hour * 3600 * MICROS))

        assert _log(client, made[2])["createdAt"] == at(2)
        mine = set(made.values())
        assert mine & set(_ids(client, **{"from": at(2)})) == {made[2], made[3]}
        assert mine & set(_ids(client, to=at(2))) == {made[1]}
        assert mine & set(_ids(client, **{"from": at(2), "to": at(3)})) == {made[2]}
        # Any offset: the same instant as at(2), written in UTC+2.
        plus_two = datetime.fromtimestamp(
            (base + 2 * 3600 * MICROS) / MICROS, tz=timezone(timedelta(hours=2))
        )
        assert mine & set(_ids(client, **{"from": plus_two.isoformat()})) == {made[2], made[3]}
        assert client.get("/v1/logs", params={"from": "yesterday"}).status_code == 422


# --- who sees what -------------------------------------------------------------------------


def test_an_account_sees_only_its_own_logs(
    client: httpx.Client,
    second: tuple[str, httpx.Client],
    operator: httpx.Client,
    account: dict[str, Any],
) -> None:
    second_id, other = second
    mine = _request_id(client.get("/v1/webhooks/wh_scoped_a"))
    theirs = _request_id(other.get("/v1/webhooks/wh_scoped_b"))
    assert _ids(client, path="/v1/webhooks/wh_scoped") == [mine]
    assert _ids(other, path="/v1/webhooks/wh_scoped") == [theirs]
    # Another account's log is not found, exactly like an id that does not exist.
    assert client.get(f"/v1/logs/{theirs}").status_code == 404
    assert other.get(f"/v1/logs/{mine}").status_code == 404
    assert client.get(f"/v1/logs/{uuid.uuid4()}").status_code == 404
    # An operator key acting for an account sees that account's logs only.
    as_first = {"Tidings-Account": account["id"]}
    listed = operator.get("/v1/logs", params={"path": "/v1/webhooks/wh_scoped"}, headers=as_first)
    assert [i["id"] for i in listed.json()["data"]] == [mine]
    assert operator.get(f"/v1/logs/{theirs}", headers=as_first).status_code == 404
    # Without Tidings-Account, the operator sees every account's.
    everyone = _ids(operator, path="/v1/webhooks/wh_scoped")
    assert everyone == [theirs, mine]
    assert _log(operator, theirs)["accountId"] == second_id


def test_an_operator_call_for_an_account_is_in_that_accounts_log(
    operator: httpx.Client, client: httpx.Client, account: dict[str, Any]
) -> None:
    answer = operator.get("/v1/webhooks", headers={"Tidings-Account": account["id"]})
    entry = _log(client, _request_id(answer))
    assert entry["accountId"] == account["id"]
    assert entry["keyId"] is not None
    assert entry["keyId"] != client.get("/v1/api-keys").json()["data"][-1]["id"]


# --- a graceful shutdown writes the buffer -------------------------------------------------


async def _stored_ids(url: str, ids: list[str]) -> set[str]:
    db = Database(url)
    try:
        async with db.read() as conn:
            rows = await conn.execute(sa.select(logs.c.id).where(logs.c.id.in_(ids)))
            return set(rows.scalars())
    finally:
        await db.dispose()


def test_a_graceful_shutdown_writes_every_answered_request(
    backend: str, tmp_path: Path, account: dict[str, Any]
) -> None:
    settings = make_settings(backend, tmp_path)
    url = settings.resolved_database_url()
    running = RunningServer(settings)
    with running:
        writer = running._server.config.app.state.ctx.request_log
        # Hold the batches back, so that only the shutdown can write these. The loop picks the
        # new interval up once its current wait ends and it writes what it holds: a request's
        # record written means the loop has gone round, and waits an hour from then on.
        writer.interval = 3600.0
        writer.batch_size = 10**6
        probe = _request_id(httpx.get(f"{running.base_url}/v1/events"))
        eventually(lambda: asyncio.run(_stored_ids(url, [probe])) == {probe}, what="a write")
        answered = []
        with client_with_key(running.base_url, account["key"]) as client:
            for n in range(40):
                answer = (
                    client.get(f"/v1/webhooks/wh_{n}")
                    if n % 2
                    else client.post("/v1/webhooks", json={"url": NOWHERE + f"/{n}"})
                )
                answered.append(_request_id(answer))
        answered.append(_request_id(httpx.get(f"{running.base_url}/v1/events")))
        assert asyncio.run(_stored_ids(url, answered)) == set()
    assert asyncio.run(_stored_ids(url, answered)) == set(answered)


# --- the summary an event shows of its request ----------------------------------------------


def test_find_log_sees_buffered_and_written_records(backend: str, tmp_path: Path) -> None:
    settings = make_settings(backend, tmp_path)
    ctx = Context(
        settings=settings, db=Database(settings.resolved_database_url()), keyring=Keyring(new_key())
    )
    record = RequestRecord(
        id=new_request_id(),
        created_at=ctx.clock.now(),
        method="POST",
        path="/v1/events",
        raw_query="",
        client_ip="127.0.0.1",
        headers=[],
        state={"account_id": "acc_find", "key_id": "key_find"},
    )
    record.finish(202)

    async def run() -> list[dict[str, Any] | None]:
        ctx.request_log.start(ctx.db)
        try:
            ctx.request_log.batch_size = 10**6
            ctx.request_log.interval = 3600.0
            ctx.request_log.push(record)
            async with ctx.db.read() as conn:
                found = [
                    await summary(conn, record.id, None),
                    await summary(conn, record.id, "acc_other"),
                ]
            await ctx.request_log.flush()
            async with ctx.db.read() as conn:
                found.append(await summary(conn, record.id, "acc_find"))
                found.append(await summary(conn, record.id, "acc_other"))
                found.append(await summary(conn, str(uuid.uuid4()), None))
            return found
        finally:
            await ctx.request_log.stop()
            await ctx.db.dispose()

    buffered, other_buffered, written, other_written, missing = asyncio.run(run())
    assert buffered is not None and written is not None
    assert buffered == written
    assert buffered == {
        "id": record.id,
        "method": "POST",
        "path": "/v1/events",
        "status_code": 202,
        "created_at": to_iso(record.created_at),
    }
    assert other_buffered is None and other_written is None and missing is None
