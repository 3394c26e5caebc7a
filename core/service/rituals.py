"""Shared rituals: the weekly check-in and the repair after a hard fight.

Each partner answers privately; the group sees only what each chose to share, and only
once both have finished.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.content import Content
from core.crypto import Cipher
from core.flows.engine import StepResult
from core.service.courier import CoupleHandler, Courier, Turn
from core.types import Reply


class RitualDesk:
    """``/checkin`` and ``/repair``."""

    def __init__(
        self, content: Content, courier: Courier, cipher: Cipher, *, default_timezone: str
    ) -> None:
        self._content = content
        self._courier = courier
        self._cipher = cipher
        self._default_timezone = default_timezone

    @property
    def commands(self) -> Mapping[str, CoupleHandler]:
        """The commands this desk answers."""
        return {"checkin": self._todo, "repair": self._todo}

    def press(self, turn: Turn) -> StepResult | None:
        """Ritual buttons; None for any other payload."""
        return None

    def keep(self, turn: Turn, note: str, text: str) -> bool:
        """Store a ritual answer (``checkin.*``, ``repair.*``); False for any other note."""
        return False

    def act(self, turn: Turn, action: str) -> list[Reply] | None:
        """Carry out a ritual flow action; None if ``action`` is not a ritual's."""
        return None

    def _todo(self, turn: Turn) -> StepResult:
        raise NotImplementedError("being built (issue 7)")
