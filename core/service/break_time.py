"""How long a break lasts: what ``/pause`` accepts, and the fixed steps of the protocol."""

from __future__ import annotations

import re
from datetime import timedelta

DEFAULT_BREAK = timedelta(minutes=20)
"""``/pause`` on its own (and the code word): long enough for a racing body to settle."""
SHORTEST_BREAK = timedelta(minutes=20)
"""Anything shorter rarely lets the heart rate come down; it is refused, not rounded up."""
LONGEST_BREAK = timedelta(hours=24)
"""The 24-hour rule is the longest break ``/pause`` calls."""
LONG_RULE = timedelta(hours=24)
"""A break this long is the 24-hour rule ("let's continue tomorrow")."""
MORE_TIME = timedelta(minutes=20)
"""What one "I need more time" adds, from the return time or from now if that has passed."""
CAP_WINDOW = timedelta(hours=24)
"""The window in which a person's breaks are counted against the cap."""

_MAX_TEXT = 24
_DURATION = re.compile(
    r"^(?:(?P<hours>\d{1,2})\s*(?:h|hr|hrs|hour|hours)(?![a-z]))?"
    r"\s*(?:(?P<minutes>\d{1,4})\s*(?:m|min|mins|minute|minutes)?)?$",
    re.IGNORECASE,
)


def parse_duration(text: str) -> timedelta | None:
    """The break length ``text`` asks for, or None if it is not one ``/pause`` accepts.

    Empty text is the default 20 minutes. Accepted: ``45m``, ``45 min``, ``90`` (minutes),
    ``2h``, ``1h30m``, ``1h 30``, ``24h``; from 20 minutes to 24 hours.
    """
    raw = text.strip()
    if not raw:
        return DEFAULT_BREAK
    if len(raw) > _MAX_TEXT:
        return None
    match = _DURATION.match(raw)
    if match is None or (match.group("hours") is None and match.group("minutes") is None):
        return None
    length = timedelta(
        hours=int(match.group("hours") or 0), minutes=int(match.group("minutes") or 0)
    )
    if not SHORTEST_BREAK <= length <= LONGEST_BREAK:
        return None
    return length


def whole_minutes(length: timedelta) -> int:
    """``length`` in whole minutes (what a button payload carries)."""
    return int(length.total_seconds()) // 60
