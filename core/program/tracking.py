"""Tracking the small things, as pure functions: promises, moments, reflections, progress.

Nothing here reads a clock or a database. The desks hand in a person's local day, their
rows as plain values, and get back numbers and the names of the lines to say.

- Follow-through is "kept N of the last M" promises a person answered for: a slip lowers
  the share a little and never resets anything to zero.
- Weeks are ISO weeks of the person's local dates (``2026-W10``).
- The balance of good and hard moments is shown against about five to one, to the person
  only.
- Generic praise ("you're amazing") is told apart from specific appreciation by simple,
  explainable word rules.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from core.schedule.local_time import QuietHours, first_valid, outside_quiet

__all__ = [
    "APPRECIATION",
    "BALANCE_GOAL",
    "EVENING_AT",
    "EVENING_DELAY",
    "FOLLOW_THROUGH_WINDOW",
    "HURT",
    "LOW_SCORE",
    "MISSES_BEFORE_OFFER",
    "PROGRESS_WEEKS",
    "Balance",
    "Celebration",
    "FollowThrough",
    "ProgressSummary",
    "WeekPoint",
    "appreciation_celebration",
    "balance_of",
    "evening_question_at",
    "first_day_of",
    "follow_through",
    "is_specific",
    "journal_celebration",
    "local_day",
    "missed_in_a_row",
    "parse_day",
    "progress_series",
    "promise_celebration",
    "recent_weeks",
    "suggestion_indices",
    "summarise",
    "week_key",
    "week_of",
]

FOLLOW_THROUGH_WINDOW = 14
"""Follow-through counts the last this many promises a person answered for."""
MISSES_BEFORE_OFFER = 3
"""After this many "not today" answers in a row, the stages-of-healing offer is shown."""
BALANCE_GOAL = 5
"""Good moments to aim for against each hard one (about five to one)."""
LOW_SCORE = 4
"""A weekly score at or below this is met gently, with the healing offer."""
PROGRESS_WEEKS = 12
"""How many weeks ``/progress`` shows."""
EVENING_AT = time(20, 0)
"""When the evening question about the day's promise comes, local time."""
EVENING_DELAY = timedelta(hours=1)
"""How long after a promise made past :data:`EVENING_AT` the question comes instead."""

APPRECIATION = "appreciation"
"""The ``moments.kind`` of something good a person noticed (``/appreciate``)."""
HURT = "hurt"
"""The ``moments.kind`` of a hurtful moment (``/ouch``)."""

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


# --------------------------------------------------------------------------- days and weeks


def local_day(now: datetime, zone: tzinfo) -> date:
    """The person's local date at the instant ``now``."""
    return now.astimezone(zone).date()


def parse_day(text: str) -> date | None:
    """A ``YYYY-MM-DD`` date, or None for anything else (a garbled or forged payload)."""
    if not _DAY.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


_DAYS_A_WEEK = 7


def week_key(day: date) -> str:
    """The ISO week ``day`` falls in, as stored: ``2026-W09``."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_of(local_date: str) -> str | None:
    """The ISO week of a stored ``YYYY-MM-DD``; None if it is not a date."""
    day = parse_day(local_date)
    return week_key(day) if day is not None else None


def recent_weeks(today: date, count: int = PROGRESS_WEEKS) -> tuple[str, ...]:
    """The ``count`` ISO weeks up to and including ``today``'s, oldest first."""
    return tuple(week_key(today - timedelta(weeks=back)) for back in range(count - 1, -1, -1))


def first_day_of(today: date, count: int = PROGRESS_WEEKS) -> date:
    """The Monday that starts the oldest of the ``count`` weeks up to ``today``'s."""
    monday = today - timedelta(days=today.weekday())
    return monday - timedelta(weeks=count - 1)


# --------------------------------------------------------------------------- promises


@dataclass(frozen=True, slots=True)
class FollowThrough:
    """Follow-through as "kept N of the last M" answered promises.

    Attributes:
        kept: promises kept among the last ``answered``.
        answered: promises answered for, at most :data:`FOLLOW_THROUGH_WINDOW`.
    """

    kept: int
    answered: int


