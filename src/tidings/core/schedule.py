"""When a pull runs next: ``hourly`` at ``":MM"``, ``daily`` at ``"HH:MM"``, ``weekly`` at
``"<weekday> HH:MM"``, or a five-field cron expression, in the pull's IANA time zone.

Schedules are wall-clock times in that zone, so daylight-saving changes are handled the way a
person expects: a time that does not exist that day (02:30 when clocks jump from 02:00 to
03:00) runs when the gap ends (03:00), and a time that occurs twice (02:30 when clocks go back)
runs once, at its first occurrence."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

FREQUENCIES = ("hourly", "daily", "weekly")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_MINUTE = re.compile(r"^:([0-5]\d)$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
# More than a cron expression that never fires would ever look through.
_MAX_CANDIDATES = 5000


def zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def problem(timezone: str, frequency: str, schedule: str | None) -> tuple[str, str] | None:
    """The field at fault and why, or None when the three make a schedule."""
    if zone(timezone) is None:
        return "timezone", f"unknown time zone {timezone!r}: use an IANA name such as Europe/Berlin"
    if frequency == "hourly":
        if schedule is None or not _MINUTE.match(schedule):
            return "schedule", 'hourly runs take ":MM", e.g. ":15"'
    elif frequency == "daily":
        if schedule is None or not _TIME.match(schedule):
            return "schedule", 'daily runs take "HH:MM", e.g. "02:30"'
    elif frequency == "weekly":
        day, _, at = (schedule or "").strip().partition(" ")
        if day.lower() not in WEEKDAYS or not _TIME.match(at.strip()):
            return "schedule", 'weekly runs take "<weekday> HH:MM", e.g. "monday 02:30"'
    elif len(frequency.split()) != 5 or not croniter.is_valid(frequency):
        return (
            "frequency",
            "frequency is hourly, daily, weekly or a five-field cron expression, "
            "e.g. '*/15 * * * *'",
        )
    return None


def next_run(timezone: str, frequency: str, schedule: str | None, after: datetime) -> datetime:
    """The first run strictly after ``after`` (aware), in UTC."""
    tz = ZoneInfo(timezone)
    # A day back: wall-clock candidates just before ``after`` may resolve after it (a gap).
    start = after.astimezone(tz).replace(tzinfo=None, second=0, microsecond=0) - timedelta(days=1)
    for count, local in enumerate(_candidates(frequency, schedule, start)):
        moment = _resolve(local, tz)
        if moment > after:
            return moment
        if count > _MAX_CANDIDATES:
            break
    raise ValueError(f"the schedule {frequency!r} {schedule!r} never runs")


def _candidates(frequency: str, schedule: str | None, start: datetime) -> Iterator[datetime]:
    """Wall-clock times of the schedule from ``start`` on, in order."""
    if frequency == "hourly":
        minute = int((schedule or ":00")[1:])
        at = start.replace(minute=minute)
        while True:
            yield at
            at += timedelta(hours=1)
    elif frequency in ("daily", "weekly"):
        day_name, _, clock = (schedule or "").strip().rpartition(" ")
        hour, minute = (int(part) for part in clock.strip().split(":"))
        at = start.replace(hour=hour, minute=minute)
        step = timedelta(days=1)
        if frequency == "weekly":
            weekday = WEEKDAYS.index(day_name.strip().lower())
            at += timedelta(days=(weekday - at.weekday()) % 7)
            step = timedelta(days=7)
        while True:
            yield at
            at += step
    else:
        # croniter walks naive times: wall-clock times, resolved below like the others.
        walker = croniter(frequency, start - timedelta(minutes=1))
        while True:
            yield walker.get_next(datetime)


def _resolve(local: datetime, tz: ZoneInfo) -> datetime:
    """The instant of wall-clock time ``local`` in ``tz``: its first occurrence when it occurs
    twice, the end of the gap when it does not occur at all."""
    first = local.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == local:
        return first
    # In a gap: the transition lies between the two readings; find it to the second.
    low, high = sorted((first, local.replace(tzinfo=tz, fold=1).astimezone(UTC)))
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).replace(tzinfo=None) >= local:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)
