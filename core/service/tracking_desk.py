"""Small promises, good and hard moments, the weekly reflection and ``/progress``.

- ``/promise``: one small promise for today, typed (``/promise text``, or as the answer to
  the question) or picked from three ideas fixed per person and day. The evening question
  ("did you keep it?") is a timed item whose payload carries only the date; its buttons
  ``pr:kept:<date>`` and ``pr:not:<date>`` record the answer. Follow-through is shown as
  "kept N of the last M", never as a streak.
- ``/appreciate`` and ``/ouch``: good and hard moments, kept encrypted for the person
  alone, with this week's balance against about five to one.
- ``/journal``: a score from 1 to 10 (buttons ``j:score:<n>``), then a win, a challenge
  and a next step (the ``journal`` flow), saved once per local ISO week.
- ``/progress``: a PNG chart of the last twelve weeks and a two-line summary.

Everything here is said to the person privately; nothing they write ever goes to a
partner or a group, and no timed item carries their words.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, tzinfo

from core import keys
from core.content import ContentError, Texts
from core.flows.engine import StepResult
from core.localtime import format_local_time
from core.profile import Profile, Situation
from core.program.chart import ChartLabels, render_progress
from core.program.names import HEALING_BUTTON
from core.program.tracking import (
    APPRECIATION,
    FOLLOW_THROUGH_WINDOW,
    HURT,
    MISSES_BEFORE_OFFER,
    PROGRESS_WEEKS,
    Celebration,
    WeekPoint,
    appreciation_celebration,
    balance_of,
    evening_question_at,
    first_day_of,
    follow_through,
    is_specific,
    journal_celebration,
    local_day,
    missed_in_a_row,
    parse_day,
    progress_series,
    promise_celebration,
    recent_weeks,
    suggestion_indices,
    summarise,
    week_key,
)
from core.safety.mode import Offer, may_offer
from core.schedule.kinds import ItemKind
from core.service.courier import ButtonSpec, CoupleHandler, Turn
from core.service.desk import DeskKit, ProgramDesk, missing_content
from core.storage.deliveries import Claimed, TimerRepository
from core.storage.program_notes import ProgramNotes
from core.storage.subscriptions import person_key
from core.storage.tracking import (
    JournalEntry,
    JournalRepository,
    MomentRepository,
    PromiseRepository,
    done_step_days,
)
from core.text_input import clean_text
from core.timezones import resolve_timezone
from core.types import Attachment, Button, Reply, UserRef

__all__ = [
    "PROGRESS_FILENAME",
    "TrackingDesk",
    "promise_timer_key",
    "render_promise_evening",
]

PROMISE_FLOW = "promise"
PROMISE_PAYLOAD = "promise"
"""The payload field of a promise's evening question: the promise's local date."""
APPRECIATE_FLOW = "appreciate"
OUCH_FLOW = "ouch"
JOURNAL_FLOW = "journal"
FLOWS = (PROMISE_FLOW, APPRECIATE_FLOW, OUCH_FLOW, JOURNAL_FLOW)

PROMISE_PREFIX = "pr"
MOMENT_PREFIX = "m"
JOURNAL_PREFIX = "j"
PROGRESS_PREFIX = "pg"
PICK, KEPT, NOT_KEPT, ASK = "pick", "kept", "not", "ask"
PROMISE_ASK_PAYLOAD = f"{PROMISE_PREFIX}:{ASK}"
"""The button under a morning step (from week two) that asks for today's promise."""
WORDLESS_HURT = "hurt"
SCORE = "score"
SHOW = "show"
PROGRESS_PAYLOAD = f"{PROGRESS_PREFIX}:{SHOW}"

PROMISE_MAX_CHARS = 200
"""Longest promise taken inline (the flow's question allows the same)."""
MOMENT_MAX_CHARS = 500
"""Longest appreciation or hurtful moment taken inline (the flows allow the same)."""
MAX_EPOCH_DIGITS = 11
"""Longest timestamp a "log it without words" button may carry."""
SKIP_WORDS = frozenset({"skip", "-", "pass", "none", "n/a", "no"})
"""Typed answers that leave a reflection question out."""
PROGRESS_FILENAME = "progress.png"
JOURNAL_NOTES = "journal."
"""The ``program_notes`` prefix of a reflection's answers while it is in progress."""
SCORE_NOTE = "journal.score"
JOURNAL_ANSWERS = {"journal.win", "journal.challenge", "journal.next"}
IDEAS_SHOWN = 3

