"""Understanding the time of day a person types: ``7``, ``07:30``, ``7.30pm``, ``19h``."""

from __future__ import annotations

import re
from datetime import time

_TIME = re.compile(r"^(\d{1,2})(?:\s*[:.h]\s*(\d{2}))?\s*(am|pm|a\.m\.|p\.m\.|h)?$", re.IGNORECASE)


def parse_local_time(text: str) -> time | None:
    """Read a time of day, or return None when the text is not one."""
    raw = text.strip().lower()
    if not raw or len(raw) > 16:
        return None
    match = _TIME.match(raw)
    if match is None:
        return None
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    suffix = (match.group(3) or "").replace(".", "")
    if suffix in ("am", "pm"):
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if suffix == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def format_local_time(value: time) -> str:
    """Format a time of day the way Mend shows it (24-hour ``HH:MM``)."""
    return f"{value.hour:02d}:{value.minute:02d}"
