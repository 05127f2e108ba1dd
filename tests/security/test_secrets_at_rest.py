"""Secrets are encrypted at rest: no plaintext in any table, deliveries still carry the real
values, and the master key can be rotated under a running service."""

from __future__ import annotations

import asyncio
import base64
import stat
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from standardwebhooks.webhooks import Webhook

from tests.support.databases import make_settings
from tests.support.partner import open_account
from tests.support.processes import tidings
from tests.support.receiver import Receiver
from tests.support.server import RunningServer
from tidings.store.tables import metadata

HEADER_SECRET = "partner-header-secret-value-77"
PASSWORD = "basic-auth-password-91"
URL_PASSWORD = "url-embedded-password-53"


def _dump(url: str) -> str:
    """Every row of every table, as text."""

    async def main() -> str:
        engine = create_async_engine(url)
        parts: list[str] = []
        async with engine.connect() as conn:
            for table in metadata.sorted_tables:
                for row in await conn.execute(sa.select(table)):
                    parts.append(repr(tuple(row)))
        await engine.dispose()
        return "\n".join(parts)

    return asyncio.run(main())


def test_no_plaintext_secret_in_any_table(own_database: str, tmp_path: Path) -> None:
    settings = make_settings(own_database, tmp_path)
    with (
        RunningServer(settings) as server,
        open_account(server, event_types=["order.paid"]) as client,
        Receiver() as rx,
    ):
        hook = client.post(
            "/v1/webhooks",
            json={
                "url": rx.url,
                "headers": {"X-Partner-Secret": HEADER_SECRET},
                "username": "partner",
                "password": PASSWORD,
            },
        ).json()
        old_secret = hook["secret"]
        rolled = client.post(f"/v1/webhooks/{hook['id']}/secret/roll", json={"expiresIn": "1h"})
        new_secret = rolled.json()["secret"]
        url_hook = client.post(
            "/v1/webhooks",
            json={"url": rx.url.replace("127.0.0.1", f"user:{URL_PASSWORD}@127.0.0.1") + "2"},
        ).json()
        assert URL_PASSWORD not in str(url_hook)
        client.post("/v1/events", json={"eventType": "order.paid", "eventData": {"n": 1}})
        received = rx.wait(2)
        dump = _dump(server.settings.resolved_database_url())

    for secret in (old_secret, new_secret, HEADER_SECRET, PASSWORD, URL_PASSWORD):
        assert secret not in dump
        assert secret.removeprefix("whsec_") not in dump
    # ...while the receiver got the real values.
    by_path = {r.path: r for r in received}
    signed = by_path["/hook"]
    assert signed.headers["X-Partner-Secret"] == HEADER_SECRET
    expected = base64.b64encode(f"partner:{PASSWORD}".encode()).decode()
    assert signed.headers["Authorization"] == f"Basic {expected}"
    for secret in (old_secret, new_secret):
        Webhook(secret).verify(signed.body, signed.headers)
    from_url = by_path["/hook2"]
    expected = base64.b64encode(f"user:{URL_PASSWORD}".encode()).decode()
    assert from_url.headers["Authorization"] == f"Basic {expected}"


def test_key_file_is_private_and_announced(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    migrated = tidings("migrate", "--data-dir", str(data_dir))
    assert migrated.code == 0, migrated.text
    result = tidings("rotate-master-key", "--data-dir", str(data_dir))
    assert result.code == 0, result.text
    key_file = data_dir / "master.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_rotation_keeps_every_secret_readable(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = make_settings(f"sqlite:///{data_dir / 'tidings.db'}", data_dir)
    with (
        RunningServer(settings) as server,
        open_account(server, event_types=["order.paid"]) as client,
    ):
        hook = client.post(
            "/v1/webhooks",
            json={"url": "https://partner.example/hook", "headers": {"X-Sig": HEADER_SECRET}},
        ).json()
        before = _dump(server.settings.resolved_database_url())
        result = tidings("rotate-master-key", "--data-dir", str(data_dir))
        assert result.code == 0, result.text
        assert "Re-encrypted 1 webhooks" in result.out
        after = _dump(server.settings.resolved_database_url())
        assert before != after
        # The running server reads values sealed under the key it did not start with.
        secret = client.get(f"/v1/webhooks/{hook['id']}/secret")
        assert secret.json()["secret"] == hook["secret"]
        listed: dict[str, Any] = client.get(f"/v1/webhooks/{hook['id']}").json()
        assert listed["headers"]["X-Sig"].endswith(HEADER_SECRET[-4:])
    assert HEADER_SECRET not in after and hook["secret"] not in after
