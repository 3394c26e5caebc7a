"""A person's local time of day as instants in UTC, right across DST changes.

Everything here is pure: a zone, a local time and a moment in, a UTC instant out. The
scheduler keeps the next due instant of each subscription in the database; this module
decides what that instant is.

- A local time that does not exist on a day (clocks spring forward past it) moves to the
  first valid minute after it: 02:30 on the night Berlin jumps from 02:00 to 03:00 is 03:00.
- A local time that happens twice (clocks fall back) is its first occurrence, and the next
  one after it is the following day's: it fires once.
- Quiet hours (default 22:00 to 08:00 local) push anything due inside them to their end.
- A fixed offset per person spreads a popular slot over a few minutes ("around 07:30").
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo

__all__ = [
    "DEFAULT_QUIET",
    "SPREAD",
    "QuietHours",
    "first_valid",
    "next_due",
    "outside_quiet",
    "spread_offset",
]

_MINUTE = timedelta(minutes=1)
_LONGEST_GAP = timedelta(hours=3)
"""Longer than any clock jump on record; the search for a valid minute stops there."""
SPREAD = timedelta(minutes=3)
"""A person's offset lies within this much either side of the chosen time."""
_SPAN = int(SPREAD.total_seconds())
_OFFSETS = tuple(timedelta(seconds=second) for second in range(-_SPAN, _SPAN + 1))
"""Every possible offset, made once: the tick needs one per due person, and building a
``timedelta`` cost more than the hash that picks it."""


def _exists(moment: datetime) -> bool:
    """Whether an aware local datetime names a real instant (is not inside a gap)."""
    back = moment.astimezone(UTC).astimezone(moment.tzinfo)
    return back.replace(tzinfo=None) == moment.replace(tzinfo=None)


@functools.lru_cache(maxsize=4096)
def first_valid(zone: tzinfo, day: date, at: time) -> datetime:
    """The UTC instant of local ``at`` on ``day``: first occurrence, or just after a gap.

    Cached: a popular time in a popular zone is worked out once a day, not once a person.
    """
    wall = datetime.combine(day, at.replace(second=0, microsecond=0, fold=0), tzinfo=zone)
    moment = wall
    while not _exists(moment):
        moment += _MINUTE  # wall-clock arithmetic: the next minute as written on a clock
        if moment - wall > _LONGEST_GAP:
            raise ValueError(f"no valid local time near {wall.isoformat()} in {zone}")
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local hours in which nothing unasked-for is sent; ``start == end`` means none."""

    start: time
    end: time

    def contains(self, local: time) -> bool:
        """Whether a local time of day falls inside the quiet hours."""
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


DEFAULT_QUIET = QuietHours(time(22, 0), time(8, 0))


def outside_quiet(zone: tzinfo, instant: datetime, quiet: QuietHours) -> datetime:
    """``instant``, or the end of the quiet hours it falls in (as a UTC instant)."""
    local = instant.astimezone(zone)
    if not quiet.contains(local.time()):
        return instant
    day = local.date()
    if quiet.start > quiet.end and local.time() >= quiet.start:
        day += timedelta(days=1)  # evening: quiet ends tomorrow morning
    return first_valid(zone, day, quiet.end)


def spread_offset(person: str) -> timedelta:
    """A fixed offset for one person, within :data:`SPREAD` either side, to the second.

    Derived from a stable hash of ``person`` (say ``"telegram:1001"``), so it never changes
    between restarts or processes.
    """
    digest = hashlib.blake2b(person.encode("utf-8"), digest_size=8).digest()
    return _OFFSETS[int.from_bytes(digest, "big") % len(_OFFSETS)]


def next_due(
    zone: tzinfo,
    at: time,
    after: datetime,
    *,
    offset: timedelta = timedelta(0),
    quiet: QuietHours | None = None,
    weekday: int | None = None,
) -> datetime:
    """The first instant strictly after ``after`` at which a daily ``at`` (local) is due.

    ``offset`` shifts the instant (a person's spread); ``quiet`` then pushes it out of the
    quiet hours; ``weekday`` (0 is Monday) makes it weekly, on that local day. ``after``
    must be aware; the result is in UTC.
    """
    if after.tzinfo is None:
        raise ValueError("after must be an aware datetime")
    if weekday is not None and not 0 <= weekday <= 6:
        raise ValueError("weekday must be 0 (Monday) to 6 (Sunday)")
    day = after.astimezone(zone).date() - timedelta(days=1)
    for _ in range(10):
        if weekday is None or day.weekday() == weekday:
            candidate = first_valid(zone, day, at) + offset
            if quiet is not None:
                candidate = outside_quiet(zone, candidate, quiet)
            if candidate > after:
                return candidate
        day += timedelta(days=1)
    raise AssertionError("a weekly time is always due within nine days")  # pragma: no cover
