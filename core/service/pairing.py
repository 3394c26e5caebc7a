"""Pairing two people, linking their shared group, unpairing, and the couple's code word."""

from __future__ import annotations

from collections.abc import Mapping

from core.content import Content
from core.flows.engine import StepResult
from core.service.courier import CoupleHandler, Courier, Turn
from core.types import Reply


class PairingDesk:
    """``/pair``, ``/unpair``, ``/link`` and ``/codeword``, with their buttons."""

    def __init__(self, content: Content, courier: Courier, *, default_timezone: str) -> None:
        self._content = content
        self._courier = courier
        self._default_timezone = default_timezone

    @property
    def commands(self) -> Mapping[str, CoupleHandler]:
        """The commands this desk answers."""
        return {
            "pair": self._todo,
            "unpair": self._todo,
            "link": self._todo,
            "codeword": self._todo,
        }

    def press(self, turn: Turn) -> StepResult | None:
        """Pairing buttons (accept, decline, confirm link or code word, unpair)."""
        return None

    def farewell(self, turn: Turn) -> list[Reply]:
        """Before a person's data is deleted: a neutral notice for their partner, if any."""
        return []

    def _todo(self, turn: Turn) -> StepResult:
        raise NotImplementedError("being built (issue 7)")