NEEDS_START = "tracking.needs_start"
TOO_LONG = "tracking.too_long"

PROMISE_ASK = "tracking.promise.ask"
PROMISE_ASK_SELF = "tracking.promise.ask_self"
PROMISE_CURRENT = "tracking.promise.current"
PROMISE_MADE = "tracking.promise.made"
PROMISE_MADE_MORNING = "tracking.promise.made_morning"
PROMISE_MADE_NO_ASK = "tracking.promise.made_no_ask"
PROMISE_REPLACED = "tracking.promise.replaced"
PROMISE_PICK_LABELS = (
    "tracking.promise.pick.one",
    "tracking.promise.pick.two",
    "tracking.promise.pick.three",
)
PROMISE_BUTTON_KEPT = "tracking.promise.button_kept"
PROMISE_BUTTON_NOT = "tracking.promise.button_not"
PROMISE_EVENING = "tracking.promise.evening"
PROMISE_EVENING_LATE = "tracking.promise.evening_late"
PROMISE_KEPT = "tracking.promise.kept"
PROMISE_NOT_KEPT = "tracking.promise.not_kept"
PROMISE_FOLLOW = "tracking.promise.follow"
PROMISE_SEVERAL_MISSED = "tracking.promise.several_missed"
PROMISE_GONE = "tracking.promise.gone"
PROMISE_GARBLED = "tracking.promise.garbled"
COUPLE_IDEAS = "tracking.promise.ideas.couple."
SELF_IDEAS = "tracking.promise.ideas.self."

APPRECIATE_ASK_SELF = "tracking.appreciate.ask_self"
APPRECIATE_SPECIFIC = "tracking.appreciate.specific"
APPRECIATE_SPECIFIC_SELF = "tracking.appreciate.specific_self"
APPRECIATE_GENERIC = "tracking.appreciate.generic"
APPRECIATE_GENERIC_SELF = "tracking.appreciate.generic_self"

OUCH_WORDLESS = "tracking.ouch.button_wordless"
OUCH_LOGGED = "tracking.ouch.logged"
OUCH_LOGGED_SELF = "tracking.ouch.logged_self"
OUCH_ALREADY = "tracking.ouch.already"
OUCH_GARBLED = "tracking.ouch.garbled"

BALANCE_NO_HARD = "tracking.balance.no_hard"
BALANCE_NO_GOOD = "tracking.balance.no_good"
BALANCE_RATIO = "tracking.balance.ratio"
BALANCE_RATIO_GOAL = "tracking.balance.ratio_goal"
BALANCE_SELF = "tracking.balance.self"

JOURNAL_ASK_SCORE = "tracking.journal.ask_score"
JOURNAL_ASK_SCORE_SELF = "tracking.journal.ask_score_self"
JOURNAL_SCORE_LABELS = tuple(f"tracking.journal.scores.s{n}" for n in range(1, 11))
JOURNAL_SAVED = "tracking.journal.saved"
JOURNAL_UPDATED = "tracking.journal.updated"
JOURNAL_LOST = "tracking.journal.lost"
JOURNAL_GARBLED = "tracking.journal.garbled"
JOURNAL_BUTTON_PROGRESS = "tracking.journal.button_progress"

CELEBRATE = "tracking.celebrate."

PROGRESS_EMPTY = "tracking.progress.empty"
PROGRESS_SCORE_LINE = "tracking.progress.score_line"
PROGRESS_NO_SCORE_LINE = "tracking.progress.no_score_line"
PROGRESS_TOTALS_LINE = "tracking.progress.totals_line"
PROGRESS_SUMMARY = PROGRESS_TOTALS_LINE
"""The key a ``/progress`` summary reply carries (its second line's; it always has one)."""
CHART_KEYS = tuple(
    f"tracking.progress.chart.{name}"
    for name in (
        "title",
        "score",
        "follow_through",
        "promises",
        "steps",
        "balance",
        "good",
        "hard",
        "no_data",
    )
)

