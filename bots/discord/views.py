"""Buttons as persistent ``discord.ui`` views: they keep working after a restart.

Every button carries ``mend:<core payload>`` as its ``custom_id`` and is a
``DynamicItem``, so a press on any message Mend ever sent is routed by pattern, with no
per-message view kept in memory and no timeout.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Protocol

import discord

from bots.discord.mapping import CUSTOM_ID_TEMPLATE, custom_id
from core.types import Button

if TYPE_CHECKING:
    from discord.ui import Item

MAX_ROWS = 5
MAX_BUTTONS = 25
"""Discord shows at most five rows of five buttons under a message."""


class PressHandler(Protocol):
    """Whatever handles a press: the Discord adapter."""

    async def on_press(self, interaction: discord.Interaction, payload: str) -> None:
        """Handle one press of a Mend button carrying ``payload``."""
        ...


class PayloadButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=CUSTOM_ID_TEMPLATE
):
    """One Mend button; the press is handed to the adapter the bot carries."""

    def __init__(self, label: str, payload: str) -> None:
        super().__init__(
            discord.ui.Button(
                label=label, custom_id=custom_id(payload), style=discord.ButtonStyle.secondary
            )
        )
        self.payload = payload

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: Item[Any],
        match: re.Match[str],
        /,
    ) -> PayloadButton:
        """Rebuild the button from a press on any message, old or new."""
        label = getattr(item, "label", None) or ""
        return cls(label, match.group("payload"))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        """Pass the press to the adapter carried by the bot."""
        handler: PressHandler | None = getattr(interaction.client, "mend", None)
        if handler is not None:
            await handler.on_press(interaction, self.payload)


def view_for(buttons: tuple[Button, ...]) -> discord.ui.View | None:
    """A view with no timeout, or None for no buttons.

    Up to five buttons get a row each (labels stay readable on a phone); more are laid
    out by discord.py, five to a row.
    """
    if not buttons:
        return None
    view = discord.ui.View(timeout=None)
    one_per_row = len(buttons) <= MAX_ROWS
    for row, button in enumerate(buttons[:MAX_BUTTONS]):
        item = PayloadButton(button.label, button.payload)
        if one_per_row:
            item.row = row
        view.add_item(item)
    return view
