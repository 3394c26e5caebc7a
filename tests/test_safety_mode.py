"""Safety mode's rule: couple work is held, self-care and safety help never are."""

from __future__ import annotations

from dataclasses import replace

import pytest

from core.profile import Profile
from core.safety.mode import Offer, may_offer
from tests.fakes import person


@pytest.mark.parametrize("offer", list(Offer))
def test_everything_is_open_outside_safety_mode(offer: Offer) -> None:
    assert may_offer(Profile(user=person()), offer)


@pytest.mark.parametrize("offer", list(Offer))
def test_in_safety_mode_only_self_care_and_safety_help_remain(offer: Offer) -> None:
    profile = replace(Profile(user=person()), safety_mode=True)
    assert may_offer(profile, offer) == (offer in {Offer.SELF_CARE, Offer.SAFETY_HELP})
