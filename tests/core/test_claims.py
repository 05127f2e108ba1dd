"""What a claim takes (core/claims.py), without a database: room per webhook, open breakers,
ordered heads, the probe of a half-open breaker, and rate-limit slots."""

from __future__ import annotations

from dataclasses import dataclass

from tidings.core.claims import RATE_HORIZON, choose, limit
from tidings.core.health import HealthRules

S = 1_000_000
NOW = 1_000 * S
RULES = HealthRules.of(
    breaker_threshold=3, probe_interval=30, disable_after=3600, disable_min_failures=4
)


@dataclass
class Row:
    id: str
    webhook_id: str
    breaker_open_until: int | None = None
    head: str | None = None


def test_takes_due_rows_in_order_up_to_the_limit() -> None:
    rows = [Row(f"n{i}", "wh_a") for i in range(5)]
    choice = choose(rows, NOW, limit=3, room=lambda _w: 10)
    assert choice.ids == ["n0", "n1", "n2"]
    assert not choice.passed_over


def test_a_full_webhook_is_passed_over_and_others_still_taken() -> None:
    rows = [Row("a1", "wh_a"), Row("a2", "wh_a"), Row("a3", "wh_a"), Row("b1", "wh_b")]
    choice = choose(rows, NOW, limit=10, room=lambda w: 2 if w == "wh_a" else 10)
    assert choice.taken == {"wh_a": ["a1", "a2"], "wh_b": ["b1"]}
    assert choice.passed_over


def test_an_open_breaker_offers_nothing_until_its_time() -> None:
    rows = [Row("a1", "wh_a", breaker_open_until=NOW + S), Row("b1", "wh_b")]
    assert choose(rows, NOW, limit=10, room=lambda _w: 10).ids == ["b1"]
    rows[0].breaker_open_until = NOW
    assert choose(rows, NOW, limit=10, room=lambda _w: 10).ids == ["a1", "b1"]


def test_an_ordered_webhook_offers_only_its_head() -> None:
    rows = [
        Row("a2", "wh_a", head="a1"),
        Row("a1", "wh_a", head="a1"),
        Row("a3", "wh_a", head="a1"),
    ]
    choice = choose(rows, NOW, limit=10, room=lambda _w: 10)
    assert choice.ids == ["a1"]
    assert choice.passed_over


def test_no_room_means_nothing_taken() -> None:
    assert choose([Row("a1", "wh_a")], NOW, limit=10, room=lambda _w: 0).ids == []


def test_limits_keep_what_the_room_allows() -> None:
    limited = limit(
        ["j1", "j2", "j3"],
        room=2,
        consecutive_failures=0,
        rate_limit=None,
        rate_next_at=None,
        now=NOW,
        rules=RULES,
    )
    assert limited.kept == ["j1", "j2"] and limited.returned == ["j3"]
    assert limited.send_at == [None, None]
    assert limited.changes == {}


def test_a_half_open_breaker_sends_one_probe_and_closes_behind_it() -> None:
    limited = limit(
        ["j1", "j2", "j3"],
        room=10,
        consecutive_failures=3,
        rate_limit=None,
        rate_next_at=None,
        now=NOW,
        rules=RULES,
    )
    assert limited.kept == ["j1"]
    assert limited.returned == ["j2", "j3"]
    assert limited.changes == {"breaker_open_until": NOW + 30 * S}


def test_rate_limit_hands_out_slots_a_step_apart_within_the_horizon() -> None:
    limited = limit(
        [f"j{i}" for i in range(8)],
        room=10,
        consecutive_failures=0,
        rate_limit=4,  # one slot every 250 ms
        rate_next_at=None,
        now=NOW,
        rules=RULES,
    )
    step = S // 4
    # Slots at now, +250, +500, +750 and +1000 ms (the horizon is inclusive).
    assert limited.send_at == [None, NOW + step, NOW + 2 * step, NOW + 3 * step, NOW + RATE_HORIZON]
    assert limited.kept == ["j0", "j1", "j2", "j3", "j4"]
    assert limited.returned == ["j5", "j6", "j7"]
    assert limited.again_at == NOW + 5 * step  # the next free slot
    assert limited.changes == {"rate_next_at": NOW + 5 * step}


def test_rate_slots_continue_from_the_webhook_row() -> None:
    limited = limit(
        ["j1"],
        room=10,
        consecutive_failures=0,
        rate_limit=1,
        rate_next_at=NOW + S // 2,
        now=NOW,
        rules=RULES,
    )
    assert limited.send_at == [NOW + S // 2]
    assert limited.changes == {"rate_next_at": NOW + S // 2 + S}
