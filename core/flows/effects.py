"""What a flow step may trigger: effects (pure profile changes), actions and notes.

Effects run inside the engine. Actions and notes are requests the engine hands back to the
service, which carries them out in the same transaction (the engine does no I/O).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from core.profile import Profile
from core.program.names import PROGRAM_ACTIONS, PROGRAM_NOTES
from core.rituals import RITUAL_ACTIONS, RITUAL_NOTES

Effect = Callable[[Profile, datetime], Profile]


def _complete_onboarding(profile: Profile, now: datetime) -> Profile:
    return replace(profile, onboarded_at=profile.onboarded_at or now)


def _forget_setup(profile: Profile, now: datetime) -> Profile:
    return replace(
        profile, consented=False, timezone=None, daily_time=None, situation=None, onboarded_at=None
    )


EFFECTS: dict[str, Effect] = {
    "complete_onboarding": _complete_onboarding,
    "forget_setup": _forget_setup,
}
"""Every effect a flow may name with ``effect:``."""

DELETE_PERSON = "delete_person"
"""Remove every row about the person, in every table."""

SHOW_SAFETY_PLAN = "show_safety_plan"
"""Show the person their own safety plan."""

EXPORT_PERSON = "export_person"
"""Send the person everything stored about them (service only, from ``/export``)."""

SAFETY_STATUS = "safety_status"
"""Show whether safety mode is on, with its buttons (service only, from ``/safety``)."""

ACTIONS: frozenset[str] = (
    frozenset({DELETE_PERSON, SHOW_SAFETY_PLAN}) | RITUAL_ACTIONS | PROGRAM_ACTIONS
)
"""Every action a flow step may name with ``action:`` (the rituals' own: ``core.rituals``;
the programme's: ``core.program.names``)."""

NOTES: frozenset[str] = (
    frozenset(
        {"safety_plan.signs", "safety_plan.coping", "safety_plan.people", "safety_plan.place"}
    )
    | RITUAL_NOTES
    | PROGRAM_NOTES
)
"""Where a ``kind: note`` input may keep a person's words: ``<store>.<item>`` (a ritual
answer: ``<ritual>.<item>``, see ``core.rituals``)."""
