"""Nothing accepted is lost when a process, the database or the machine fails.

Real ``tidings serve`` processes (tests/support/processes.py) on a database of their own, a
real receiver on loopback, and the database read directly to check what was recorded. Run
alone with ``pytest -m resilience``. A test that cannot have PostgreSQL or cannot restart it
skips saying why, or fails when TIDINGS_REQUIRE_POSTGRES=1 (as in CI).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest

from tests.support.databases import PG_URL, fresh_database, unavailable
from tests.support.partner import create_webhook, eventually, open_account_at, publish
from tests.support.processes import (
    OPERATOR_KEY,
    Cluster,
    Process,
    notification_id,
    publish_many,
    query,
)
from tests.support.receiver import Receiver, Reply, sooner_than_rate

pytestmark = [pytest.mark.resilience, pytest.mark.timeout(300)]

EVENT_TYPES = ["order.created", "order.paid", "order.shipped", "order.refunded"]
EVENTS = 5000


@pytest.fixture
def pg(postgres_url: str, tmp_path: Path) -> Iterator[str]:
    """A PostgreSQL database for this test alone (skips or fails as the suite's does)."""
    with fresh_database("postgresql", tmp_path) as url:
        yield url


@pytest.fixture
def sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'tidings.db'}"


def subscribe(client: httpx.Client, receiver: Receiver, **fields: Any) -> list[str]:
    """One webhook per event type, each on its own path of the receiver."""
    return [
        create_webhook(client, f"{receiver.url}/{index}", eventTypes=[name], **fields)["id"]
        for index, name in enumerate(EVENT_TYPES)
    ]


def expected_ids(accepted: dict[str, list[str]]) -> set[str]:
    return {n for notifications in accepted.values() for n in notifications}


def received(receiver: Receiver) -> Counter[str]:
    return Counter(notification_id(r.headers) for r in list(receiver.requests))


def statuses(database_url: str) -> dict[str, int]:
    return dict(query(database_url, "SELECT status, count(*) FROM notifications GROUP BY status"))


def wait_all_succeeded(database_url: str, count: int, cluster: Cluster, timeout: float) -> None:
    try:
        eventually(
            lambda: statuses(database_url).get("succeeded") == count,
            timeout,
            f"{count} notifications succeeded",
        )
    except AssertionError:
        raise AssertionError(f"{statuses(database_url)}\n{cluster.logs()}") from None


def succeeded_in_database(database_url: str) -> set[str]:
    return {
        row[0]
        for row in query(database_url, "SELECT id FROM notifications WHERE status = 'succeeded'")
    }


def duplicate_successes(database_url: str) -> list[tuple[Any, ...]]:
    return query(
        database_url,
        "SELECT notification_id, count(*) FROM attempts WHERE outcome = 'succeeded' "
        "GROUP BY notification_id HAVING count(*) > 1",
    )


def leases_held(database_url: str) -> int:
    rows = query(
        database_url,
        "SELECT count(*) FROM notifications WHERE leased_by IS NOT NULL AND status = 'pending'",
    )
    return int(rows[0][0])


def publish_in_background(
    base_url: str, api_key: str, count: int, **options: Any
) -> tuple[threading.Thread, dict[str, list[str]]]:
    accepted: dict[str, list[str]] = {}
    failure: list[BaseException] = []

    def run() -> None:
        try:
            accepted.update(publish_many(base_url, api_key, EVENT_TYPES, count, **options))
        except BaseException as exc:  # reported by the caller
            failure.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.failure = failure  # type: ignore[attr-defined]
    return thread, accepted


def join(thread: threading.Thread, timeout: float = 180.0) -> None:
    thread.join(timeout)
    assert not thread.is_alive(), "publishing did not finish"
    failure = thread.failure  # type: ignore[attr-defined]
    if failure:
        raise failure[0]


def api_key(client: httpx.Client) -> str:
    return str(client.headers["X-Api-Key"])


# --- scale-out on PostgreSQL -------------------------------------------------------------------


