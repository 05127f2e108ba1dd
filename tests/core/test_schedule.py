"""When a pull runs next (core/schedule.py), at fixed moments: hourly, daily, weekly and cron
schedules in three time zones, across both 2026 daylight-saving changes of Europe/Berlin
(29 March, 02:00 -> 03:00; 25 October, 03:00 -> 02:00) and New York's."""

from __future__ import annotations

from datetime import datetime

import pytest

from tidings.core.schedule import next_run, problem


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    ("timezone", "frequency", "schedule", "after", "expected"),
    [
        # Berlin, an ordinary day: 02:30 CET is 01:30 UTC.
        ("Europe/Berlin", "daily", "02:30", "2026-03-20T12:00:00Z", "2026-03-21T01:30:00Z"),
        # Spring forward: 02:30 does not exist on 29 March; it runs when the gap ends, 03:00.
        ("Europe/Berlin", "daily", "02:30", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"),
        # ... and the next day at 02:30 summer time.
        ("Europe/Berlin", "daily", "02:30", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"),
        # Fall back: 02:30 occurs twice on 25 October; it runs at the first (summer time) ...
        ("Europe/Berlin", "daily", "02:30", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z"),
        # ... and not again at the second: next is the 26th, winter time.
        ("Europe/Berlin", "daily", "02:30", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"),
        # Hourly at :30 across the gap: 02:30 does not exist, so 03:00, then 03:30.
        ("Europe/Berlin", "hourly", ":30", "2026-03-29T00:40:00Z", "2026-03-29T01:00:00Z"),
        ("Europe/Berlin", "hourly", ":30", "2026-03-29T01:00:00Z", "2026-03-29T01:30:00Z"),
        # Hourly at :30 across the repeated hour: 02:30 once, then 03:30 winter time.
        ("Europe/Berlin", "hourly", ":30", "2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z"),
        ("Europe/Berlin", "hourly", ":30", "2026-10-25T00:30:00Z", "2026-10-25T02:30:00Z"),
        # Weekly on the Sunday of each change.
        ("Europe/Berlin", "weekly", "sunday 02:30", "2026-03-23T00:00:00Z", "2026-03-29T01:00:00Z"),
        ("Europe/Berlin", "weekly", "Sunday 02:30", "2026-10-19T00:00:00Z", "2026-10-25T00:30:00Z"),
        ("Europe/Berlin", "weekly", "monday 02:30", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"),
        # Cron, as wall-clock times like the others.
        ("Europe/Berlin", "30 2 * * *", None, "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"),
        ("Europe/Berlin", "30 2 * * *", None, "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"),
        ("Europe/Berlin", "*/15 * * * *", None, "2026-03-29T00:50:00Z", "2026-03-29T01:00:00Z"),
        ("Europe/Berlin", "*/15 * * * *", None, "2026-10-25T00:50:00Z", "2026-10-25T02:00:00Z"),
        # New York: 09:00 is 14:00 UTC in winter and 13:00 UTC from 8 March.
        ("America/New_York", "daily", "09:00", "2026-03-07T12:00:00Z", "2026-03-07T14:00:00Z"),
        ("America/New_York", "daily", "09:00", "2026-03-07T14:00:00Z", "2026-03-08T13:00:00Z"),
        ("America/New_York", "daily", "02:30", "2026-03-07T14:00:00Z", "2026-03-08T07:00:00Z"),
        ("America/New_York", "hourly", ":05", "2026-11-01T05:10:00Z", "2026-11-01T07:05:00Z"),
        (
            "America/New_York",
            "weekly",
            "friday 17:00",
            "2026-03-01T00:00:00Z",
            "2026-03-06T22:00:00Z",
        ),
        ("America/New_York", "0 12 * * 1-5", None, "2026-03-06T17:00:00Z", "2026-03-09T16:00:00Z"),
        # Kolkata keeps +05:30 all year: 02:30 there is 21:00 UTC the evening before.
        ("Asia/Kolkata", "daily", "02:30", "2026-03-23T00:00:00Z", "2026-03-23T21:00:00Z"),
        ("Asia/Kolkata", "hourly", ":15", "2026-03-23T00:00:00Z", "2026-03-23T00:45:00Z"),
        ("Asia/Kolkata", "weekly", "monday 02:30", "2026-03-23T00:00:00Z", "2026-03-29T21:00:00Z"),
        ("Asia/Kolkata", "*/20 * * * *", None, "2026-03-23T00:00:00Z", "2026-03-23T00:10:00Z"),
        # Strictly after: a run at its own moment is scheduled for the next one.
        ("UTC", "hourly", ":00", "2026-03-23T10:00:00Z", "2026-03-23T11:00:00Z"),
        ("UTC", "*/15 * * * *", None, "2026-03-23T00:00:00Z", "2026-03-23T00:15:00Z"),
    ],
)
def test_next_run(
    timezone: str, frequency: str, schedule: str | None, after: str, expected: str
) -> None:
    assert iso(next_run(timezone, frequency, schedule, at(after))) == expected


def test_a_whole_year_of_berlin_days_runs_once_a_day() -> None:
    moment = at("2026-01-01T00:00:00Z")
    runs = []
    while moment.year == 2026:
        moment = next_run("Europe/Berlin", "daily", "02:30", moment)
        runs.append(moment)
    runs = [r for r in runs if r.year == 2026]
    assert len(runs) == 365
    assert len({r.date() for r in runs}) == 365


@pytest.mark.parametrize(
    ("timezone", "frequency", "schedule", "field"),
    [
        ("Europe/Atlantis", "daily", "02:30", "timezone"),
        ("", "daily", "02:30", "timezone"),
        ("UTC", "daily", "2:30", "schedule"),
        ("UTC", "daily", None, "schedule"),
        ("UTC", "hourly", "30", "schedule"),
        ("UTC", "hourly", ":60", "schedule"),
        ("UTC", "weekly", "02:30", "schedule"),
        ("UTC", "weekly", "funday 02:30", "schedule"),
        ("UTC", "monthly", "02:30", "frequency"),
        ("UTC", "* * * *", None, "frequency"),
        ("UTC", "99 * * * *", None, "frequency"),
    ],
)
def test_problem_names_the_field(
    timezone: str, frequency: str, schedule: str | None, field: str
) -> None:
    found = problem(timezone, frequency, schedule)
    assert found is not None and found[0] == field


def test_good_schedules_have_no_problem() -> None:
    assert problem("Europe/Berlin", "weekly", "monday 02:30") is None
    assert problem("America/New_York", "*/5 * * * *", None) is None
    assert problem("Asia/Kolkata", "hourly", ":00") is None
