"""A pull's password is encrypted at rest, never shown, and re-encrypted by
``tidings rotate-master-key`` (after which runs still authenticate)."""

from __future__ import annotations

from pathlib import Path

from tests.pulls.feed import Feed
from tests.pulls.test_pulls import create_pull, run
from tests.security.test_secrets_at_rest import _dump
from tests.support.databases import make_settings
from tests.support.partner import open_partner
from tests.support.processes import tidings
from tests.support.server import RunningServer

PASSWORD = "pull-password-never-stored-41"


def test_the_password_is_sealed_and_survives_rotation(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = make_settings(f"sqlite:///{data_dir / 'tidings.db'}", data_dir)
    with (
        RunningServer(settings) as server,
        open_partner(server, event_types=["booking.created"]) as partner,
        Feed([{"bookingId": "b1"}], password=PASSWORD) as feed,
    ):
        pull = create_pull(partner, feed, "booking.created", idPointer="/bookingId")
        assert PASSWORD not in str(pull) and pull["password"] == "****"
        url = server.settings.resolved_database_url()
        before = _dump(url)
        assert PASSWORD not in before
        result = tidings("rotate-master-key", "--data-dir", str(data_dir))
        assert result.code == 0, result.text
        assert "Re-encrypted 1 " in result.out
        after = _dump(url)
        assert PASSWORD not in after
        sealed = [line for line in after.splitlines() if pull["id"] in line and "enc:v1:" in line]
        assert sealed and not set(sealed) & set(before.splitlines())
        # The running server opens the password sealed under the new key.
        outcome = run(partner, pull["id"])
        assert outcome["status"] == "succeeded", outcome
        assert outcome["recordsNew"] == 1
        assert feed.password not in str(partner.logs.get(outcome["logId"]))
