"""``/assess`` and ``/lenses``: honest self-assessments and reflective lens quizzes.

Everything runs from buttons (``q:`` payloads, see :mod:`core.program.quizzes`), so a
quiz can be continued from an old message and a restart loses nothing; a forged payload
gets a kind answer. Results are said only to the person, privately (a press in a group
is answered with ``private_to``), and only the outcome id is stored.

Safety mode: these quizzes weigh the relationship itself (whether it is worth the work,
whether to push on) or look at how two partners meet each other. While safety mode is on
that is the wrong question to put first, so ``/assess``, ``/lenses`` and any quiz button
answer with one self-care note that says safety comes first and points to ``/safety``;
nothing is scored and nothing nudges towards reconnecting. A safety answer itself
(an option marked ``safety: true``) always works: it ends the quiz at once and hands the
person to the safety desk (help, safety mode on, "are you safe right now?").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import timedelta

from core.content.errors import ContentError
from core.flows.engine import StepResult
from core.profile import Profile
from core.program.names import HEALING_BUTTON
from core.program.quizzes import (
    Forged,
    QuizSpec,
    SafetyPick,
    Start,
    decode,
    option_payload,
    outcome_for,
    start_payload,
    start_tally,
)
from core.service.courier import ButtonSpec, CoupleHandler, Turn
from core.service.desk import DeskKit, ProgramDesk, missing_content
from core.storage.quiz_results import QuizResultRepository
from core.types import Reply

__all__ = ["QUIZ_KEYS", "QuizDesk"]

NEEDS_START = "quizzes.needs_start"
ASSESS_MENU = "quizzes.assess_menu"
LENSES_MENU = "quizzes.lenses_menu"
SAFETY_FIRST = "quizzes.safety_first"
"""The self-care note said instead of a quiz while safety mode is on."""
SAFETY_ANSWER = "quizzes.safety_answer"
"""Said first when an answer pointing to abuse or fear ends a quiz."""
STALE = "quizzes.stale"
PROGRESS = "quizzes.progress"
"""``$step`` of ``$total``, shown above each question."""

DOUBLE_TAP = timedelta(minutes=1)
"""The same outcome of a quiz reached again within this long is a double tap, kept once."""

QUIZ_KEYS: tuple[str, ...] = (
    NEEDS_START,
    ASSESS_MENU,
    LENSES_MENU,
    SAFETY_FIRST,
    SAFETY_ANSWER,
    STALE,
    PROGRESS,
    HEALING_BUTTON[0],
)
"""The fixed texts of this desk, checked when it is built."""


class QuizDesk(ProgramDesk):
    """Runs the self-assessments (``/assess``) and the lens quizzes (``/lenses``)."""

    def __init__(self, kit: DeskKit) -> None:
        """Build the desk.

        Raises:
            ContentError: if a fixed text of the desk is missing.
        """
        self._kit = kit
        missing = missing_content(kit.content, QUIZ_KEYS)
        if missing:
            raise ContentError(missing)
        quizzes = kit.content.program.quizzes
        self._quizzes: dict[str, QuizSpec] = {q.id: q for q in quizzes}
        self._assessments = tuple(q for q in quizzes if q.kind == "assessment")
        self._lenses = tuple(q for q in quizzes if q.kind == "lens")

    @property
    def commands(self) -> Mapping[str, CoupleHandler]:
        """``/assess`` and ``/lenses``."""
        return {"assess": self._assess, "lenses": self._lens_list}

    # ------------------------------------------------------------------ commands

    def _assess(self, turn: Turn) -> StepResult:
        return self._menu(turn, ASSESS_MENU, self._assessments)

    def _lens_list(self, turn: Turn) -> StepResult:
        return self._menu(turn, LENSES_MENU, self._lenses)

    def _menu(self, turn: Turn, key: str, quizzes: Sequence[QuizSpec]) -> StepResult:
        if not turn.profile.onboarded:
            return self._said(turn, [self._say(turn, NEEDS_START)])
        if turn.profile.safety_mode:
            return self._said(turn, [self._say(turn, SAFETY_FIRST)])
        buttons = [(q.title, start_payload(q)) for q in quizzes]
        return self._said(turn, [self._say(turn, key, buttons)])

    # ------------------------------------------------------------------ buttons

    def press(self, turn: Turn) -> StepResult | None:
        """Answer a ``q:`` button; None for any other payload."""
        pressed = decode(turn.event.payload or "", self._quizzes)
        if pressed is None:
            return None
        if isinstance(pressed, Forged):
            return self._said(turn, [self._say(turn, STALE)])
        if not turn.profile.onboarded:
            return self._said(turn, [self._say(turn, NEEDS_START)])
        if isinstance(pressed, SafetyPick):
            return self._safety_answer(turn)
        if turn.profile.safety_mode:
            return self._said(turn, [self._say(turn, SAFETY_FIRST)])
        if isinstance(pressed, Start):
            quiz = pressed.quiz
            first = self._question(turn, quiz, 0, start_tally(quiz))
            return self._said(turn, [self._say(turn, quiz.intro), first])
        quiz = pressed.quiz
        if pressed.answered < len(quiz.questions):
            return self._said(turn, [self._question(turn, quiz, pressed.answered, pressed.tally)])
        return self._said(turn, self._finish(turn, quiz, pressed.tally))

    def _question(self, turn: Turn, quiz: QuizSpec, index: int, tally: tuple[int, ...]) -> Reply:
        question = quiz.questions[index]
        buttons = [
            (option.label, option_payload(quiz, index, number, tally))
            for number, option in enumerate(question.options)
        ]
        reply = self._say(turn, question.text, buttons)
        values = {"step": str(index + 1), "total": str(len(quiz.questions))}
        progress = self._kit.content.texts.render(PROGRESS, values)
        return replace(reply, text=f"{progress}\n{reply.text}")

    def _finish(self, turn: Turn, quiz: QuizSpec, tally: tuple[int, ...]) -> list[Reply]:
        outcome = outcome_for(quiz, tally)
        results = QuizResultRepository(turn.connection)
        latest = results.latest(turn.event.user, quiz.id)
        tapped_again = (
            latest is not None
            and latest.outcome == outcome.id
            and abs(turn.now - latest.at) < DOUBLE_TAP
        )
        if not tapped_again:  # a double tap on the last answer is kept once
            results.record(turn.event.user, quiz.id, outcome.id, turn.now)
        buttons = [HEALING_BUTTON] if outcome.healing else []
        replies = [self._say(turn, outcome.text, buttons)]
        if quiz.closing:
            replies.append(self._say(turn, quiz.closing))
        return replies

    def _safety_answer(self, turn: Turn) -> StepResult:
        """An answer pointing to abuse or fear: the quiz ends; help and safety mode now."""
        first = self._say(turn, SAFETY_ANSWER)
        profile, help_replies = self._kit.safety_mode_on(turn.profile, turn.now)
        return self._said(turn, [first, *help_replies], profile)

    # ------------------------------------------------------------------ helpers

    def _say(self, turn: Turn, key: str, buttons: Sequence[ButtonSpec] = ()) -> Reply:
        values = turn.profile.placeholders(self._kit.default_timezone)
        return self._kit.courier.say(key, values, buttons)

    @staticmethod
    def _said(turn: Turn, replies: list[Reply], profile: Profile | None = None) -> StepResult:
        """The replies, always to the person alone: privately when pressed in a group."""
        if not turn.event.chat.is_private:
            replies = [replace(r, private_to=turn.event.user) for r in replies]
        return StepResult(tuple(replies), turn.state, profile or turn.profile)
