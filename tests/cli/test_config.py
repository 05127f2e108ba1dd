"""Settings come from TIDINGS_* variables."""

from __future__ import annotations

import pytest

from tidings.config import Settings
from tidings.core.durations import parse_duration


def test_retry_schedule_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDINGS_RETRY_SCHEDULE", "1s,2s")
    assert Settings().retry_schedule == [1.0, 2.0]


def test_default_retry_schedule_matches_the_design(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIDINGS_RETRY_SCHEDULE", raising=False)
    assert Settings().retry_schedule == [
        5,
        60,
        300,
        900,
        3600,
        3 * 3600,
        6 * 3600,
        12 * 3600,
        86400,
    ]


def test_environment_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDINGS_BRAND", "PayData")
    monkeypatch.setenv("TIDINGS_ALLOW_PRIVATE_NETWORKS", "1")
    monkeypatch.setenv("TIDINGS_DATABASE_URL", "postgresql://postgres@127.0.0.1/x")
    settings = Settings()
    assert settings.brand == "PayData"
    assert settings.allow_private_networks is True
    assert settings.delivery_timeout == 15.0
    assert settings.max_body_bytes == 256 * 1024
    assert settings.resolved_database_url() == "postgresql+asyncpg://postgres@127.0.0.1/x"


def test_default_database_is_sqlite_in_the_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIDINGS_DATABASE_URL", raising=False)
    monkeypatch.delenv("TIDINGS_DATA_DIR", raising=False)
    assert Settings().resolved_database_url() == "sqlite+aiosqlite:///tidings-data/tidings.db"


@pytest.mark.parametrize(
    ("text", "seconds"), [("500ms", 0.5), ("5s", 5), ("1m", 60), ("3h", 10800), ("1d", 86400)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_bad_schedule_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIDINGS_RETRY_SCHEDULE", "1s,soon")
    with pytest.raises(ValueError, match="soon"):
        Settings()
