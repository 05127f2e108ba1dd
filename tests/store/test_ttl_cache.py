"""The in-process cache behind authentication and publishing's routes (core/ttl_cache.py)."""

from __future__ import annotations

import asyncio

from tidings.core.ttl_cache import TtlCache


def test_misses_at_the_same_time_share_one_load() -> None:
    async def run() -> tuple[list[int], int]:
        cache: TtlCache[str, int] = TtlCache(ttl=60)
        loads = 0

        async def load() -> int:
            nonlocal loads
            loads += 1
            await asyncio.sleep(0.01)
            return 42

        values = await asyncio.gather(*(cache.get_or_load("k", load) for _ in range(50)))
        again = await cache.get_or_load("k", load)
        return [*values, again], loads

    values, loads = asyncio.run(run())
    assert values == [42] * 51
    assert loads == 1


def test_an_entry_is_loaded_again_after_its_ttl() -> None:
    async def run() -> list[int]:
        # A TTL far longer than the moment between the first two lookups, on any machine.
        cache: TtlCache[str, int] = TtlCache(ttl=1.0)
        counter = iter(range(100))

        async def load() -> int:
            return next(counter)

        first = await cache.get_or_load("k", load)
        cached = await cache.get_or_load("k", load)
        await asyncio.sleep(1.1)
        return [first, cached, await cache.get_or_load("k", load)]

    assert asyncio.run(run()) == [0, 0, 1]


def test_a_load_begun_before_a_clear_is_not_kept() -> None:
    async def run() -> list[str]:
        cache: TtlCache[str, str] = TtlCache(ttl=60)
        answers = iter(["before the change", "after the change"])

        async def load() -> str:
            await asyncio.sleep(0.5)
            return next(answers)

        pending = asyncio.ensure_future(cache.get_or_load("k", load))
        await asyncio.sleep(0.01)
        cache.clear()  # the change lands while the first lookup is still under way
        first = await pending
        return [first, await cache.get_or_load("k", load)]

    assert asyncio.run(run()) == ["before the change", "after the change"]


def test_values_keep_refuses_are_loaded_each_time() -> None:
    async def run() -> int:
        cache: TtlCache[str, str | None] = TtlCache(ttl=60)
        loads = 0

        async def load() -> str | None:
            nonlocal loads
            loads += 1
            return None

        for _ in range(3):
            assert await cache.get_or_load("k", load, keep=lambda v: v is not None) is None
        return loads

    assert asyncio.run(run()) == 3
