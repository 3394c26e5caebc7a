"""Return times and break lengths in words: each partner's own clock, "tomorrow", "2 hours"."""

from __future__ import annotations

from datetime import datetime, timedelta

from core.content import Texts
from core.couples import Couple, Partner
from core.localtime import format_local_time
from core.profile import MAX_NAME_CHARS
from core.text_input import clean_text
from core.timezones import resolve_timezone

TIME_FOR = "pause.time_for"
TIME_IN_ZONE = "pause.time_in_zone"
TIME_TOMORROW = "pause.time_tomorrow"
TIME_ON = "pause.time_on"
LENGTH_MINUTES = "pause.length.minutes"
LENGTH_HOUR = "pause.length.hour"
LENGTH_HOURS = "pause.length.hours"
LENGTH_BOTH = "pause.length.both"
KEYS = (
    TIME_FOR,
    TIME_IN_ZONE,
    TIME_TOMORROW,
    TIME_ON,
    LENGTH_MINUTES,
    LENGTH_HOUR,
    LENGTH_HOURS,
    LENGTH_BOTH,
)
"""Every text key this module renders."""
_JOIN = ", "
_MINUTES_PER_HOUR = 60


class BreakWords:
    """Renders times and lengths for break messages."""

    def __init__(self, texts: Texts, default_timezone: str) -> None:
        self._texts = texts
        self._default_timezone = default_timezone

    def when(self, at: datetime, now: datetime, timezone: str | None) -> str:
        """``at`` on the clock of ``timezone``: "21:40", "21:40 tomorrow" or with its date."""
        zone = resolve_timezone(timezone or self._default_timezone)
        local, today = at.astimezone(zone), now.astimezone(zone).date()
        shown = format_local_time(local.time())
        days = (local.date() - today).days
        if days <= 0:
            return shown
        if days == 1:
            return self._texts.render(TIME_TOMORROW, {"when": shown})
        return self._texts.render(TIME_ON, {"when": shown, "next_date": local.date().isoformat()})

    def when_for(self, couple: Couple, at: datetime, now: datetime) -> str:
        """``at`` for both partners: one time when their clocks agree, else each one's own."""
        first, second = couple.partners
        times = [self.when(at, now, p.timezone) for p in couple.partners]
        if times[0] == times[1]:
            return times[0]
        pairs = zip((first, second), times, strict=True)
        return _JOIN.join(self._for(partner, shown) for partner, shown in pairs)

    def length(self, length: timedelta) -> str:
        """A break length in words: "45 minutes", "2 hours", "1 hour and 30 minutes"."""
        hours, minutes = divmod(int(length.total_seconds()) // 60, _MINUTES_PER_HOUR)
        parts = []
        if hours == 1:
            parts.append(self._texts.render(LENGTH_HOUR))
        elif hours:
            parts.append(self._texts.render(LENGTH_HOURS, {"number": str(hours)}))
        if minutes or not hours:
            parts.append(self._texts.render(LENGTH_MINUTES, {"number": str(minutes)}))
        if len(parts) == 1:
            return parts[0]
        return self._texts.render(LENGTH_BOTH, {"item": parts[0], "text": parts[1]})

    def _for(self, partner: Partner, shown: str) -> str:
        name = clean_text(partner.name or "")[:MAX_NAME_CHARS]
        if name:
            return self._texts.render(TIME_FOR, {"when": shown, "name": name})
        zone = partner.timezone or self._default_timezone
        return self._texts.render(TIME_IN_ZONE, {"when": shown, "timezone": zone})
