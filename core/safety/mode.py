"""What Mend may offer a person in safety mode: the one rule every later feature asks.

Safety mode follows a disclosure of danger from a partner (or an assessment answer that
points to abuse or fear). Couple work is the wrong tool then: Mend keeps to self-care and
support until the person ends the mode deliberately from ``/safety``.
"""

from __future__ import annotations

from enum import StrEnum

from core.profile import Profile


class Offer(StrEnum):
    """Kinds of thing Mend may start or suggest for a person."""

    COUPLE_EXERCISE = "couple_exercise"
    """Anything done with or towards the partner."""
    RECONNECT_NUDGE = "reconnect_nudge"
    """A reminder or suggestion to reach out to the partner or "work on it"."""
    GROUP_RITUAL = "group_ritual"
    """A shared ritual in the couple's group: check-ins, repair walks, celebrations."""
    SELF_CARE = "self_care"
    """Looking after oneself: rest, support, grounding, people who help."""
    SAFETY_HELP = "safety_help"
    """Resources, tech-safety tips and the safety plan."""


HELD_IN_SAFETY_MODE: frozenset[Offer] = frozenset(
    {Offer.COUPLE_EXERCISE, Offer.RECONNECT_NUDGE, Offer.GROUP_RITUAL}
)
"""What is never started or suggested for a person in safety mode."""


def may_offer(profile: Profile, offer: Offer) -> bool:
    """True if Mend may start or suggest ``offer`` for this person now."""
    return not (profile.safety_mode and offer in HELD_IN_SAFETY_MODE)