def test_three_workers_deliver_every_notification_exactly_once(pg: str, tmp_path: Path) -> None:
    with Receiver() as receiver, Cluster(pg, tmp_path) as cluster:
        api = cluster.start("api")
        workers = [cluster.start("worker") for _ in range(3)]
        client = open_account_at(api.base_url, OPERATOR_KEY, "Resilient", EVENT_TYPES)
        subscribe(client, receiver)

        accepted = publish_many(api.base_url, api_key(client), EVENT_TYPES, EVENTS)
        expected = expected_ids(accepted)
        assert len(expected) == EVENTS
        wait_all_succeeded(pg, EVENTS, cluster, timeout=120)

        got = received(receiver)
        assert set(got) == expected
        assert [n for n, times in got.items() if times > 1] == []
        assert duplicate_successes(pg) == []
        assert succeeded_in_database(pg) == expected
        # The three really shared the work.
        per_worker = [w.metric("tidings_attempts_total") for w in workers]
        assert sum(per_worker) == EVENTS, per_worker
        assert all(n > 0 for n in per_worker), per_worker


def test_killed_worker_loses_nothing_and_duplicates_only_its_leases(
    pg: str, tmp_path: Path
) -> None:
    with Receiver() as receiver, Cluster(pg, tmp_path) as cluster:
        api = cluster.start("api")
        victim = cluster.start("worker")
        others = [cluster.start("worker") for _ in range(2)]
        client = open_account_at(api.base_url, OPERATOR_KEY, "Resilient", EVENT_TYPES)
        subscribe(client, receiver)

        thread, accepted = publish_in_background(api.base_url, api_key(client), EVENTS)
        held_at_kills: set[str] = set()
        for round_ in range(3):
            eventually(
                lambda r=round_: len(receiver.requests) >= (r + 1) * EVENTS // 5,
                90,
                "deliveries under way",
            )
            worker_id = victim.worker_ids()[-1]
            victim.kill()
            # What the dead worker had claimed and not recorded: the only candidates for a
            # second delivery.
            held = query(pg, f"SELECT id FROM notifications WHERE leased_by = '{worker_id}'")
            held_at_kills |= {row[0] for row in held}
            cluster.restart(victim)
        join(thread)
        expected = expected_ids(accepted)
        assert len(expected) == EVENTS
        # The dead worker's leases run out (TIDINGS_LEASE_SECONDS=10) and others take them.
        wait_all_succeeded(pg, EVENTS, cluster, timeout=120)

        got = received(receiver)
        assert set(got) == expected == succeeded_in_database(pg)
        duplicated = {n for n, times in got.items() if times > 1}
        assert duplicated <= held_at_kills
        assert sum(got.values()) - len(got) <= len(held_at_kills)
        assert all(w.running for w in others)


def test_database_restart_mid_run_loses_nothing(pg: str, tmp_path: Path) -> None:
    restart = _pg_restart_command()
    with Receiver() as receiver, Cluster(pg, tmp_path) as cluster:
        api = cluster.start("api")
        worker = cluster.start("worker")
        cluster.start("worker")
        client = open_account_at(api.base_url, OPERATOR_KEY, "Resilient", EVENT_TYPES)
        subscribe(client, receiver)

        readiness: list[int] = []
        watching = threading.Event()
        watching.set()

        def watch() -> None:
            while watching.is_set():
                try:
                    readiness.append(httpx.get(f"{worker.base_url}/readyz", timeout=2).status_code)
                except httpx.HTTPError:
                    readiness.append(0)
                time.sleep(0.02)

        count = EVENTS // 2
        thread, accepted = publish_in_background(api.base_url, api_key(client), count)
        eventually(lambda: len(receiver.requests) >= count // 4, 60, "deliveries under way")
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        subprocess.run(restart, check=True, capture_output=True, timeout=60)
        join(thread)
        expected = expected_ids(accepted)
        assert len(expected) == count
        # Nobody restarts the processes: they reconnect by themselves.
        wait_all_succeeded(pg, count, cluster, timeout=120)
        eventually(lambda: readiness[-1] == 200, 30, "ready again")
        watching.clear()
        watcher.join(5)

        assert set(received(receiver)) == expected == succeeded_in_database(pg)
        assert 503 in readiness, "readyz never reported the database away"
        assert all(p.running for p in cluster.processes)


def _pg_restart_command() -> list[str]:
    """``pg_ctlcluster <version> <name> restart`` for the server the tests use, or a skip
    saying why it cannot be controlled from here (a failure with TIDINGS_REQUIRE_POSTGRES=1)."""
    target = urlparse(PG_URL)
    if target.hostname not in ("127.0.0.1", "localhost", "::1"):
        unavailable(f"the test PostgreSQL at {target.hostname} is not on this machine")
    if shutil.which("pg_ctlcluster") is None or shutil.which("pg_lsclusters") is None:
        unavailable("pg_ctlcluster is not installed: cannot restart PostgreSQL from here")
    if os.geteuid() != 0:
        unavailable("restarting PostgreSQL with pg_ctlcluster needs root")
    listing = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True
    ).stdout
    for line in listing.splitlines():
        version, name, port, status, *_ = line.split()
        if int(port) == (target.port or 5432) and status == "online":
            return ["pg_ctlcluster", version, name, "restart"]
    unavailable(f"no online cluster on port {target.port or 5432} in pg_lsclusters")