def follow_through(answers: Sequence[bool], window: int = FOLLOW_THROUGH_WINDOW) -> FollowThrough:
    """Follow-through over the newest ``window`` answers (``answers`` newest first).

    A slip is one "not kept" among the others: it never resets the count.
    """
    recent = list(answers[:window])
    return FollowThrough(kept=sum(1 for kept in recent if kept), answered=len(recent))


def missed_in_a_row(answers: Sequence[bool]) -> int:
    """How many of the newest answers (newest first) were "not kept", before a kept one."""
    count = 0
    for kept in answers:
        if kept:
            break
        count += 1
    return count


def evening_question_at(
    zone: tzinfo,
    now: datetime,
    quiet: QuietHours,
    *,
    at: time = EVENING_AT,
    delay: timedelta = EVENING_DELAY,
) -> datetime:
    """When to ask "did you keep it?" about a promise made at ``now`` (a UTC instant).

    At ``at`` (20:00) local time that day; a promise made later than ``delay`` (an hour)
    before that is asked about ``delay`` after it was made, so a promise made at 19:55 is
    not asked about five minutes later. Nothing is asked inside quiet hours: a time
    that falls there moves to their end, which is the next morning with the default
    hours (22:00 to 08:00).
    """
    target = first_valid(zone, local_day(now, zone), at)
    if target < now + delay:
        target = now + delay
    return outside_quiet(zone, target, quiet)


def suggestion_indices(person: str, day: date, pool: int, count: int = 3) -> tuple[int, ...]:
    """``count`` distinct positions in a pool of ``pool`` suggestions, fixed per person and day.

    A double tap or a repeated command on the same day shows the same three.
    """
    if pool <= 0:
        return ()
    digest = hashlib.blake2b(f"{person}|{day.isoformat()}".encode(), digest_size=16).digest()
    order = sorted(
        range(pool), key=lambda i: hashlib.blake2b(digest + i.to_bytes(4, "big")).digest()
    )
    return tuple(order[: min(count, pool)])


# --------------------------------------------------------------------------- moments


@dataclass(frozen=True, slots=True)
class Balance:
    """Good and hard moments a person logged in one week.

    Attributes:
        good: appreciations logged.
        hard: hurtful moments logged.
    """

    good: int
    hard: int

    @property
    def ratio(self) -> str:
        """Good moments per hard one, to one decimal (``"3.5"``, ``"4"``); "" with no hard one."""
        if self.hard == 0:
            return ""
        return f"{self.good / self.hard:.1f}".removesuffix(".0")

    @property
    def at_goal(self) -> bool:
        """True when there are at least :data:`BALANCE_GOAL` good moments per hard one."""
        return self.hard > 0 and self.good >= BALANCE_GOAL * self.hard


def balance_of(moments: Iterable[tuple[str, str]], week: str) -> Balance:
    """The balance of ``week`` from ``(kind, local date)`` pairs."""
    good = hard = 0
    for kind, local_date in moments:
        if week_of(local_date) != week:
            continue
        if kind == APPRECIATION:
            good += 1
        elif kind == HURT:
            hard += 1
    return Balance(good, hard)


_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

_GENERIC_TEXT = """
    a about after again all also always am an and any anything are as at be been being best
    but by can could day did do does doing done ever every everything for from had has have
    having he he's her here hers him his how i i'm i've if in is it it's its just let me more
    most much my myself no not now of oh on one or our ours out really she she's so some
    something still such than that that's the their them then there these they they're this
    those to today too truly us very was way we well were what when which who whole will with
    would you you're your yours yourself
    amazing awesome beautiful brilliant caring considerate cute fab fabulous fantastic fine
    generous gentle gorgeous good great happy helpful incredible kind lovely loving lucky
    marvellous marvelous nice patient perfect precious special stunning superb supportive
    sweet sweetest terrific thoughtful understanding wonderful best better greatest nicest
    thank thanks thankful grateful appreciate appreciated appreciating appreciation love loved
    lovely adore adored like liked
    partner husband wife boyfriend girlfriend person people human guy girl man woman someone
    everyone life world lot lots thing things stuff
"""
_GENERIC_WORDS = frozenset(_GENERIC_TEXT.split())
"""Words that carry no concrete detail: function words, and praise that fits anything."""

