"""Understanding the time zone a person types: a city, an IANA name or a UTC offset."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

_OFFSET = re.compile(
    r"^(?:utc|gmt|z)?\s*([+-])\s*(\d{1,2})(?:(?::|\.|h)?(\d{2}))?$|^(?:utc|gmt|z)$", re.IGNORECASE
)
_STORED_OFFSET = re.compile(r"^UTC([+-])(\d{2}):(\d{2})$")
_MAX_LEN = 64
_NOT_PLACES = frozenset({"localtime", "factory", "posixrules"})
_JANUARY, _JULY = datetime(2026, 1, 15, 12, tzinfo=UTC), datetime(2026, 7, 15, 12, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class TimeZoneChoice:
    """A time zone a person chose.

    Attributes:
        name: the stored form: an IANA name (``Europe/Berlin``) or ``UTC+05:30``.
        follows_dst: True if the zone's offset changes during the year (daylight saving).
    """

    name: str
    follows_dst: bool


_REGIONS = (
    "Africa/",
    "America/",
    "Antarctica/",
    "Asia/",
    "Atlantic/",
    "Australia/",
    "Europe/",
    "Indian/",
    "Pacific/",
)


@cache
def _zones_by_city() -> dict[str, str]:
    """Map lower-case city names (``berlin``, ``new york``) to one canonical IANA name each."""
    by_city: dict[str, str] = {}
    for name in sorted(available_timezones()):
        if name.startswith(_REGIONS):
            by_city.setdefault(name.rsplit("/", 1)[1].replace("_", " ").lower(), name)
    return by_city


@cache
def _zones_lower() -> dict[str, str]:
    return {
        name.lower(): name
        for name in available_timezones()
        if name.lower() not in _NOT_PLACES and not name.startswith(("posix/", "right/"))
    }


def _follows_dst(name: str) -> bool:
    zone = ZoneInfo(name)
    return _JANUARY.astimezone(zone).utcoffset() != _JULY.astimezone(zone).utcoffset()


def _offset_name(sign: str, hours: int, minutes: int) -> str | None:
    if minutes >= 60 or hours > 14 or (hours == 14 and minutes > 0):
        return None
    if hours == 0 and minutes == 0:
        return "UTC"
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def parse_timezone(text: str) -> TimeZoneChoice | None:
    """Read a time zone from what a person typed, or return None if it is not one.

    Accepts a city (``Berlin``, ``new york``), an IANA name (``Europe/Berlin``) and offsets
    (``UTC+2``, ``+02:00``, ``GMT-5``, ``UTC+5:30``).
    """
    raw = " ".join(text.strip().split())
    if not raw or len(raw) > _MAX_LEN:
        return None
    offset = _OFFSET.match(raw.replace(" ", ""))
    if offset is not None:
        if offset.group(1) is None:
            return TimeZoneChoice("UTC", follows_dst=False)
        name = _offset_name(offset.group(1), int(offset.group(2)), int(offset.group(3) or 0))
        return TimeZoneChoice(name, follows_dst=False) if name else None
    name = _zones_lower().get(raw.lower().replace(" ", "_"))
    name = name or _zones_by_city().get(raw.lower().replace("_", " "))
    return TimeZoneChoice(name, follows_dst=_follows_dst(name)) if name else None


@cache
def resolve_timezone(name: str) -> tzinfo:
    """Return the ``tzinfo`` for a stored time zone name.

    Raises:
        ValueError: if ``name`` is neither an IANA zone nor ``UTC±HH:MM``.
    """
    offset = _STORED_OFFSET.match(name)
    if offset is not None:
        sign = 1 if offset.group(1) == "+" else -1
        delta = timedelta(hours=int(offset.group(2)), minutes=int(offset.group(3)))
        return timezone(sign * delta, name)
    if name not in _zones_lower().values():
        raise ValueError(f"unknown time zone {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc
