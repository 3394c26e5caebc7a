"""Names the programme's flows may use for notes (``input: note``) and actions (``action:``).

A note is a person's own words handed to the desk that owns its prefix (``Desk.keep``);
an action asks that desk to do something with stored data (``Desk.act``). The content
loader accepts only names listed here.
"""

from __future__ import annotations

PROGRAM_NOTES: frozenset[str] = frozenset(
    {
        "draft.text",
        "apology.what",
        "apology.hurt",
        "apology.part",
        "apology.change",
        "promise.text",
        "appreciate.text",
        "ouch.text",
        "journal.win",
        "journal.challenge",
        "journal.next",
    }
)
"""Where a programme flow's typed answers go."""

PROGRAM_ACTIONS: frozenset[str] = frozenset(
    {
        "apology.assemble",
        "journal.save",
    }
)
"""What a programme flow's steps may ask for."""

HEALING_BUTTON: tuple[str, str] = ("healing.offer", "hl:open")
"""The button that offers the stages-of-healing orientation: (label key, payload)."""
