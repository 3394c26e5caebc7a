"""Named effects a flow step may trigger on entry, as pure profile changes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from core.profile import Profile

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
