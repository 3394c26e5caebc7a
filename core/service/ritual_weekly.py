"""``/checkin weekly <day> <HH:MM>`` and ``/checkin weekly off``: the couple's reminder.

One weekly subscription per couple, held by the partner who set it, sent to the couple's
group when one is linked (else to that partner privately). Setting it again, by either
partner, replaces it; ``off`` removes it for both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import Connection

from core.content import Texts
from core.couples import Couple
from core.localtime import format_local_time, parse_local_time
from core.profile import Profile
from core.schedule.kinds import ItemKind
from core.storage.subscriptions import SubscriptionRepository

OFF = "off"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names as typed (their first three letters), Monday first like ``date.weekday``."""
SET_GROUP = "ritual.weekly.set_group"
SET_PRIVATE = "ritual.weekly.set_private"
SET_BUT_OFF = "ritual.weekly.set_but_off"
REMOVED = "ritual.weekly.removed"
NONE = "ritual.weekly.none"
INVALID = "ritual.weekly.invalid"
BUTTON_START = "ritual.weekly.button_start"
"""Label of the button a weekly reminder may carry to open a check-in round."""
MIN_DAY_CHARS = 3


def day_key(weekday: int) -> str:
    """The text key of a day's name."""
    return f"ritual.weekly.days.{DAYS[weekday]}"


def required_keys() -> list[str]:
    """Every text key this module renders."""
    keys = [SET_GROUP, SET_PRIVATE, SET_BUT_OFF, REMOVED, NONE, INVALID, BUTTON_START]
    return keys + [day_key(n) for n in range(len(DAYS))]


def parse_weekday(word: str) -> int | None:
    """Monday 0 … Sunday 6 from "sun", "Sunday" or "sund"; None for anything else."""
    raw = word.strip().strip(".,").lower()
    if len(raw) < MIN_DAY_CHARS:
        return None
    return next((n for n, name in enumerate(_FULL) if name.startswith(raw)), None)


_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True, slots=True)
class WeeklyAnswer:
    """What ``/checkin weekly …`` did: the text key to say and its values."""

    key: str
    values: dict[str, str]


def apply_weekly(
    connection: Connection,
    texts: Texts,
    profile: Profile,
    couple: Couple,
    args: Sequence[str],
    now: datetime,
    *,
    default_timezone: str,
) -> WeeklyAnswer:
    """Set or remove the couple's weekly check-in reminder from the words after "weekly".

    The confirmation names the day and time in the setter's own zone.
    """
    subscriptions = SubscriptionRepository(connection)
    if [a.lower() for a in args] == [OFF]:
        removed = [subscriptions.unsubscribe(p.user, ItemKind.WEEKLY) for p in couple.partners]
        return WeeklyAnswer(REMOVED if any(removed) else NONE, {})
    parsed = _parse(args)
    if parsed is None:
        return WeeklyAnswer(INVALID, {})
    weekday, at = parsed
    for partner in couple.partners:
        if partner.user != profile.user:
            subscriptions.unsubscribe(partner.user, ItemKind.WEEKLY)
    next_at = subscriptions.subscribe(
        profile,
        ItemKind.WEEKLY,
        at,
        now,
        default_timezone=default_timezone,
        weekday=weekday,
        chat=couple.group,
    )
    values = {
        "item": texts.render(day_key(weekday)),
        "next_time": format_local_time(at),
        "timezone": profile.timezone or default_timezone,
    }
    key = SET_BUT_OFF if next_at is None else SET_GROUP if couple.group else SET_PRIVATE
    return WeeklyAnswer(key, values)


def _parse(args: Sequence[str]) -> tuple[int, time] | None:
    if len(args) < 2:
        return None
    weekday = parse_weekday(args[0])
    at = parse_local_time(" ".join(args[1:]))
    if weekday is None or at is None:
        return None
    return weekday, at
