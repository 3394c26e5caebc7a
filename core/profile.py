"""A person's coaching profile: the few facts flows may read and set."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, time
from enum import StrEnum

from core.localtime import format_local_time
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

SETTABLE_FIELDS: dict[str, tuple[str, ...]] = {
    "is_adult": ("true", "false"),
    "consented": ("true", "false"),
    "situation": tuple(s.value for s in Situation),
    "safety_mode": ("true",),
}
"""Fields a flow button may set with ``set:``, and the values each accepts.

``safety_mode`` can only be switched on by a flow (an answer that points to abuse or fear);
a person ends it deliberately from ``/safety``, never by a flow button.
"""


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

    @property
    def onboarded(self) -> bool:
        """True once set-up is complete."""
        return self.onboarded_at is not None

    def placeholders(self, default_timezone: str) -> dict[str, str]:
        """Values a text may show with ``$name``, ``$timezone`` and ``$daily_time``."""
        return {
            "name": clean_text(self.user.display_name or "")[:MAX_NAME_CHARS] or "there",
            "timezone": self.timezone or default_timezone,
            "daily_time": format_local_time(self.daily_time) if self.daily_time else "",
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
        return replace(self, situation=Situation(value))
