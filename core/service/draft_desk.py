"""``/draft``, "Before you send": a second look at a message someone means to send.

``/draft <message>`` reads the message typed after the command (line breaks kept);
``/draft`` alone starts the ``draft`` flow, which asks them to paste it (note
``draft.text``). Either way the message is checked against the rules in
``content/program/draft.yaml`` (:mod:`core.program.draft`) and the person's local time,
and one reply names each phrase found and why it tends to make things worse, offers an
"I feel … about … and I need …" shape to fill in and one line per finding on what to try
instead. A clean message gets a warm word and the shape, briefly.

The message is never stored, anywhere, and never logged: it lives only in this turn.

In safety mode the reply opens with a reminder that they owe no one a message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from core.content.errors import ContentError
from core.flows.engine import StepResult
from core.localtime import format_local_time
from core.profile import Profile
from core.program.draft import Flag, analyse, is_late, late_flag
from core.safety.mode import Offer, may_offer
from core.service.courier import CoupleHandler, Turn
from core.service.desk import DeskKit, ProgramDesk, missing_content
from core.timezones import resolve_timezone
from core.types import Reply

__all__ = ["DRAFT_FLOW", "DRAFT_KEYS", "DRAFT_NOTE", "DraftDesk", "after_command"]

DRAFT_FLOW = "draft"
"""The flow that asks for the message when ``/draft`` comes alone."""
DRAFT_NOTE = "draft.text"
"""The flow's note: the pasted message, handed to this desk and never kept."""

NEEDS_START = "draft.needs_start"
FOUND = "draft.found"
CLEAN = "draft.clean"
LINE = "draft.line"
LINE_PLAIN = "draft.line_plain"
SCAFFOLD = "draft.scaffold"
TIPS = "draft.tips"
CLEAN_SCAFFOLD = "draft.clean_scaffold"
FOOTER = "draft.footer"
SAFETY_NOTE = "draft.safety_note"

DRAFT_KEYS: tuple[str, ...] = (
    NEEDS_START,
    FOUND,
    CLEAN,
    LINE,
    LINE_PLAIN,
    SCAFFOLD,
    TIPS,
    CLEAN_SCAFFOLD,
    FOOTER,
    SAFETY_NOTE,
)
"""Every fixed text of ``/draft``, checked when the desk is built (the rules' own texts
are checked when the content loads)."""

_FIRST_TOKEN = re.compile(r"\S+\s*")


def after_command(text: str) -> str:
    """What follows the first word (the command) of a command line, line breaks kept."""
    first = _FIRST_TOKEN.match(text.lstrip())
    return text.lstrip()[first.end() :].strip() if first is not None else ""


class DraftDesk(ProgramDesk):
    """Answers ``/draft`` and the ``draft.text`` note of its flow."""

    def __init__(self, kit: DeskKit) -> None:
        """Build the desk.

        Raises:
            ContentError: if a text it uses or its flow is missing.
        """
        self._kit = kit
        self._rules = kit.content.program.draft
        problems = missing_content(kit.content, DRAFT_KEYS, (DRAFT_FLOW,))
        if problems:
            raise ContentError(problems)

    @property
    def commands(self) -> Mapping[str, CoupleHandler]:
        """``/draft``."""
        return {"draft": self._draft}

    def keep(self, turn: Turn, note: str, text: str) -> list[Reply] | None:
        """Read the pasted message (never kept); None for notes that are not ``draft.text``."""
        if note != DRAFT_NOTE:
            return None
        return [self.read(text, turn.profile, turn.now)]

    def _draft(self, turn: Turn) -> StepResult:
        profile = turn.profile
        if not profile.onboarded:
            return StepResult((self._say(NEEDS_START, profile),), turn.state, profile)
        message = after_command(turn.event.text)
        if not message:
            return self._kit.flows.start(DRAFT_FLOW, profile, turn.now)
        # Typed straight after the command, the message also answers a waiting paste step.
        state = None if turn.state is not None and turn.state.flow == DRAFT_FLOW else turn.state
        return StepResult((self.read(message, profile, turn.now),), state, profile)

    def read(self, message: str, profile: Profile, now: datetime) -> Reply:
        """The one reply about ``message``, written by ``profile``'s owner at ``now``."""
        zone = resolve_timezone(profile.timezone or self._kit.default_timezone)
        local = now.astimezone(zone)
        flags = list(analyse(message, self._rules))
        if is_late(local.time(), self._rules):
            flags.append(late_flag(self._rules))
        values = {
            **profile.placeholders(self._kit.default_timezone),
            "time": format_local_time(local.time()),
        }
        parts: list[str] = []
        if not may_offer(profile, Offer.COUPLE_EXERCISE):
            parts.append(self._render(SAFETY_NOTE, values))
        if flags:
            parts += self._findings(flags, values)
            key = FOUND
        else:
            parts += [self._render(CLEAN, values), self._render(CLEAN_SCAFFOLD, values)]
            key = CLEAN
        parts.append(self._render(FOOTER, values))
        return Reply(text="\n\n".join(parts), key=key)

    def _findings(self, flags: Sequence[Flag], values: Mapping[str, str]) -> list[str]:
        lines = [self._render(FOUND, values)]
        for flag in flags:
            why = self._render(flag.why, {**values, "words": str(flag.words)})
            if flag.phrase:
                lines.append(self._render(LINE, {"phrase": flag.phrase, "text": why}))
            else:
                lines.append(self._render(LINE_PLAIN, {"text": why}))
        tips = [self._render(TIPS, values)]
        tips += [self._render(LINE_PLAIN, {"text": self._render(f.instead, values)}) for f in flags]
        return ["\n".join(lines), self._render(SCAFFOLD, values), "\n".join(tips)]

    def _render(self, key: str, values: Mapping[str, str]) -> str:
        return self._kit.content.texts.render(key, values)

    def _say(self, key: str, profile: Profile) -> Reply:
        return self._kit.courier.say(key, profile.placeholders(self._kit.default_timezone))