def test_one_scheduler_at_a_time_and_another_takes_over(pg: str, tmp_path: Path) -> None:
    with Cluster(pg, tmp_path, retention_interval="1") as cluster:
        first = cluster.start("scheduler")
        second = cluster.start("scheduler")

        def leaders() -> list[Process] | None:
            found = [p for p in (first, second) if p.metric("tidings_scheduler_leader") == 1]
            return found if found else None

        leading = eventually(leaders, what="a scheduler leading")
        time.sleep(2.5)  # both have gone round their loop more than once
        assert leaders() == leading and len(leading) == 1
        standby = second if leading[0] is first else first
        leading[0].kill()
        eventually(
            lambda: standby.metric("tidings_scheduler_leader") == 1, what="the standby leading"
        )


def test_publishing_wakes_a_worker_in_another_process(pg: str, tmp_path: Path) -> None:
    # With a 10-minute poll, only LISTEN/NOTIFY can bring the delivery within the half minute
    # (far more than it takes even on a loaded machine) the test waits for it.
    with Receiver() as receiver, Cluster(pg, tmp_path, worker_poll_interval="600") as cluster:
        api = cluster.start("api")
        cluster.start("worker")
        client = open_account_at(api.base_url, OPERATOR_KEY, "Resilient", EVENT_TYPES)
        subscribe(client, receiver)
        time.sleep(1.5)  # the worker is idle, asleep until its next poll
        for round_ in range(3):
            started = time.monotonic()
            publish(client, "order.paid", {"n": round_})
            receiver.wait(round_ + 1, timeout=30)
            assert time.monotonic() - started < 30
            time.sleep(1.0)


def test_webhook_concurrency_and_order_hold_across_workers(pg: str, tmp_path: Path) -> None:
    with (
        # Each answer takes a second: time enough for the cap to fill on any machine.
        Receiver(default=Reply(delay=1.0)) as receiver,
        Cluster(pg, tmp_path, webhook_concurrency="3") as cluster,
    ):
        api = cluster.start("api")
        cluster.start("worker")
        cluster.start("worker")
        client = open_account_at(api.base_url, OPERATOR_KEY, "Resilient", EVENT_TYPES)
        create_webhook(client, f"{receiver.url}/plain", eventTypes=["order.created"])
        for n in range(24):
            publish(client, "order.created", {"n": n})
        receiver.wait(24, timeout=60)
        assert receiver.max_in_flight == 3

        receiver.default = Reply()
        create_webhook(client, f"{receiver.url}/ordered", eventTypes=["order.paid"], ordered=True)
        for n in range(30):
            publish(client, "order.paid", {"n": n})
        receiver.wait(24 + 30, timeout=60)
        seen = [r.body for r in receiver.requests if r.path.endswith("/ordered")]
        assert [_n(body) for body in seen] == list(range(30))

        create_webhook(
            client, f"{receiver.url}/limited", eventTypes=["order.shipped"], rateLimit=10
        )
        limited_from = time.monotonic()
        for n in range(30):
            publish(client, "order.shipped", {"n": n})
        receiver.wait(24 + 30 + 30, timeout=60)
        got = [r for r in receiver.requests if r.path.endswith("/limited")]
        # 10 a second between them, whichever worker sent each: the n-th no sooner than n/10 s
        # after the first publish (30 take about 3 s; unlimited, they would come at once).
        assert len(got) == 30
        assert sooner_than_rate(got, 10, since=limited_from) == []


def _n(body: bytes) -> int:
    return int(json.loads(body)["eventData"]["n"])


# --- crashes and stops ------------------------------------------------------------------------


