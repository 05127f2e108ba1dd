"""Operations endpoints: /healthz says the process is up, /readyz that it can work."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx

from tests.support.databases import make_settings
from tests.support.server import RunningServer


def test_readyz_checks_database_migrations_and_worker(server: RunningServer) -> None:
    response = httpx.get(f"{server.base_url}/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "worker": "ok"},
    }
    assert httpx.get(f"{server.base_url}/healthz").json()["status"] == "ok"


def test_api_role_runs_no_worker(own_database: str, tmp_path: Path) -> None:
    settings = make_settings(own_database, tmp_path, role="api")
    with RunningServer(settings) as running:
        response = httpx.get(f"{running.base_url}/readyz")
    assert response.status_code == 200
    assert "worker" not in response.json()["checks"]


def test_readyz_is_503_when_the_schema_is_behind(tmp_path: Path) -> None:
    db_file = tmp_path / "tidings.db"
    settings = make_settings(f"sqlite:///{db_file}", tmp_path)
    with RunningServer(settings) as running:
        with sqlite3.connect(db_file) as conn:
            conn.execute("UPDATE alembic_version SET version_num = '0001'")
        response = httpx.get(f"{running.base_url}/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready"
    assert body["checks"]["migrations"].startswith("at 0001")


def test_readyz_stays_ready_when_a_newer_release_migrated_first(tmp_path: Path) -> None:
    # A rolling upgrade: the new release's `tidings migrate` ran; old processes keep serving.
    db_file = tmp_path / "tidings.db"
    settings = make_settings(f"sqlite:///{db_file}", tmp_path)
    with RunningServer(settings) as running:
        with sqlite3.connect(db_file) as conn:
            conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
        response = httpx.get(f"{running.base_url}/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["checks"]["migrations"] == "ok"


def test_metrics_in_prometheus_format(server: RunningServer, client: httpx.Client) -> None:
    assert client.post("/v1/event-types", json={"name": "metric.test"}).status_code == 201
    assert (
        client.post("/v1/events", json={"eventType": "metric.test", "eventData": {}}).status_code
        == 202
    )
    response = httpx.get(f"{server.base_url}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for name in (
        "tidings_events_published_total",
        "tidings_notifications_total",
        "tidings_attempt_duration_seconds_bucket",
        "tidings_due_notifications",
        "tidings_oldest_due_seconds",
        "tidings_open_circuit_breakers",
        "tidings_worker_heartbeat_age_seconds",
        "tidings_scheduler_leader",
        "tidings_notifications_in_flight",
        "tidings_leases_released_total",
        "tidings_database_up",
    ):
        assert name in text, name
    published = [
        line for line in text.splitlines() if line.startswith("tidings_events_published_total")
    ]
    assert float(published[0].split()[-1]) >= 1
