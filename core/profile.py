"""A person's coaching profile: the few facts flows may read and set."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from datetime import datetime, time
from enum import StrEnum

from core.localtime import format_local_time
from core.schedule.local_time import DEFAULT_QUIET, QuietHours
from core.text_input import clean_text
from core.types import UserRef


class Situation(StrEnum):
    """Where a person says they are with their partner."""

    TOGETHER_STRUGGLING = "together_struggling"
    ON_A_BREAK = "on_a_break"
    SEPARATED = "separated"
    TOGETHER_GROWING = "together_growing"


MAX_NAME_CHARS = 64
"""Longest display name shown in a greeting; platform names are cleaned like typed text."""

QUIET_CHOICES: dict[str, tuple[time, time] | None] = {
    "default": None,
    "22-06": (time(22, 0), time(6, 0)),
    "23-07": (time(23, 0), time(7, 0)),
    "21-07": (time(21, 0), time(7, 0)),
    "00-09": (time(0, 0), time(9, 0)),
    "09-17": (time(9, 0), time(17, 0)),
}
"""Quiet hours a person may choose in ``/settings``: ``start-end`` local hours.

``default`` follows :data:`~core.schedule.local_time.DEFAULT_QUIET` (22:00 to 08:00).
There is deliberately no "none": quiet hours only ever hold back what a person did not
ask for at that moment, and someone who sleeps by day picks ``09-17`` instead.
"""

SETTABLE_FIELDS: dict[str, tuple[str, ...]] = {
    "is_adult": ("true", "false"),
    "consented": ("true", "false"),
    "situation": tuple(s.value for s in Situation),
    "safety_mode": ("true",),
    "quiet_hours": tuple(QUIET_CHOICES),
}
"""Fields a flow button may set with ``set:``, and the values each accepts.

``safety_mode`` can only be switched on by a flow (an answer that points to abuse or fear);
a person ends it deliberately from ``/safety``, never by a flow button. ``quiet_hours``
sets ``quiet_start`` and ``quiet_end`` together, from :data:`QUIET_CHOICES`.
"""


@functools.lru_cache(maxsize=64)
def _quiet_text(start: time | None, end: time | None) -> str:
    """Quiet hours as shown (``22:00–08:00``); few distinct values, shown in every nudge."""
    if start is None or end is None:
        start, end = DEFAULT_QUIET.start, DEFAULT_QUIET.end
    return f"{format_local_time(start)}–{format_local_time(end)}"


@dataclass(frozen=True, slots=True)
class Profile:
    """What Mend keeps about one person on one platform.

    Attributes:
        user: who this is.
        is_adult: the person's own answer to "are you 18 or older?", or None if not asked yet.
        consented: whether they agreed that Mend may store what they write.
        timezone: their IANA zone or ``UTC±HH:MM``, or None if not set.
        daily_time: local time of day for their daily action, or None.
        situation: where they said they are, or None.
        onboarded_at: when they finished setting up, or None.
        safety_mode: True while Mend keeps to self-care and safety help for this person:
            no couple exercises, no reconnecting nudges, no group rituals started for them.
        safety_since: when safety mode began, or None.
        quiet_start: start of their quiet hours, or None for the default.
        quiet_end: end of their quiet hours, or None for the default.
        nudges_stopped: True after ``/stop``: no daily or weekly nudges until ``/resume``.
        unreachable_since: when the platform last refused a scheduled message to them
            (blocked bot, closed DMs), or None. Their nudges are off; Mend tells them the
            next time they write.
        phase: the phase of the repair programme they are in (1 to 4); they choose when
            to move on (``/phase``).
        phase_since: when they entered that phase, or None before the programme began.
        plan: their coming daily steps, encoded by ``core.program.plan`` ("" for none yet).
        recent: the daily steps they were shown lately, encoded by ``core.program.plan``,
            so none comes back too soon after the plan is rebuilt.
    """

    user: UserRef
    is_adult: bool | None = None
    consented: bool = False
    timezone: str | None = None
    daily_time: time | None = None
    situation: Situation | None = None
    onboarded_at: datetime | None = None
    safety_mode: bool = False
    safety_since: datetime | None = None
    quiet_start: time | None = None
    quiet_end: time | None = None
    nudges_stopped: bool = False
    unreachable_since: datetime | None = None
    phase: int = 1
    phase_since: datetime | None = None
    plan: str = ""
    recent: str = ""

    @property
    def onboarded(self) -> bool:
        """True once set-up is complete."""
        return self.onboarded_at is not None

    @property
    def quiet(self) -> QuietHours:
        """Their quiet hours: their own, or the default 22:00 to 08:00."""
        if self.quiet_start is None or self.quiet_end is None:
            return DEFAULT_QUIET
        return QuietHours(self.quiet_start, self.quiet_end)

    def placeholders(self, default_timezone: str) -> dict[str, str]:
        """Values a text may show: ``$name``, ``$timezone``, ``$daily_time``, ``$quiet_hours``."""
        name = self.user.display_name
        return {
            "name": (clean_text(name)[:MAX_NAME_CHARS] if name else "") or "there",
            "timezone": self.timezone or default_timezone,
            "daily_time": format_local_time(self.daily_time) if self.daily_time else "",
            "quiet_hours": _quiet_text(self.quiet_start, self.quiet_end),
        }

    def with_field(self, name: str, value: str) -> Profile:
        """Return a copy with one settable field changed from its content string form.

        Raises:
            ValueError: if the field is not settable or the value is not allowed.
        """
        if value not in SETTABLE_FIELDS.get(name, ()):
            raise ValueError(f"cannot set {name!r} to {value!r}")
        if name == "is_adult":
            return replace(self, is_adult=value == "true")
        if name == "consented":
            return replace(self, consented=value == "true")
        if name == "safety_mode":
            return replace(self, safety_mode=True)
        if name == "quiet_hours":
            hours = QUIET_CHOICES[value]
            start, end = hours if hours is not None else (None, None)
            return replace(self, quiet_start=start, quiet_end=end)
        return replace(self, situation=Situation(value))