_APART = frozenset({Situation.ON_A_BREAK, Situation.SEPARATED})


def promise_timer_key(user: UserRef, local_date: str) -> str:
    """The ``Timers`` key of the evening question about one day's promise."""
    return f"promise:{person_key(user)}:{local_date}"


def _answer_buttons(local_date: str) -> tuple[ButtonSpec, ...]:
    return (
        (PROMISE_BUTTON_KEPT, f"{PROMISE_PREFIX}:{KEPT}:{local_date}"),
        (PROMISE_BUTTON_NOT, f"{PROMISE_PREFIX}:{NOT_KEPT}:{local_date}"),
    )


def render_promise_evening(item: Claimed, texts: Texts, default_timezone: str) -> Reply | None:
    """The "did you keep it?" question for a promise's evening item; None if not one.

    The item's payload carries only the promise's local date (``{"promise": "2026-03-01"}``),
    never its words. Asked on a later local day than the promise (a promise made late,
    asked the next morning), it speaks of yesterday's promise.
    """
    if item.kind is not ItemKind.EVENING:
        return None
    day = parse_day(item.payload.get(PROMISE_PAYLOAD, ""))
    if day is None:
        return None
    someone = item.profile or Profile(user=UserRef(item.platform, ""))
    values = someone.placeholders(default_timezone)
    zone = resolve_timezone(someone.timezone or default_timezone)
    asked_on = local_day(item.due_at, zone) if item.due_at is not None else day
    key = PROMISE_EVENING_LATE if asked_on > day else PROMISE_EVENING
    buttons = tuple(
        Button(texts.render(label, values), payload)
        for label, payload in _answer_buttons(day.isoformat())
    )
    return Reply(text=texts.render(key, values), key=key, buttons=buttons)


def _ideas(texts: Mapping[str, str], prefix: str) -> dict[str, str]:
    """Promise ideas by id (``c07``), from the content keys under ``prefix``."""
    return {key.removeprefix(prefix): key for key in sorted(texts) if key.startswith(prefix)}


