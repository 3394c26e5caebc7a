"""The break protocol: ``/pause`` (or the code word), the wait, the way back; ``/again``."""

from __future__ import annotations

from collections.abc import Mapping

from core.content import Content
from core.flows.engine import StepResult
from core.service.courier import CoupleHandler, Courier, Turn


class BreakDesk:
    """Runs breaks for couples and for people alone."""

    def __init__(
        self, content: Content, courier: Courier, *, default_timezone: str, pause_cap: int = 3
    ) -> None:
        self._content = content
        self._courier = courier
        self._default_timezone = default_timezone
        self._pause_cap = pause_cap

    @property
    def commands(self) -> Mapping[str, CoupleHandler]:
        """The commands this desk answers."""
        return {"pause": self._todo, "again": self._todo}

    def press(self, turn: Turn) -> StepResult | None:
        """Break buttons (calmer, more time, ready, tomorrow, sign, still need a break)."""
        return None

    def codeword(self, turn: Turn) -> StepResult | None:
        """A break, if the text holds the couple's code word as a whole word; else None."""
        return None

    def _todo(self, turn: Turn) -> StepResult:
        raise NotImplementedError("being built (issue 7)")
