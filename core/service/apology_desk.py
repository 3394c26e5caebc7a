"""``/apology``: four short questions, then an apology draft in the person's own words.

The ``apology`` flow asks what happened (plain facts), how it may have hurt them, the
person's own part (no "but"), and one concrete thing they will do differently. Each
answer is kept encrypted in ``program_notes`` (``apology.what`` … ``apology.change``)
only until the flow's last step runs the action ``apology.assemble``: the draft is put
together from the answers, in order, the answers are deleted, and a gentle note names
any phrase that sounds like defending or blaming (the ``/draft`` rules plus the apology's
own, :func:`core.program.draft.review_apology`).

Starting ``/apology`` again first clears any answers left by an abandoned attempt.
In safety mode the flow opens with a reminder that they owe no one an apology.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from core.content.errors import ContentError
from core.flows.engine import StepResult
from core.profile import Profile
from core.program.draft import ANSWERS, review_apology
from core.safety.mode import Offer, may_offer
from core.service.courier import CoupleHandler, Turn
from core.service.desk import DeskKit, ProgramDesk, missing_content
from core.storage.program_notes import ProgramNotes
from core.types import Reply

__all__ = [
    "APOLOGY_FLOW",
    "APOLOGY_KEYS",
    "ASSEMBLE",
    "NOTE_PREFIX",
    "ApologyDesk",
    "stem_key",
    "tidy",
]

APOLOGY_FLOW = "apology"
NOTE_PREFIX = "apology."
"""The prefix of the builder's notes in ``program_notes``."""
ASSEMBLE = "apology.assemble"
"""The flow action that builds the draft and deletes the answers."""

NEEDS_START = "apology.needs_start"
DRAFT = "apology.draft"
REVIEW = "apology.review"
LINE = "apology.line"
REMINDER = "apology.reminder"
MISSING = "apology.missing"
SAFETY_NOTE = "apology.safety_note"


def stem_key(answer: str) -> str:
    """The text key of the words the draft puts before ``answer`` ("I'm sorry for")."""
    return f"apology.stem.{answer}"


APOLOGY_KEYS: tuple[str, ...] = (
    NEEDS_START,
    DRAFT,
    REVIEW,
    LINE,
    REMINDER,
    MISSING,
    SAFETY_NOTE,
    *(stem_key(a) for a in ANSWERS),
)
"""Every fixed text of ``/apology``, checked when the desk is built."""

_LOOSE = str.maketrans({"\u2019": "'", "\u2018": "'"})
_END = " \t\n.!,;:\u2026"


def tidy(answer: str, stem: str) -> str:
    """An answer ready to follow its lead-in: one line, without a repeated lead-in.

    Someone asked to finish "I'm sorry for…" may type the whole sentence; the lead-in
    they repeated is dropped (matched loosely: case, apostrophes, trailing dots), as are
    the full stop and spaces at the end, since the draft adds its own.
    """
    text = " ".join(answer.split())
    lead = " ".join(stem.translate(_LOOSE).rstrip(_END).split()).lower()
    if lead and text.translate(_LOOSE).lower().startswith(lead):
        text = text[len(lead) :].lstrip(" :,-\u2026")
    return text.rstrip(_END) or " ".join(answer.split())


class ApologyDesk(ProgramDesk):
    """Answers ``/apology``, keeps its four answers, and assembles the draft."""

    def __init__(self, kit: DeskKit) -> None:
        """Build the desk.

        Raises:
            ContentError: if a text it uses or its flow is missing.
        """
        self._kit = kit
        self._rules = kit.content.program.draft
        problems = missing_content(kit.content, APOLOGY_KEYS, (APOLOGY_FLOW,))
        if problems:
            raise ContentError(problems)

    @property
    def commands(self) -> Mapping[str, CoupleHandler]:
        """``/apology``."""
        return {"apology": self._apology}

    def _notes(self, turn: Turn) -> ProgramNotes:
        return ProgramNotes(turn.connection, self._kit.cipher)

    def _apology(self, turn: Turn) -> StepResult:
        profile = turn.profile
        if not profile.onboarded:
            return StepResult((self._say(NEEDS_START, profile),), turn.state, profile)
        self._notes(turn).clear(turn.event.user, NOTE_PREFIX)
        started = self._kit.flows.start(APOLOGY_FLOW, profile, turn.now)
        if may_offer(profile, Offer.COUPLE_EXERCISE):
            return started
        return replace(started, replies=(self._say(SAFETY_NOTE, profile), *started.replies))

    def keep(self, turn: Turn, note: str, text: str) -> list[Reply] | None:
        """Keep one answer (encrypted) until the draft is built; None for others' notes."""
        if not note.startswith(NOTE_PREFIX):
            return None
        self._notes(turn).save(turn.event.user, note, text, turn.now)
        return []

    def act(self, turn: Turn, action: str) -> list[Reply] | None:
        """Build the draft from the answers and delete them; None for others' actions."""
        if action != ASSEMBLE:
            return None
        notes = self._notes(turn)
        stored = notes.get_all(turn.event.user, NOTE_PREFIX)
        notes.clear(turn.event.user, NOTE_PREFIX)
        answers: dict[str, str] = {name: stored.get(f"{NOTE_PREFIX}{name}", "") for name in ANSWERS}
        if not all(answers.values()):
            return [self._say(MISSING, turn.profile)]
        texts = self._kit.content.texts
        parts = {name: tidy(text, texts.render(stem_key(name))) for name, text in answers.items()}
        draft = Reply(text=texts.render(DRAFT, parts), key=DRAFT)
        replies = [draft]
        flags = review_apology(answers, self._rules)
        if flags:
            lines = [texts.render(REVIEW)]
            for flag in flags:
                advice = f"{texts.render(flag.why)} {texts.render(flag.instead)}"
                lines.append(texts.render(LINE, {"phrase": flag.phrase, "text": advice}))
            replies.append(Reply(text="\n".join(lines), key=REVIEW))
        replies.append(self._say(REMINDER, turn.profile))
        return replies

    def _say(self, key: str, profile: Profile) -> Reply:
        return self._kit.courier.say(key, profile.placeholders(self._kit.default_timezone))