MIN_CONCRETE_WORDS = 2
"""A specific appreciation names at least this many concrete words (what, where, when)."""


def _concrete_words(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", text).casefold().replace("’", "'")
    return [w for w in _WORD.findall(folded) if w not in _GENERIC_WORDS and not w.isdigit()]


def is_specific(text: str) -> bool:
    """True if an appreciation names something concrete, not just praise that fits anyone.

    The rule, kept simple so it can be explained: after dropping function words and
    all-purpose praise ("nice", "amazing", "the best", "thanks for everything"), at least
    :data:`MIN_CONCRETE_WORDS` words must be left (an action, an object, a moment).
    "She made coffee before I woke up" is specific; "you're the best" is not.
    """
    return len(_concrete_words(text)) >= MIN_CONCRETE_WORDS


# --------------------------------------------------------------------------- progress


@dataclass(frozen=True, slots=True)
class WeekPoint:
    """One week of ``/progress``.

    Attributes:
        week: the ISO week (``2026-W10``).
        score: the weekly reflection's score (1-10), or None without one.
        promises_kept: promises of that week answered "kept".
        promises_answered: promises of that week answered at all.
        steps_done: days that week with a daily step marked done.
        good: appreciations logged that week.
        hard: hurtful moments logged that week.
        days: the days of that week so far: 7, or for the current week the days up to
            and including today (two on a Tuesday).
    """

    week: str
    score: int | None = None
    promises_kept: int = 0
    promises_answered: int = 0
    steps_done: int = 0
    good: int = 0
    hard: int = 0
    days: int = _DAYS_A_WEEK

    @property
    def steps_share(self) -> float | None:
        """Days with a step done as a share of the week's days so far, or None with none.

        A week that has only begun is not shown as a poor one: two steps by Tuesday is
        all of it.
        """
        if not self.steps_done:
            return None
        return min(self.steps_done, self.days) / self.days

    @property
    def kept_share(self) -> float | None:
        """Kept promises as a share of answered ones (0 to 1), or None with none answered."""
        if self.promises_answered == 0:
            return None
        return self.promises_kept / self.promises_answered

    @property
    def has_data(self) -> bool:
        """True if anything at all was recorded that week."""
        return bool(
            self.score is not None
            or self.promises_answered
            or self.steps_done
            or self.good
            or self.hard
        )


def progress_series(
    weeks: Sequence[str],
    scores: Mapping[str, int],
    promises: Iterable[tuple[str, bool | None]],
    steps_done: Iterable[str],
    moments: Iterable[tuple[str, str]],
    today: date | None = None,
) -> tuple[WeekPoint, ...]:
    """One point per week of ``weeks`` from a person's rows.

    Args:
        weeks: the ISO weeks to show, oldest first.
        scores: weekly reflection scores by week.
        promises: ``(local date, kept)`` of each promise; None for unanswered.
        steps_done: local dates of daily steps marked done (a day counts once).
        moments: ``(kind, local date)`` of each logged moment.
        today: the person's local date: its week counts only the days so far.
    """
    current = week_key(today) if today is not None else None
    wanted = set(weeks)
    kept: dict[str, int] = dict.fromkeys(weeks, 0)
    answered: dict[str, int] = dict.fromkeys(weeks, 0)
    for local_date, was_kept in promises:
        week = week_of(local_date)
        if week in wanted and was_kept is not None:
            answered[week] += 1
            kept[week] += int(was_kept)
    done_days: dict[str, set[str]] = {week: set() for week in weeks}
    for local_date in steps_done:
        week = week_of(local_date)
        if week in wanted:
            done_days[week].add(local_date)
    listed = list(moments)
    return tuple(
        WeekPoint(
            week=week,
            score=scores.get(week),
            promises_kept=kept[week],
            promises_answered=answered[week],
            steps_done=len(done_days[week]),
            good=balance_of(listed, week).good,
            hard=balance_of(listed, week).hard,
            days=today.isoweekday() if today is not None and week == current else _DAYS_A_WEEK,
        )
        for week in weeks
    )


@dataclass(frozen=True, slots=True)
class ProgressSummary:
    """The numbers of the two summary lines under the chart.

    Attributes:
        latest_score: the newest weekly score shown, or None.
        latest_week: its week, or None.
        average_score: the mean of the scores shown, to one decimal ("" without any).
        scored_weeks: how many weeks have a score.
        promises_kept: promises kept over the weeks shown.
        promises_answered: promises answered over the weeks shown.
        steps_done: days with a daily step done over the weeks shown.
        good: appreciations over the weeks shown.
        hard: hurtful moments over the weeks shown.
    """

    latest_score: int | None
    latest_week: str | None
    average_score: str
    scored_weeks: int
    promises_kept: int
    promises_answered: int
    steps_done: int
    good: int
    hard: int

    @property
    def has_data(self) -> bool:
        """True if there is anything to chart."""
        return bool(
            self.scored_weeks or self.promises_answered or self.steps_done or self.good or self.hard
        )


def summarise(points: Sequence[WeekPoint]) -> ProgressSummary:
    """The totals and the latest score of a series."""
    scored = [p for p in points if p.score is not None]
    latest = scored[-1] if scored else None
    average = ""
    if scored:
        mean = sum(p.score or 0 for p in scored) / len(scored)
        average = f"{mean:.1f}".removesuffix(".0")
    return ProgressSummary(
        latest_score=latest.score if latest else None,
        latest_week=latest.week if latest else None,
        average_score=average,
        scored_weeks=len(scored),
        promises_kept=sum(p.promises_kept for p in points),
        promises_answered=sum(p.promises_answered for p in points),
        steps_done=sum(p.steps_done for p in points),
        good=sum(p.good for p in points),
        hard=sum(p.hard for p in points),
    )


# --------------------------------------------------------------------------- celebrations


class Celebration(StrEnum):
    """A short line when something improved, or a gentle one when it did not."""

    FIRST_ENTRY = "first_entry"
    SCORE_UP = "score_up"
    PROMISES_UP = "promises_up"
    APPRECIATIONS_UP = "appreciations_up"
    STEPS_UP = "steps_up"
    STEADY = "steady"
    LOW = "low"
    DIP = "dip"
    FIRST_KEPT = "first_kept"
    FIRST_APPRECIATION = "first_appreciation"

    @property
    def offers_healing(self) -> bool:
        """True for the gentle lines, which come with the stages-of-healing offer."""
        return self in (Celebration.LOW, Celebration.DIP)


def _share_up(this: WeekPoint, last: WeekPoint) -> bool:
    now, before = this.kept_share, last.kept_share
    return now is not None and before is not None and now > before


def journal_celebration(
    score: int, previous: int | None, this_week: WeekPoint, last_week: WeekPoint
) -> Celebration | None:
    """The one line after a weekly reflection, first match wins.

    A low score (at most :data:`LOW_SCORE`) or a lower one than last time is met gently.
    Otherwise: the first reflection, a higher score, more promises kept (as a share), more
    appreciations, more days with a daily step done than the week before, or a steady
    score. None when nothing stands out.
    """
    if score <= LOW_SCORE:
        return Celebration.LOW
    if previous is not None and score < previous:
        return Celebration.DIP
    if previous is None:
        return Celebration.FIRST_ENTRY
    if score > previous:
        return Celebration.SCORE_UP
    if _share_up(this_week, last_week):
        return Celebration.PROMISES_UP
    if this_week.good > last_week.good:
        return Celebration.APPRECIATIONS_UP
    if this_week.steps_done > last_week.steps_done:
        return Celebration.STEPS_UP
    return Celebration.STEADY


def promise_celebration(kept: bool, kept_before: int) -> Celebration | None:
    """The first promise ever kept gets a line of its own."""
    return Celebration.FIRST_KEPT if kept and kept_before == 0 else None


def appreciation_celebration(this_week: int, last_week: int, ever: int) -> Celebration | None:
    """After logging an appreciation: the very first, or the one that passes last week.

    ``this_week`` and ``ever`` include the one just logged; the "more than last week" line
    comes once, on the appreciation that first tops last week's count.
    """
    if ever == 1:
        return Celebration.FIRST_APPRECIATION
    if last_week > 0 and this_week == last_week + 1:
        return Celebration.APPRECIATIONS_UP
    return None
