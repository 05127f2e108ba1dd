"""The SSRF guard: hostile webhook URLs are refused when created, and every address is checked
again when a delivery connects, so DNS answers that change cannot sneak past it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from tests.support.partner import server_starter, wait_status
from tests.support.receiver import Receiver
from tidings.core.addresses import AddressPolicy, literal_ip
from tidings.outbound.guard import GuardedResolver, RefusedAddress

HOSTILE_HOSTS = [
    "127.0.0.1",
    "127.255.255.254",
    "0.0.0.0",
    "0",
    "2130706433",  # 127.0.0.1 in decimal
    "0x7f000001",  # hex
    "0x7f.1",
    "0177.0.0.1",  # octal
    "127.1",  # short form
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # carrier-grade NAT
    "224.0.0.1",  # multicast
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "192.0.2.1",  # documentation
    "198.51.100.7",
    "203.0.113.9",
    "[::1]",
    "[::]",
    "[fe80::1]",
    "[fc00::1]",
    "[fd00:ec2::254]",  # AWS metadata over IPv6
    "[ff02::1]",
    "[2001:db8::1]",
    "[::ffff:127.0.0.1]",  # IPv4-mapped
    "[::ffff:169.254.169.254]",
    "[::127.0.0.1]",  # IPv4-compatible
    "[2002:7f00:1::]",  # 6to4 around 127.0.0.1
    "[2002:a9fe:a9fe::]",  # 6to4 around 169.254.169.254
    "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",  # Teredo
    "[64:ff9b::7f00:1]",  # NAT64 around 127.0.0.1
]
PUBLIC_HOSTS = ["8.8.8.8", "1.1.1.1", "[2606:4700::1111]", "[2002:808:808::]"]


@pytest.mark.parametrize("host", HOSTILE_HOSTS)
def test_hostile_literal_is_refused(host: str) -> None:
    ip = literal_ip(host)
    assert ip is not None, host
    assert AddressPolicy().refusal(ip) is not None


@pytest.mark.parametrize("host", PUBLIC_HOSTS)
def test_public_literal_is_allowed(host: str) -> None:
    ip = literal_ip(host)
    assert ip is not None and AddressPolicy().refusal(ip) is None


def test_allowed_networks_lift_the_guard_for_those_only() -> None:
    policy = AddressPolicy.from_settings(False, ["10.1.0.0/16"])
    assert policy.refusal(literal_ip("10.1.2.3")) is None  # type: ignore[arg-type]
    assert policy.refusal(literal_ip("10.2.0.1")) is not None  # type: ignore[arg-type]
    assert AddressPolicy(allow_private=True).refusal(literal_ip("127.0.0.1")) is None  # type: ignore[arg-type]


class ScriptedResolver(AbstractResolver):
    """A DNS server whose answers the test writes: one list of addresses per lookup."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.lookups = 0

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answer = self.answers[min(self.lookups, len(self.answers) - 1)]
        self.lookups += 1
        return [
            ResolveResult(hostname=host, host=a, port=port, family=socket.AF_INET, proto=0, flags=0)
            for a in answer
        ]

    async def close(self) -> None:
        pass


def test_rebinding_answer_is_refused_at_connect_time() -> None:
    """The first lookup says public, the next says loopback: the second is refused."""
    inner = ScriptedResolver(["93.184.216.34"], ["127.0.0.1"])
    guard = GuardedResolver(AddressPolicy(), inner)

    async def lookups() -> None:
        first = await guard.resolve("rebind.example", 80)
        assert [r["host"] for r in first] == ["93.184.216.34"]
        with pytest.raises(RefusedAddress, match=r"127\.0\.0\.1"):
            await guard.resolve("rebind.example", 80)

    asyncio.run(lookups())


def test_name_with_one_private_address_among_several_is_refused() -> None:
    guard = GuardedResolver(AddressPolicy(), ScriptedResolver(["93.184.216.34", "10.0.0.5"]))
    with pytest.raises(RefusedAddress, match=r"10\.0\.0\.5"):
        asyncio.run(guard.resolve("mixed.example", 80))


@pytest.fixture
def guarded(own_database: str, tmp_path: Path) -> Iterator[Any]:
    """Start a server with the guard on (and maybe a scripted resolver); returns a client for
    an account on it."""
    with server_starter(own_database, tmp_path) as starter:
        yield lambda resolver=None, **overrides: starter(
            resolver, **{"allow_private_networks": False, **overrides}
        )


def test_api_refuses_every_hostile_literal_url(guarded: Any) -> None:
    client = guarded()
    for host in HOSTILE_HOSTS:
        for scheme in ("http", "https"):
            response = client.post("/v1/webhooks", json={"url": f"{scheme}://{host}:8080/hook"})
            assert response.status_code == 422, (host, response.text)
            assert response.json()["error"]["details"][0]["field"] == "url"
    other_schemes = ["ftp://8.8.8.8/", "file:///etc/passwd", "gopher://8.8.8.8/", "dict://x/"]
    for url in other_schemes:
        assert client.post("/v1/webhooks", json={"url": url}).status_code == 422, url


def test_name_resolving_to_loopback_is_refused_when_delivering(guarded: Any) -> None:
    client = guarded(ScriptedResolver(["127.0.0.1"]), retry_schedule="")
    with Receiver() as rx:
        url = rx.url.replace("127.0.0.1", "partner.example")
        assert client.post("/v1/webhooks", json={"url": url}).status_code == 201
        event = client.post("/v1/events", json={"eventType": "order.paid", "eventData": {}})
        failed = wait_status(client, event.json()["notifications"][0]["id"], "failed")
        assert rx.requests == []
    [attempt] = failed["attempts"]
    assert "127.0.0.1" in attempt["error"] and "not a public address" in attempt["error"]


def test_allowed_networks_reach_the_listed_range_only(guarded: Any) -> None:
    client = guarded(ScriptedResolver(["127.0.0.1"]), allowed_networks="127.0.0.0/8")
    assert client.post("/v1/webhooks", json={"url": "http://10.0.0.1/hook"}).status_code == 422
    with Receiver() as rx:
        url = rx.url.replace("127.0.0.1", "partner.example")
        assert client.post("/v1/webhooks", json={"url": url}).status_code == 201
        client.post("/v1/events", json={"eventType": "order.paid", "eventData": {"n": 1}})
        [got] = rx.wait(1)
    assert got.body == b'{"n":1}' or b'"eventData":{"n":1}' in got.body


def test_require_https_refuses_plain_http(guarded: Any) -> None:
    client = guarded(require_https=True)
    response = client.post("/v1/webhooks", json={"url": "http://partner.example/hook"})
    assert response.status_code == 422
    assert "https" in response.json()["error"]["message"]
    assert (
        client.post("/v1/webhooks", json={"url": "https://partner.example/hook"}).status_code == 201
    )
