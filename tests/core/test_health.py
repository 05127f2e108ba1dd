"""The failing-webhook rules of core/health.py, without a server: 410 Gone, the circuit
breaker (open, probe, close) and the auto-disable window."""

from __future__ import annotations

from tidings.core.health import (
    Attempted,
    Health,
    HealthRules,
    breaker_open,
    is_gone,
    judge,
    probing,
    streaks,
)
from tidings.core.retry import after_failure

S = 1_000_000
RULES = HealthRules.of(
    breaker_threshold=3, probe_interval=30, disable_after=3600, disable_min_failures=4
)
HEALTHY = Health(consecutive_failures=0, failing_since=None, breaker_open_until=None)


def failed(at: int, code: int | None = 500, webhook: str = "wh_a") -> Attempted:
    return Attempted(webhook, at * S, succeeded=False, status_code=code)


def ok(at: int, webhook: str = "wh_a") -> Attempted:
    return Attempted(webhook, at * S, succeeded=True, status_code=200)


def test_410_is_gone_and_is_never_retried() -> None:
    assert is_gone(410) and not is_gone(404) and not is_gone(None)
    schedule = [5.0, 60.0]
    assert after_failure(schedule, 0, 0.0, 410, None, 0.0) is None
    assert after_failure(schedule, 0, 0.0, 500, None, 0.0) == 5.0
    assert after_failure(schedule, 2, 0.0, 500, None, 0.0) is None  # schedule spent


def test_a_410_disables_an_active_webhook_at_once() -> None:
    verdict = judge(HEALTHY, streaks([failed(10, 410)])["wh_a"], RULES, now=10 * S)
    assert verdict.disabled == "gone"
    assert not verdict.health.active


def test_a_410_followed_by_a_success_disables_nothing() -> None:
    verdict = judge(HEALTHY, streaks([failed(10, 410), ok(11)])["wh_a"], RULES, now=11 * S)
    assert verdict.disabled is None
    assert verdict.health == HEALTHY


def test_an_already_disabled_webhook_is_not_disabled_again() -> None:
    disabled = Health(0, None, None, active=False)
    assert judge(disabled, streaks([failed(1, 410)])["wh_a"], RULES, now=S).disabled is None


def test_failures_add_up_across_batches_and_open_the_breaker_at_the_threshold() -> None:
    first = judge(HEALTHY, streaks([failed(1), failed(2)])["wh_a"], RULES, now=2 * S)
    assert first.health.consecutive_failures == 2
    assert first.health.failing_since == 1 * S
    assert first.health.breaker_open_until is None
    second = judge(first.health, streaks([failed(5)])["wh_a"], RULES, now=5 * S)
    assert second.health.consecutive_failures == 3
    assert second.health.failing_since == 1 * S  # the window starts at the first failure
    assert second.health.breaker_open_until == 5 * S + 30 * S
    assert breaker_open(second.health.breaker_open_until, now=6 * S)
    assert not breaker_open(second.health.breaker_open_until, now=36 * S)


def test_breaker_probe_then_close() -> None:
    # Past the threshold the breaker is half-open once its wait is over: one probe goes out.
    assert not probing(2, RULES)
    assert probing(3, RULES)
    open_ = Health(consecutive_failures=7, failing_since=S, breaker_open_until=40 * S)
    probe_failed = judge(open_, streaks([failed(41)])["wh_a"], RULES, now=41 * S)
    assert probe_failed.health.breaker_open_until == 71 * S  # reopened for an interval
    probe_ok = judge(open_, streaks([ok(41)])["wh_a"], RULES, now=41 * S)
    assert probe_ok.health == HEALTHY  # a success closes it and resets the count


def test_only_failures_after_the_last_success_in_a_batch_count() -> None:
    found = streaks([failed(1), failed(2), ok(3), failed(4)])["wh_a"]
    assert found.recovered and found.failures == 1 and found.first_failed_at == 4 * S
    verdict = judge(Health(9, S, None), found, RULES, now=4 * S)
    assert verdict.health.consecutive_failures == 1
    assert verdict.health.failing_since == 4 * S


def test_streaks_are_per_webhook_and_in_attempt_order() -> None:
    found = streaks([failed(3, webhook="wh_b"), ok(2, webhook="wh_a"), failed(1, webhook="wh_a")])
    assert found["wh_a"].recovered and found["wh_a"].failures == 0
    assert found["wh_b"].failures == 1


def test_auto_disable_needs_the_whole_window_and_enough_failures() -> None:
    failing = Health(consecutive_failures=3, failing_since=0, breaker_open_until=None)
    # Within the window: not yet.
    early = judge(failing, streaks([failed(3599)])["wh_a"], RULES, now=3599 * S)
    assert early.disabled is None
    # The whole window from the first failed attempt to this one: disabled, "failing".
    late = judge(failing, streaks([failed(3600)])["wh_a"], RULES, now=3600 * S)
    assert late.disabled == "failing"
    # The window passed, but too few failures in a row.
    few = Health(consecutive_failures=1, failing_since=0, breaker_open_until=None)
    assert judge(few, streaks([failed(7200)])["wh_a"], RULES, now=7200 * S).disabled is None


def test_the_window_is_measured_between_attempts_not_when_they_are_written() -> None:
    failing = Health(consecutive_failures=9, failing_since=0, breaker_open_until=None)
    # Written an hour after the last attempt, which was made within the window.
    verdict = judge(failing, streaks([failed(100)])["wh_a"], RULES, now=7200 * S)
    assert verdict.disabled is None
