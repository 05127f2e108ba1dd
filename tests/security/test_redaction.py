"""No secret reaches the API log: after calls that create keys, webhooks with secrets, custom
headers and URL credentials, and that send keys in headers, queries and bodies, no stored
log row holds any of them."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa

from tests.support.server import RunningServer
from tidings.core import redact
from tidings.store.db import Database
from tidings.store.tables import logs

NOWHERE = "127.0.0.1:9"
HEADER_SECRET = "hdr-Secret-Value-1234567890"
URL_PASSWORD = "url-Pass-Word-0987654321"
BODY_PASSWORD = "body-Hunter2-Password-555"
BASIC_PASSWORD = "basic-Auth-Password-777"


# --- the redaction rules -------------------------------------------------------------------


def test_json_secrets_are_redacted_by_name_and_shape() -> None:
    key = "sk_" + "A1b2C3d4" * 5
    body = {
        "name": "backend",
        "key": key,
        "apiKey": "anything",
        "API_KEY": "anything",
        "Password": "hunter2",
        "clientSecret": {"nested": "x"},
        "accessToken": 12345,
        "webhook": {
            "url": "https://user:pw@example.com/hook",
            "headers": {"X-Partner": "plain-looking", "Authorization": "Basic abc"},
            "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        },
        "note": f"the key {key} was used",
        "expiresAt": None,
        "idempotencyKey": "order-42",
    }
    out = json.loads(redact.redact_body(json.dumps(body).encode()) or "")
    assert out["name"] == "backend"
    assert out["key"] == "sk_****" + key[-4:]
    assert out["apiKey"] == out["API_KEY"] == out["Password"] == redact.REDACTED
    assert out["clientSecret"] == out["accessToken"] == redact.REDACTED
    assert out["webhook"]["url"] == "https://****:****@example.com/hook"
    assert out["webhook"]["headers"] == {
        "X-Partner": redact.REDACTED,
        "Authorization": "[REDACTED]",
    }
    assert out["webhook"]["secret"] == "whsec_****LaSw"
    assert out["note"] == f"the key sk_****{key[-4:]} was used"
    assert out["expiresAt"] is None
    assert out["idempotencyKey"] == "order-42"


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("password=hunter2&name=x", "hunter2"),
        ('{"token": "abc123xyz", "broken', "abc123xyz"),
        ("call with op_abcdefghijklmnop please", "abcdefghijklmnop"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", "eyJhbGciOiJIUzI1NiJ9"),
        ("see ftp://bob:s3cretpw@files.example.com/x", "s3cretpw"),
        ("rk_ABCDEFGH12345678 and pk_ABCDEFGH12345678", "ABCDEFGH1234"),
    ],
)
def test_text_secrets_are_redacted(text: str, hidden: str) -> None:
    assert hidden not in (redact.redact_body(text.encode()) or "")


def test_query_strings_are_redacted() -> None:
    key = "sk_" + "Zz9" * 14
    query = f"limit=5&api_key={key}&token=t0k&q={quote(key)}&next=https%3A%2F%2Fu%3Ap%40h%2F"
    out = redact.redact_query(query) or ""
    assert out.startswith("limit=5&api_key=[REDACTED]&token=[REDACTED]&q=sk_****")
    assert key not in out and "t0k" not in out and "u:p" not in out
    assert redact.redact_query("") is None


def test_request_headers_are_redacted() -> None:
    key = "sk_" + "Q" * 40
    out = redact.redact_headers(
        [
            (b"authorization", f"Bearer {key}".encode()),
            (b"x-api-key", key.encode()),
            (b"proxy-authorization", b"Basic dXNlcjpwYXNzd29yZA=="),
            (b"cookie", b"session=abc; theme=dark"),
            (b"x-auth-token", b"opaque-token-value"),
            (b"tidings-account", b"acc_123"),
            (b"x-forwarded-note", f"by {key}".encode()),
        ]
    )
    assert out["authorization"] == "Bearer sk_****QQQQ"
    assert out["x-api-key"] == "sk_****QQQQ"
    assert out["proxy-authorization"] == "Basic [REDACTED]"
    assert out["cookie"] == out["x-auth-token"] == redact.REDACTED
    assert out["tidings-account"] == "acc_123"
    assert out["x-forwarded-note"] == "by sk_****QQQQ"


def test_bodies_are_cut_after_redaction() -> None:
    secret = "whsec_" + "S" * 40
    # The secret sits across the 16 KiB mark: redacting first means no half of it survives.
    body = ("x" * (16 * 1024 - 10) + secret).encode()
    out = redact.redact_body(body) or ""
    assert len(out.encode()) == 16 * 1024
    assert "SSSSSSSS" not in out
    assert len((redact.redact_body("é".encode() * 9000) or "").encode()) <= 16 * 1024


def test_nul_bytes_never_reach_a_text_column() -> None:
    assert "\x00" not in (redact.redact_body(b"a\x00b") or "")
    assert "\x00" not in str(redact.redact_headers([(b"x-a", b"a\x00b")]))


# --- end to end: every stored row ----------------------------------------------------------


async def _every_log_row(url: str) -> list[str]:
    db = Database(url)
    try:
        async with db.read() as conn:
            rows = (await conn.execute(sa.select(logs))).all()
    finally:
        await db.dispose()
    return [json.dumps([str(v) for v in row], ensure_ascii=False) for row in rows]


def _encodings(secret: str) -> set[str]:
    """The ways a secret could be written in a stored row (keys also without their prefix)."""
    forms = {secret, quote(secret, safe=""), json.dumps(secret)[1:-1]}
    body = secret.partition("_")[2]
    return forms | {body} if len(body) >= 16 else forms


def test_no_secret_reaches_a_log_row(
    server: RunningServer,
    operator: httpx.Client,
    client: httpx.Client,
    account: dict[str, Any],
) -> None:
    base = server.base_url
    secrets: list[str] = [server.operator_key, account["key"], HEADER_SECRET, URL_PASSWORD]
    secrets += [BODY_PASSWORD, BASIC_PASSWORD]
    headers = {"Tidings-Account": account["id"]}

    # Keys: created (the answer holds the key), listed, used.
    created = operator.post("/v1/api-keys", json={"name": "reporting"}, headers=headers)
    assert created.status_code == 201, created.text
    new_key = created.json()["key"]
    secrets.append(new_key)
    assert httpx.get(
        f"{base}/v1/webhooks", headers={"Authorization": f"Bearer {new_key}"}
    ).is_success
    client.get("/v1/api-keys")

    # Webhooks: secrets in answers, custom headers, credentials in URLs, PUT and PATCH.
    made = client.post(
        "/v1/webhooks",
        json={
            "url": f"http://hookuser:{URL_PASSWORD}@{NOWHERE}/hook",
            "headers": {"X-Partner-Auth": HEADER_SECRET},
            "username": "hookuser",
            "password": BASIC_PASSWORD,
        },
    )
    assert made.status_code == 201, made.text
    webhook = made.json()
    secrets.append(webhook["secret"])
    shown = client.get(f"/v1/webhooks/{webhook['id']}/secret")
    assert shown.json()["secret"] == webhook["secret"]
    rolled = client.post(f"/v1/webhooks/{webhook['id']}/secret/roll", json={"expiresIn": "1h"})
    assert rolled.status_code == 200, rolled.text
    secrets.append(rolled.json()["secret"])
    patched = client.patch(
        f"/v1/webhooks/{webhook['id']}",
        json={"headers": {"X-Partner-Auth": HEADER_SECRET, "X-Other": HEADER_SECRET + "2"}},
    )
    assert patched.status_code == 200, patched.text
    secrets.append(HEADER_SECRET + "2")
    put = client.put(
        f"/v1/webhooks/{webhook['id']}",
        json={"url": f"http://hookuser:{URL_PASSWORD}@{NOWHERE}/other", "eventTypes": []},
    )
    assert put.status_code == 200, put.text
    client.get("/v1/webhooks")
    client.get(f"/v1/webhooks/{webhook['id']}")

    # Keys where they do not belong: a query string, a wrong header, an error message, a body.
    httpx.get(f"{base}/v1/webhooks", params={"api_key": account["key"], "key": new_key})
    httpx.get(f"{base}/v1/webhooks", params={"q": webhook["secret"]})
    httpx.get(f"{base}/v1/webhooks", headers={"Authorization": f"Basic {account['key']}"})
    httpx.get(
        f"{base}/v1/webhooks", headers={"X-Api-Key": account["key"], "Tidings-Account": new_key}
    )
    httpx.get(f"{base}/v1/webhooks", headers={"Cookie": f"session={account['key']}"})
    client.post("/v1/accounts", json={"name": "x", "password": BODY_PASSWORD})
    client.post("/v1/webhooks", json={"url": "nope", "secret": webhook["secret"]})
    client.post(
        "/v1/webhooks",
        content=f"password={BODY_PASSWORD}&key={new_key}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    last = client.post("/v1/event-types", content=f'{{"name": "{new_key}"')  # broken JSON

    # Every row written (a log read flushes this server's buffer), then search them all.
    assert operator.get(f"/v1/logs/{last.headers['X-Request-Id']}").status_code == 200
    rows = asyncio.run(_every_log_row(server.settings.resolved_database_url()))
    assert any(webhook["id"] in row for row in rows)  # the calls are there
    for secret in secrets:
        for form in _encodings(secret):
            leaks = [row[:120] for row in rows if form in row]
            assert leaks == [], f"{secret[:8]}… is in the API log"
