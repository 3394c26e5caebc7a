"""What the scheduler delivers: kinds of due item, their priority and their guarantees.

Every kind is either *at most once* or *at least once* when it is unknown whether a send
went out (a time-out, or a crash between the platform call and the commit):

- Nudges (morning action, evening follow-up, weekly check-in reminder) and one-off
  reminders are at most once. Two copies of "today's small step" read as a glitch and
  teach people to mute Mend; a missed one is replaced by tomorrow's.
- A break-end timer is at least once (one repeat at most). A couple waiting out a break
  must be guided back; a second "the break is over" is a small price, silence is not.
- A notice (a message about something a partner just did, for someone Mend can only reach
  on another platform) is at most once, and goes out within an hour or not at all.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta, tzinfo
from enum import IntEnum, StrEnum

from core.schedule.local_time import QuietHours, first_valid

__all__ = [
    "AT_LEAST_ONCE",
    "BREAKS_QUIET",
    "ItemKind",
    "Priority",
    "deliver_by",
    "priority_of",
]


class ItemKind(StrEnum):
    """A kind of due item."""

    MORNING = "morning"
    """The daily micro-action, at the person's chosen local time."""
    EVENING = "evening"
    """The evening follow-up on the day's micro-commitment."""
    WEEKLY = "weekly"
    """The couple's weekly check-in reminder."""
    BREAK_END = "break_end"
    """The end of a ``/pause`` break: the way back."""
    REMINDER = "reminder"
    """A one-off reminder a flow asked for through ``Timers``."""
    NOTICE = "notice"
    """A message about something the couple is doing now (a break, pairing), for a partner
    or group on another platform than the person who acted."""


class Priority(IntEnum):
    """Send order on one platform: lower goes first."""

    REPLY = 0
    """An answer to something a person just did."""
    BREAK = 1
    """A break timer: people are waiting for it."""
    REMINDER = 2
    """A reminder someone asked for."""
    NUDGE = 3
    """Bulk daily and weekly nudges."""


_PRIORITY = {
    ItemKind.MORNING: Priority.NUDGE,
    ItemKind.EVENING: Priority.NUDGE,
    ItemKind.WEEKLY: Priority.NUDGE,
    ItemKind.BREAK_END: Priority.BREAK,
    ItemKind.REMINDER: Priority.REMINDER,
    ItemKind.NOTICE: Priority.BREAK,
}

AT_LEAST_ONCE: frozenset[ItemKind] = frozenset({ItemKind.BREAK_END})
"""Kinds resent once when it is unknown whether they went out; all others are not."""

BREAKS_QUIET: frozenset[ItemKind] = frozenset({ItemKind.BREAK_END, ItemKind.NOTICE})
"""Kinds that may arrive in quiet hours: the answer to a break the couple called, and
notices about what a partner is doing right now."""

_NOON = time(12, 0)
_GRACE = {
    ItemKind.EVENING: timedelta(hours=3),
    ItemKind.WEEKLY: timedelta(hours=12),
    ItemKind.REMINDER: timedelta(hours=1),
    ItemKind.NOTICE: timedelta(hours=1),
}


def priority_of(kind: ItemKind) -> Priority:
    """The send priority of a kind."""
    return _PRIORITY[kind]


def deliver_by(
    kind: ItemKind, zone: tzinfo, due: datetime, quiet: QuietHours | None
) -> datetime | None:
    """The last instant an item due at ``due`` may still go out; None for "always".

    A morning action is good until noon local time on its day (or three hours after it
    is due, if later); a break-end timer is always sent, at once; a notice within the
    hour, quiet hours or not (it is about what the couple is doing). Nothing unasked-for
    goes out in quiet hours: the window also closes when they begin.
    """
    if kind is ItemKind.NOTICE:
        return due + _GRACE[kind]
    if kind in BREAKS_QUIET:
        return None
    if kind is ItemKind.MORNING:
        local_day = due.astimezone(zone).date()
        end = max(first_valid(zone, local_day, _NOON), due + timedelta(hours=3))
    else:
        end = due + _GRACE[kind]
    if quiet is not None and quiet.start != quiet.end:
        quiet_start = _next_quiet_start(zone, due, quiet)
        end = min(end, quiet_start)
    return end


def _next_quiet_start(zone: tzinfo, due: datetime, quiet: QuietHours) -> datetime:
    """The first start of quiet hours strictly after ``due``."""
    day = due.astimezone(zone).date()
    for step in range(3):
        start = first_valid(zone, day + timedelta(days=step), quiet.start)
        if start > due:
            return start
    raise AssertionError("quiet hours start every day")  # pragma: no cover
