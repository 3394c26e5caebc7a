"""The four phases of the repair programme: where a person is, and when to suggest moving on.

Pure logic. A person's phase is stored on their profile (``Profile.phase``, 1 to 4) and only
they change it, from ``/phase``. The first three weeks follow the guides' plan whatever the
phase says (week one damage control only, week two adds small kept promises, week three a
connection practice; see :func:`core.program.plan.slot_for`); after that Mend may *suggest*
the next phase when their own check-ins show it is going well, never moves them on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

__all__ = [
    "FIRST_PHASE",
    "GUIDED_WEEKS",
    "LAST_PHASE",
    "MIN_DAYS_IN_PHASE",
    "PHASES",
    "STEADY_SCORE",
    "STEADY_SHARE",
    "STEADY_WINDOW",
    "Signals",
    "programme_day",
    "suggest_next_phase",
    "week_of_programme",
]

PHASES = (1, 2, 3, 4)
"""Stop making it worse; rebuild trust with tiny kept promises; new patterns of
connection; partners in conflict."""
FIRST_PHASE = PHASES[0]
LAST_PHASE = PHASES[-1]

GUIDED_WEEKS = 3
"""Weeks at the start that follow the guides' plan rather than the stored phase."""

MIN_DAYS_IN_PHASE = 10
"""No suggestion to move on before this many days in a phase."""
STEADY_WINDOW = 14
"""Days of daily steps looked back on (fewer while the phase is younger than this)."""
STEADY_SHARE = 0.6
"""Share of those days with a step marked done that counts as steady."""
STEADY_SCORE = 6
"""A weekly reflection score (1 to 10) at or above this counts as a good week."""


def programme_day(first_day: date, today: date) -> int:
    """Days since the programme began on ``first_day`` (0 on that day, never negative)."""
    return max(0, (today - first_day).days)


def week_of_programme(first_day: date, today: date) -> int:
    """The week of the programme ``today`` falls in: 1 for its first seven days."""
    return programme_day(first_day, today) // 7 + 1


@dataclass(frozen=True, slots=True)
class Signals:
    """What a person's own check-ins say, for :func:`suggest_next_phase`.

    Attributes:
        phase: the phase they are in.
        days_in_phase: whole days since they entered it (or since set-up).
        programme_day: whole days since set-up.
        done_days: distinct days in the last :data:`STEADY_WINDOW` days (at most those
            in the phase) on which they marked a daily step done.
        scores: their weekly reflection scores since entering the phase, newest first.
    """

    phase: int
    days_in_phase: int
    programme_day: int
    done_days: int = 0
    scores: tuple[int, ...] = ()


def suggest_next_phase(signals: Signals) -> int | None:
    """The phase to suggest moving on to, or None when it is not yet time.

    Suggested only after the guided first three weeks, after at least
    :data:`MIN_DAYS_IN_PHASE` days in the phase, and only when their check-ins show it:
    daily steps done on at least 60% of the recent days, or their two latest weekly
    reflections scoring :data:`STEADY_SCORE` or more. Phase 4 has no next phase.
    """
    if signals.phase >= LAST_PHASE or signals.phase < FIRST_PHASE:
        return None
    if signals.programme_day < GUIDED_WEEKS * 7:
        return None
    if signals.days_in_phase < MIN_DAYS_IN_PHASE:
        return None
    window = min(STEADY_WINDOW, signals.days_in_phase)
    steady = signals.done_days >= STEADY_SHARE * window
    good_weeks = len(signals.scores) >= 2 and all(s >= STEADY_SCORE for s in signals.scores[:2])
    return signals.phase + 1 if steady or good_weeks else None
