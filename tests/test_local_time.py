"""Local times as UTC instants across DST changes in both directions, quiet hours, spread."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.schedule.local_time import (
    DEFAULT_QUIET,
    SPREAD,
    QuietHours,
    first_valid,
    next_due,
    outside_quiet,
    spread_offset,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def days_of(zone: str, at: time, start: datetime, count: int) -> list[datetime]:
    """``count`` successive due instants of a daily ``at`` after ``start``."""
    found, after = [], start
    for _ in range(count):
        after = next_due(ZoneInfo(zone), at, after)
        found.append(after)
    return found


@pytest.mark.parametrize(
    ("zone", "before", "change", "after"),
    [
        # 07:30 local the day before, the day of, and the day after each change.
        ("Europe/Berlin", "2026-03-28T06:30", "2026-03-29T05:30", "2026-03-30T05:30"),
        ("Europe/Berlin", "2026-10-24T05:30", "2026-10-25T06:30", "2026-10-26T06:30"),
        ("America/New_York", "2026-03-07T12:30", "2026-03-08T11:30", "2026-03-09T11:30"),
        ("America/New_York", "2026-10-31T11:30", "2026-11-01T12:30", "2026-11-02T12:30"),
        ("Australia/Sydney", "2026-04-03T20:30", "2026-04-04T21:30", "2026-04-05T21:30"),
        ("Australia/Sydney", "2026-10-02T21:30", "2026-10-03T20:30", "2026-10-04T20:30"),
        ("Asia/Kolkata", "2026-03-27T02:00", "2026-03-28T02:00", "2026-03-29T02:00"),
        ("Pacific/Chatham", "2026-04-03T17:45", "2026-04-04T18:45", "2026-04-05T18:45"),
        ("Pacific/Chatham", "2026-09-25T18:45", "2026-09-26T17:45", "2026-09-27T17:45"),
    ],
)
def test_a_daily_time_follows_the_local_clock_through_dst(
    zone: str, before: str, change: str, after: str
) -> None:
    start = utc(before) - timedelta(hours=1)
    assert days_of(zone, time(7, 30), start, 3) == [utc(before), utc(change), utc(after)]


@pytest.mark.parametrize(
    ("zone", "day", "at", "expected"),
    [
        # Clocks jump past the chosen time: the first minute that exists.
        ("Europe/Berlin", "2026-03-29", time(2, 30), "2026-03-29T01:00"),  # 03:00 CEST
        ("America/New_York", "2026-03-08", time(2, 0), "2026-03-08T07:00"),  # 03:00 EDT
        ("Australia/Sydney", "2026-10-04", time(2, 15), "2026-10-03T16:00"),  # 03:00 AEDT
        ("Pacific/Chatham", "2026-09-27", time(3, 0), "2026-09-26T14:00"),  # 03:45 +1345
    ],
)
def test_a_time_that_does_not_exist_moves_to_the_first_valid_minute(
    zone: str, day: str, at: time, expected: str
) -> None:
    assert first_valid(ZoneInfo(zone), date.fromisoformat(day), at) == utc(expected)


@pytest.mark.parametrize(
    ("zone", "at", "first", "next_day"),
    [
        # Clocks fall back over the chosen time: it fires at its first occurrence only.
        ("Europe/Berlin", time(2, 30), "2026-10-25T00:30", "2026-10-26T01:30"),
        ("America/New_York", time(1, 30), "2026-11-01T05:30", "2026-11-02T06:30"),
        ("Australia/Sydney", time(2, 30), "2026-04-04T15:30", "2026-04-05T16:30"),
        ("Pacific/Chatham", time(3, 0), "2026-04-04T13:15", "2026-04-05T14:15"),
    ],
)
def test_a_time_that_happens_twice_fires_once(
    zone: str, at: time, first: str, next_day: str
) -> None:
    start = utc(first) - timedelta(hours=3)
    assert days_of(zone, at, start, 2) == [utc(first), utc(next_day)]


def test_due_is_strictly_after_the_given_moment() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    due = next_due(berlin, time(7, 30), utc("2026-06-01T05:00"))
    assert due == utc("2026-06-01T05:30")
    assert next_due(berlin, time(7, 30), due) == utc("2026-06-02T05:30")
    with pytest.raises(ValueError, match="aware"):
        next_due(berlin, time(7, 30), datetime(2026, 6, 1))


def test_quiet_hours_push_a_late_time_to_the_morning() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    due = next_due(berlin, time(23, 0), utc("2026-06-01T12:00"), quiet=DEFAULT_QUIET)
    assert due == utc("2026-06-02T06:00")  # 08:00 CEST the next morning
    early = next_due(berlin, time(6, 0), utc("2026-06-01T12:00"), quiet=DEFAULT_QUIET)
    assert early == utc("2026-06-02T06:00")
    awake = next_due(berlin, time(12, 0), utc("2026-06-01T12:00"), quiet=DEFAULT_QUIET)
    assert awake == utc("2026-06-02T10:00")


def test_quiet_hours_end_on_local_time_across_a_dst_night() -> None:
    york = ZoneInfo("America/New_York")
    inside = utc("2026-03-08T06:30")  # 01:30 EST, clocks go to 03:00 at 02:00
    assert outside_quiet(york, inside, DEFAULT_QUIET) == utc("2026-03-08T12:00")  # 08:00 EDT


def test_quiet_hours_of_a_day_and_none_at_all() -> None:
    lunch = QuietHours(time(12, 0), time(13, 0))
    assert lunch.contains(time(12, 30)) and not lunch.contains(time(13, 0))
    never = QuietHours(time(9, 0), time(9, 0))
    assert not never.contains(time(9, 0))
    kolkata = ZoneInfo("Asia/Kolkata")
    assert outside_quiet(kolkata, utc("2026-06-01T07:00"), lunch) == utc("2026-06-01T07:30")


def test_each_person_gets_a_fixed_offset_within_the_spread() -> None:
    people = [f"telegram:{n}" for n in range(2000)]
    offsets = [spread_offset(p) for p in people]
    assert offsets == [spread_offset(p) for p in people]
    assert all(-SPREAD <= o <= SPREAD for o in offsets)
    assert len(set(offsets)) > 300  # spread over many seconds, not a few slots
    assert min(offsets) < timedelta(minutes=-2) and max(offsets) > timedelta(minutes=2)


def test_an_offset_never_pushes_a_nudge_into_quiet_hours() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    late = next_due(
        berlin,
        time(21, 59),
        utc("2026-06-01T12:00"),
        offset=timedelta(minutes=3),
        quiet=DEFAULT_QUIET,
    )
    assert late == utc("2026-06-02T06:00")
    early = next_due(berlin, time(7, 30), utc("2026-06-01T12:00"), offset=-SPREAD)
    assert early == utc("2026-06-02T05:27")
