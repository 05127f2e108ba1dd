"""``AsyncTidings`` against a real server: the same resources, awaited; lists iterated with
``async for`` across pages; errors raised alike."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tidings_client import AsyncTidings, NotFoundError, ValidationError

from tests.support.receiver import Receiver, Reply
from tests.support.server import RunningServer


def test_the_async_client(server: RunningServer, account: dict[str, Any]) -> None:
    async def run() -> None:
        async with AsyncTidings(account["key"], server.base_url) as tidings:
            await tidings.event_types.create("async.done")
            made = await asyncio.gather(
                *(tidings.webhooks.create(f"https://async.example/{n}") for n in range(5))
            )
            pages = [len(p.data) async for p in tidings.webhooks.list(limit=2).pages()]
            assert pages == [2, 2, 1]
            ids = {w["id"] async for w in tidings.webhooks.list(limit=2)}
            assert ids == {w["id"] for w in made}
            first = made[0]["id"]
            changed = await tidings.webhooks.update(first, description="async")
            assert changed["description"] == "async"
            event = await tidings.events.publish("async.done", {"n": 1}, idempotency_key="a1")
            again = await tidings.events.publish("async.done", {"n": 1}, idempotency_key="a1")
            assert event["id"] == again["id"]
            assert (await tidings.events.get(event["id"]))["eventType"] == "async.done"
            assert len(await tidings.events.list().to_list()) == 1
            await tidings.webhooks.delete(first)
            with pytest.raises(NotFoundError):
                await tidings.webhooks.get(first)
            with pytest.raises(ValidationError) as invalid:
                await tidings.events.publish("Not a type!", {})
            assert invalid.value.details[0]["field"] == "eventType"

    asyncio.run(run())


def test_the_async_client_retries() -> None:
    busy = Reply(503, "{}", {"Content-Type": "application/json", "Retry-After": "0"})
    ok = Reply(200, '{"status": "ok"}', {"Content-Type": "application/json"})
    with Receiver(busy, busy, default=ok) as receiver:

        async def run() -> Any:
            async with AsyncTidings("whk_x", f"http://127.0.0.1:{receiver.port}") as tidings:
                return await tidings.operations.health()

        assert asyncio.run(run()) == {"status": "ok"}
    assert len(receiver.requests) == 3