def test_sqlite_process_killed_mid_run_loses_nothing(sqlite: str, tmp_path: Path) -> None:
    count = 2000
    with (
        Receiver(default=Reply(delay=0.02)) as receiver,
        Cluster(sqlite, tmp_path) as cluster,
    ):
        process = cluster.start("all")
        client = open_account_at(process.base_url, OPERATOR_KEY, "Resilient", EVENT_TYPES)
        subscribe(client, receiver)
        thread, accepted = publish_in_background(process.base_url, api_key(client), count)
        eventually(lambda: len(receiver.requests) >= count // 5, 60, "deliveries under way")
        process.kill()
        time.sleep(0.5)
        cluster.restart(process)
        join(thread)
        expected = expected_ids(accepted)
        assert len(expected) == count
        wait_all_succeeded(sqlite, count, cluster, timeout=120)
        assert set(received(receiver)) == expected == succeeded_in_database(sqlite)


def test_sqlite_killed_with_handed_off_notifications_in_flight_loses_none(
    sqlite: str, tmp_path: Path
) -> None:
    """Notifications a publish handed straight to its worker (written leased, never claimed)
    are delivered after a kill -9 once their lease runs out, like claimed ones."""
    with (
        Receiver() as receiver,
        Cluster(sqlite, tmp_path, delivery_timeout="2", lease_seconds="8") as cluster,
    ):
        process = cluster.start("all")
        client = open_account_at(process.base_url, OPERATOR_KEY, "Resilient", ["order.paid"])
        create_webhook(client, f"{receiver.url}/hook")
        first = publish(client, "order.paid", {"n": 0})["notifications"][0]["id"]
        eventually(lambda: statuses(sqlite).get("succeeded") == 1, 30, "the first delivery")
        # The receiver now hangs: what is handed over next is in flight when the process dies.
        receiver.default = Reply(delay=60.0)
        handed = process.metric("tidings_notifications_handed_off_total")
        ids = [first]
        for n in range(1, 6):
            ids += [publish(client, "order.paid", {"n": n})["notifications"][0]["id"]]
        eventually(lambda: len(receiver.requests) >= 6, 30, "five deliveries in flight")
        assert process.metric("tidings_notifications_handed_off_total") - handed == 5
        process.kill()
        receiver.default = Reply()
        cluster.restart(process)
        wait_all_succeeded(sqlite, 6, cluster, timeout=90)
        assert set(received(receiver)) == set(ids) == succeeded_in_database(sqlite)


@pytest.mark.parametrize("database", ["sqlite", "pg"])
def test_sigterm_mid_run_exits_zero_in_time_and_hands_back_leases(
    database: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = str(request.getfixturevalue(database))
    count = 200
    # Every answer takes a minute (and the deliveries may wait that long); the process gets 1 s
    # to finish: the deliveries in flight cannot, and are handed back.
    with (
        Receiver(default=Reply(delay=60.0)) as receiver,
        Cluster(
            url, tmp_path, shutdown_grace="1", delivery_timeout="60", lease_seconds="90"
        ) as cluster,
    ):
        process = cluster.start("all")
        client = open_account_at(process.base_url, OPERATOR_KEY, "Resilient", EVENT_TYPES)
        subscribe(client, receiver)
        accepted = publish_many(process.base_url, api_key(client), EVENT_TYPES, count)
        eventually(lambda: receiver.max_in_flight >= 20, 30, "deliveries in flight")

        code, took = process.terminate(signal.SIGTERM)
        assert code == 0, process.log_tail()
        # 1 s for open requests, 1 s for the deliveries, and the last writes: a few seconds,
        # where waiting the deliveries out would take a minute.
        assert took < 30, took
        assert leases_held(url) == 0
        stopped = [line for line in process.log_lines() if line.get("event") == "worker stopped"]
        assert stopped and stopped[-1]["released"] > 0

        receiver.default = Reply()
        cluster.restart(process)
        wait_all_succeeded(url, count, cluster, timeout=90)
        assert set(received(receiver)) == expected_ids(accepted) == succeeded_in_database(url)


def test_sigint_exits_zero(sqlite: str, tmp_path: Path) -> None:
    with Cluster(sqlite, tmp_path) as cluster:
        process = cluster.start("all")
        code, took = process.terminate(signal.SIGINT)
        assert code == 0, process.log_tail()
        assert took < 30, took