def _epoch(digits: str) -> datetime | None:
    """The instant a "log it without words" button carries; None if forged or garbled."""
    if not (digits.isascii() and digits.isdigit()) or len(digits) > MAX_EPOCH_DIGITS:
        return None
    try:
        return datetime.fromtimestamp(int(digits), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _score(text: str) -> int | None:
    """A score of 1 to 10 as a button or note carries it; None otherwise."""
    if not (text.isascii() and text.isdigit()) or len(text) > 2:
        return None
    value = int(text)
    return value if 1 <= value <= 10 else None


class TrackingDesk(ProgramDesk):
    """``/promise``, ``/appreciate``, ``/ouch``, ``/journal`` and ``/progress``.

    Raises:
        ContentError: if a flow, a text or the promise ideas are missing.
    """

    def __init__(self, kit: DeskKit) -> None:
        self._kit = kit
        self._texts = kit.content.texts
        by_key = self._texts.by_key
        self._couple_ideas = _ideas(by_key, COUPLE_IDEAS)
        self._self_ideas = _ideas(by_key, SELF_IDEAS)
        problems = missing_content(kit.content, _required(), FLOWS)
        for name, ideas in (("couple", self._couple_ideas), ("self", self._self_ideas)):
            if len(ideas) < IDEAS_SHOWN:
                problems.append(f"code: fewer than {IDEAS_SHOWN} {name} promise ideas")
        if problems:
            raise ContentError(problems)

    @property
    def commands(self) -> Mapping[str, CoupleHandler]:
        """The commands this desk answers."""
        return {
            "promise": self._promise,
            "appreciate": self._appreciate,
            "ouch": self._ouch,
            "journal": self._journal,
            "progress": self._progress,
        }

    # ------------------------------------------------------------------ helpers

    def _say(
        self,
        turn: Turn,
        key: str,
        buttons: Sequence[ButtonSpec] = (),
        **extra: str,
    ) -> Reply:
        values = {**turn.profile.placeholders(self._kit.default_timezone), **extra}
        return self._kit.courier.say(key, values, buttons)

    def _stay(self, turn: Turn, *replies: Reply) -> StepResult:
        return StepResult(tuple(replies), turn.state, turn.profile)

    def _zone(self, profile: Profile) -> tzinfo:
        return resolve_timezone(profile.timezone or self._kit.default_timezone)

    def _today(self, turn: Turn) -> date:
        return local_day(turn.now, self._zone(turn.profile))

    def _needs_start(self, turn: Turn) -> StepResult | None:
        if turn.profile.onboarded:
            return None
        return self._stay(turn, self._say(turn, NEEDS_START))

    @staticmethod
    def _words(turn: Turn) -> str:
        """What was typed after the command (``/ouch he slammed the door``)."""
        parts = turn.event.text.split(maxsplit=1)
        return clean_text(parts[1]) if len(parts) > 1 else ""

    def _ended(self, turn: Turn, flow: str, replies: Sequence[Reply]) -> StepResult:
        """The replies, leaving ``flow`` if the person was in it (else keeping their place)."""
        state = None if turn.state is not None and turn.state.flow == flow else turn.state
        return StepResult(tuple(replies), state, turn.profile)

    @staticmethod
    def _self_mode(profile: Profile) -> bool:
        """True when nothing partner-directed should be suggested (safety mode)."""
        return not may_offer(profile, Offer.COUPLE_EXERCISE)

    # ------------------------------------------------------------------ /promise

    def _promise(self, turn: Turn) -> StepResult:
        held = self._needs_start(turn)
        if held is not None:
            return held
        words = self._words(turn)
        if not words:
            return self._ask_promise(turn)
        if len(words) > PROMISE_MAX_CHARS:
            return self._stay(turn, self._say(turn, TOO_LONG))
        return self._ended(turn, PROMISE_FLOW, self._make_promise(turn, words))

    def _ideas_for(self, turn: Turn) -> tuple[bool, list[tuple[str, str]]]:
        """Whether the ideas are self-care ones, and today's three as ``(id, text key)``."""
        profile = turn.profile
        own = self._self_mode(profile) or profile.situation in _APART
        pool = self._self_ideas if own else self._couple_ideas
        ids = list(pool)
        picked = suggestion_indices(person_key(profile.user), self._today(turn), len(ids))
        return own, [(ids[i], pool[ids[i]]) for i in picked]

    def _ask_promise(self, turn: Turn) -> StepResult:
        """The question, with today's three ideas as buttons; typing works too (the flow)."""
        started = self._kit.flows.start(PROMISE_FLOW, turn.profile, turn.now)
        own, ideas = self._ideas_for(turn)
        listed = "\n".join(
            f"{n}. {self._texts.render(key)}" for n, (_, key) in enumerate(ideas, start=1)
        )
        buttons = [
            (label, f"{PROMISE_PREFIX}:{PICK}:{idea}")
            for label, (idea, _) in zip(PROMISE_PICK_LABELS, ideas, strict=False)
        ]
        ask = self._say(turn, PROMISE_ASK_SELF if own else PROMISE_ASK, buttons, ideas=listed)
        replies: list[Reply] = []
        day = self._today(turn).isoformat()
        current = PromiseRepository(turn.connection, self._kit.cipher).get(turn.event.user, day)
        if current is not None:
            replies.append(
                self._say(turn, PROMISE_CURRENT, _answer_buttons(day), text=current.text)
            )
        return replace(started, replies=(*replies, ask))

    def _make_promise(self, turn: Turn, text: str) -> list[Reply]:
        """Keep today's promise and schedule the question about it."""
        if not turn.profile.onboarded:
            return [self._say(turn, NEEDS_START)]
        profile, user = turn.profile, turn.event.user
        zone = self._zone(profile)
        day = local_day(turn.now, zone).isoformat()
        repo = PromiseRepository(turn.connection, self._kit.cipher)
        before = repo.get(user, day)
        replies: list[Reply] = []
        if before is None or before.text != text:
            repo.save(user, day, text, turn.now)
            if before is not None:
                replies.append(self._say(turn, PROMISE_REPLACED))
        timers = TimerRepository(turn.connection)
        key = promise_timer_key(user, day)
        if profile.nudges_stopped or profile.unreachable_since is not None:
            timers.cancel(key)
            replies.append(self._say(turn, PROMISE_MADE_NO_ASK, text=text))
            return replies
        at = evening_question_at(zone, turn.now, profile.quiet)
        timers.schedule(key, at, {PROMISE_PAYLOAD: day}, kind=ItemKind.EVENING, user=user)
        local = at.astimezone(zone)
        made = PROMISE_MADE if local.date().isoformat() == day else PROMISE_MADE_MORNING
        replies.append(self._say(turn, made, text=text, when=format_local_time(local.time())))
        return replies

    def _promise_press(self, turn: Turn, parts: list[str]) -> StepResult:
        held = self._needs_start(turn)
        if held is not None:
            return held
        if parts == [ASK]:
            return self._promise(turn)
        if len(parts) == 2 and parts[0] == PICK:
            return self._pick(turn, parts[1])
        day = parse_day(parts[1]) if len(parts) == 2 and parts[0] in (KEPT, NOT_KEPT) else None
        if day is None:
            return self._stay(turn, self._say(turn, PROMISE_GARBLED))
        return self._stay(turn, *self._answer(turn, day.isoformat(), parts[0] == KEPT))

    def _pick(self, turn: Turn, idea: str) -> StepResult:
        key = self._self_ideas.get(idea)
        if key is None and idea in self._couple_ideas:
            if self._self_mode(turn.profile):
                return self._ask_promise(turn)  # fresh, self-care ideas instead
            key = self._couple_ideas[idea]
        if key is None:
            return self._stay(turn, self._say(turn, PROMISE_GARBLED))
        made = self._make_promise(turn, self._texts.render(key))
        return self._ended(turn, PROMISE_FLOW, made)

    def _answer(self, turn: Turn, day: str, kept: bool) -> list[Reply]:
        """Record how the promise of ``day`` went, with follow-through and a kind word."""
        user = turn.event.user
        repo = PromiseRepository(turn.connection, self._kit.cipher)
        kept_before = repo.kept_count(user)
        if not repo.answer(user, day, kept, turn.now):
            return [self._say(turn, PROMISE_GONE)]
        TimerRepository(turn.connection).cancel(promise_timer_key(user, day))
        answers = repo.answers(user, FOLLOW_THROUGH_WINDOW)
        share = follow_through(answers)
        replies = [
            self._say(turn, PROMISE_KEPT if kept else PROMISE_NOT_KEPT),
            self._say(turn, PROMISE_FOLLOW, kept=str(share.kept), answered=str(share.answered)),
        ]
        celebration = promise_celebration(kept, kept_before)
        if celebration is not None:
            replies.append(self._say(turn, CELEBRATE + celebration.value))
        if not kept and missed_in_a_row(answers) >= MISSES_BEFORE_OFFER:
            replies.append(self._say(turn, PROMISE_SEVERAL_MISSED, [HEALING_BUTTON]))
        return replies

    # ------------------------------------------------------------------ /appreciate, /ouch

    def _moment_inline(
        self, turn: Turn, flow: str, log: Callable[[Turn, str], list[Reply]]
    ) -> StepResult | None:
        """``/appreciate …`` or ``/ouch …`` with its words: logged at once (or refused).

        None when no words came with the command: the caller starts its flow to ask.
        """
        held = self._needs_start(turn)
        if held is not None:
            return held
        words = self._words(turn)
        if len(words) > MOMENT_MAX_CHARS:
            return self._stay(turn, self._say(turn, TOO_LONG))
        return self._ended(turn, flow, log(turn, words)) if words else None

    def _appreciate(self, turn: Turn) -> StepResult:
        done = self._moment_inline(turn, APPRECIATE_FLOW, self._log_appreciation)
        if done is not None:
            return done
        started = self._kit.flows.start(APPRECIATE_FLOW, turn.profile, turn.now)
        if not self._self_mode(turn.profile):
            return started
        return replace(started, replies=(self._say(turn, APPRECIATE_ASK_SELF),))

    def _log_appreciation(self, turn: Turn, text: str) -> list[Reply]:
        if not turn.profile.onboarded:
            return [self._say(turn, NEEDS_START)]
        user = turn.event.user
        today = self._today(turn)
        repo = MomentRepository(turn.connection, self._kit.cipher)
        repo.add(user, APPRECIATION, today.isoformat(), text, turn.now)
        own = self._self_mode(turn.profile)
        if is_specific(text):
            key = APPRECIATE_SPECIFIC_SELF if own else APPRECIATE_SPECIFIC
        else:
            key = APPRECIATE_GENERIC_SELF if own else APPRECIATE_GENERIC
        replies = [self._say(turn, key), self._balance(turn, today)]
        last_monday = today - timedelta(days=today.weekday() + 7)
        logged = repo.since(user, last_monday.isoformat())
        this_week = balance_of(logged, week_key(today)).good
        last_week = balance_of(logged, week_key(last_monday)).good
        celebration = appreciation_celebration(this_week, last_week, repo.count(user, APPRECIATION))
        if celebration is not None:
            replies.append(self._say(turn, CELEBRATE + celebration.value))
        return replies

    def _ouch(self, turn: Turn) -> StepResult:
        done = self._moment_inline(turn, OUCH_FLOW, self._log_hurt)
        if done is not None:
            return done
        started = self._kit.flows.start(OUCH_FLOW, turn.profile, turn.now)
        stamp = str(int(turn.now.timestamp()))
        button = (OUCH_WORDLESS, f"{MOMENT_PREFIX}:{WORDLESS_HURT}:{stamp}")
        ask, *rest = started.replies
        return replace(started, replies=(self._say(turn, ask.key, [button]), *rest))

    def _log_hurt(self, turn: Turn, text: str | None) -> list[Reply]:
        if not turn.profile.onboarded:
            return [self._say(turn, NEEDS_START)]
        today = self._today(turn)
        MomentRepository(turn.connection, self._kit.cipher).add(
            turn.event.user, HURT, today.isoformat(), text, turn.now
        )
        key = OUCH_LOGGED_SELF if self._self_mode(turn.profile) else OUCH_LOGGED
        return [self._say(turn, key), self._balance(turn, today)]

    def _moment_press(self, turn: Turn, parts: list[str]) -> StepResult:
        held = self._needs_start(turn)
        if held is not None:
            return held
        since = _epoch(parts[1]) if len(parts) == 2 and parts[0] == WORDLESS_HURT else None
        if since is None:
            return self._stay(turn, self._say(turn, OUCH_GARBLED))
        repo = MomentRepository(turn.connection, self._kit.cipher)
        if repo.wordless_hurt_since(turn.event.user, since):
            return self._ended(turn, OUCH_FLOW, [self._say(turn, OUCH_ALREADY)])
        return self._ended(turn, OUCH_FLOW, self._log_hurt(turn, None))

    def _balance(self, turn: Turn, today: date) -> Reply:
        """This week's good and hard moments, against about five to one (to the person only)."""
        monday = today - timedelta(days=today.weekday())
        logged = MomentRepository(turn.connection, self._kit.cipher).since(
            turn.event.user, monday.isoformat()
        )
        balance = balance_of(logged, week_key(today))
        if self._self_mode(turn.profile):
            key = BALANCE_SELF
        elif balance.hard == 0:
            key = BALANCE_NO_HARD
        elif balance.good == 0:
            key = BALANCE_NO_GOOD
        else:
            key = BALANCE_RATIO_GOAL if balance.at_goal else BALANCE_RATIO
        return self._say(
            turn, key, good=str(balance.good), hard=str(balance.hard), ratio=balance.ratio
        )

    # ------------------------------------------------------------------ /journal

    def _journal(self, turn: Turn) -> StepResult:
        held = self._needs_start(turn)
        if held is not None:
            return held
        key = JOURNAL_ASK_SCORE_SELF if self._self_mode(turn.profile) else JOURNAL_ASK_SCORE
        buttons = [
            (label, f"{JOURNAL_PREFIX}:{SCORE}:{n}")
            for n, label in enumerate(JOURNAL_SCORE_LABELS, start=1)
        ]
        return self._ended(turn, JOURNAL_FLOW, [self._say(turn, key, buttons)])

    def _journal_press(self, turn: Turn, parts: list[str]) -> StepResult:
        held = self._needs_start(turn)
        if held is not None:
            return held
        score = _score(parts[1]) if len(parts) == 2 and parts[0] == SCORE else None
        if score is None:
            return self._stay(turn, self._say(turn, JOURNAL_GARBLED))
        notes = ProgramNotes(turn.connection, self._kit.cipher)
        notes.clear(turn.event.user, JOURNAL_NOTES)
        notes.save(turn.event.user, SCORE_NOTE, str(score), turn.now)
        return self._kit.flows.start(JOURNAL_FLOW, turn.profile, turn.now)

    def _save_journal(self, turn: Turn) -> list[Reply]:
        """``journal.save``: store the week's reflection and notice what improved."""
        user = turn.event.user
        scratch = ProgramNotes(turn.connection, self._kit.cipher)
        notes = scratch.get_all(user, JOURNAL_NOTES)
        score = _score(notes.get(SCORE_NOTE, ""))
        if score is None or not turn.profile.onboarded:
            return [self._say(turn, JOURNAL_LOST)]
        today = self._today(turn)
        week = week_key(today)
        repo = JournalRepository(turn.connection, self._kit.cipher)
        previous = repo.previous_score(user, week)
        entry = JournalEntry(
            week=week,
            score=score,
            win=notes.get("journal.win"),
            challenge=notes.get("journal.challenge"),
            next_step=notes.get("journal.next"),
            at=turn.now,
        )
        replaced = repo.save(user, entry, turn.now)
        scratch.clear(user, JOURNAL_NOTES)
        last_week, this_week = self._points(turn, today, 2)
        saved = self._say(
            turn,
            JOURNAL_UPDATED if replaced else JOURNAL_SAVED,
            [(JOURNAL_BUTTON_PROGRESS, PROGRESS_PAYLOAD)],
            week=week,
            score=str(score),
        )
        replies = [saved]
        celebration = journal_celebration(score, previous, this_week, last_week)
        if celebration is not None:
            buttons = (HEALING_BUTTON,) if celebration.offers_healing else ()
            last = str(previous) if previous is not None else ""
            replies.append(self._say(turn, CELEBRATE + celebration.value, buttons, last_score=last))
        return replies

    # ------------------------------------------------------------------ /progress

    def _points(self, turn: Turn, today: date, weeks: int) -> tuple[WeekPoint, ...]:
        """The last ``weeks`` weeks of the person's rows, oldest first."""
        user, connection, cipher = turn.event.user, turn.connection, self._kit.cipher
        shown = recent_weeks(today, weeks)
        first = first_day_of(today, weeks).isoformat()
        scores = JournalRepository(connection, cipher).scores(user)
        return progress_series(
            shown,
            {week: scores[week] for week in shown if week in scores},
            PromiseRepository(connection, cipher).since(user, first),
            done_step_days(connection, user, first),
            MomentRepository(connection, cipher).since(user, first),
            today=today,
        )

    def _progress(self, turn: Turn) -> StepResult:
        held = self._needs_start(turn)
        if held is not None:
            return held
        return self._stay(turn, *self._progress_replies(turn))

    def _progress_replies(self, turn: Turn) -> list[Reply]:
        points = self._points(turn, self._today(turn), PROGRESS_WEEKS)
        summary = summarise(points)
        if not summary.has_data:
            return [self._say(turn, PROGRESS_EMPTY)]
        labels = ChartLabels(*(self._texts.render(key) for key in CHART_KEYS))
        image = render_progress(points, labels)
        values = turn.profile.placeholders(self._kit.default_timezone)
        if summary.latest_score is not None:
            first = self._texts.render(
                PROGRESS_SCORE_LINE,
                {
                    **values,
                    "score": str(summary.latest_score),
                    "week": summary.latest_week or "",
                    "average": summary.average_score,
                    "weeks": str(summary.scored_weeks),
                },
            )
        else:
            first = self._texts.render(PROGRESS_NO_SCORE_LINE, values)
        second = self._texts.render(
            PROGRESS_TOTALS_LINE,
            {
                **values,
                "kept": str(summary.promises_kept),
                "answered": str(summary.promises_answered),
                "steps": str(summary.steps_done),
                "good": str(summary.good),
                "hard": str(summary.hard),
            },
        )
        attachment = Attachment(PROGRESS_FILENAME, image, "image/png")
        return [Reply(text=f"{first}\n{second}", key=PROGRESS_SUMMARY, attachment=attachment)]

    # ------------------------------------------------------------------ hooks

    def press(self, turn: Turn) -> StepResult | None:
        """Buttons ``pr:``, ``m:``, ``j:`` and ``pg:``; None for any other payload."""
        prefix, _, rest = (turn.event.payload or "").partition(":")
        parts = rest.split(":")
        ours = (PROMISE_PREFIX, MOMENT_PREFIX, JOURNAL_PREFIX, PROGRESS_PREFIX)
        if prefix in ours and not turn.event.chat.is_private:
            # Shown only in private chats; pressed anywhere else (a forwarded message), it
            # must not start a flow whose typed answers would then be read in a group.
            result = self._stay(turn, self._say(turn, keys.PRIVATE_ONLY))
        elif prefix == PROMISE_PREFIX:
            result = self._promise_press(turn, parts)
        elif prefix == MOMENT_PREFIX:
            result = self._moment_press(turn, parts)
        elif prefix == JOURNAL_PREFIX:
            result = self._journal_press(turn, parts)
        elif prefix == PROGRESS_PREFIX:
            result = self._needs_start(turn) or self._stay(turn, *self._progress_replies(turn))
        else:
            return None
        if turn.event.chat.is_private:
            return result
        private = tuple(replace(r, private_to=turn.event.user) for r in result.replies)
        return replace(result, replies=private)

    def keep(self, turn: Turn, note: str, text: str) -> list[Reply] | None:
        """Typed answers: a promise, an appreciation, a hurt, or a reflection answer."""
        if note == "promise.text":
            return self._make_promise(turn, text)
        if note == "appreciate.text":
            return self._log_appreciation(turn, text)
        if note == "ouch.text":
            return self._log_hurt(turn, text)
        if note in JOURNAL_ANSWERS:
            if text.strip().casefold() not in SKIP_WORDS:
                notes = ProgramNotes(turn.connection, self._kit.cipher)
                notes.save(turn.event.user, note, text, turn.now)
            return []
        return None

    def act(self, turn: Turn, action: str) -> list[Reply] | None:
        """``journal.save``; None for any other action."""
        if action != "journal.save":
            return None
        return self._save_journal(turn)


def _required() -> list[str]:
    """Every text key the desk names in code."""
    return [
        NEEDS_START,
        TOO_LONG,
        PROMISE_ASK,
        PROMISE_ASK_SELF,
        PROMISE_CURRENT,
        PROMISE_MADE,
        PROMISE_MADE_MORNING,
        PROMISE_MADE_NO_ASK,
        PROMISE_REPLACED,
        *PROMISE_PICK_LABELS,
        PROMISE_BUTTON_KEPT,
        PROMISE_BUTTON_NOT,
        PROMISE_EVENING,
        PROMISE_EVENING_LATE,
        PROMISE_KEPT,
        PROMISE_NOT_KEPT,
        PROMISE_FOLLOW,
        PROMISE_SEVERAL_MISSED,
        PROMISE_GONE,
        PROMISE_GARBLED,
        APPRECIATE_ASK_SELF,
        APPRECIATE_SPECIFIC,
        APPRECIATE_SPECIFIC_SELF,
        APPRECIATE_GENERIC,
        APPRECIATE_GENERIC_SELF,
        OUCH_WORDLESS,
        OUCH_LOGGED,
        OUCH_LOGGED_SELF,
        OUCH_ALREADY,
        OUCH_GARBLED,
        BALANCE_NO_HARD,
        BALANCE_RATIO,
        BALANCE_RATIO_GOAL,
        BALANCE_NO_GOOD,
        BALANCE_SELF,
        JOURNAL_ASK_SCORE,
        JOURNAL_ASK_SCORE_SELF,
        *JOURNAL_SCORE_LABELS,
        JOURNAL_SAVED,
        JOURNAL_UPDATED,
        JOURNAL_LOST,
        JOURNAL_GARBLED,
        JOURNAL_BUTTON_PROGRESS,
        PROGRESS_EMPTY,
        PROGRESS_SCORE_LINE,
        PROGRESS_NO_SCORE_LINE,
        PROGRESS_TOTALS_LINE,
        *CHART_KEYS,
        *(CELEBRATE + c.value for c in Celebration),
        HEALING_BUTTON[0],
    ]
