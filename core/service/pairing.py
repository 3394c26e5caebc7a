"""Pairing two people, linking their shared group, unpairing, and the couple's code word.

Every decision here reads and writes inside the turn's one transaction, so two presses at
the same moment cannot both use a code or both link a group. Nothing a person told Mend
privately is read here: the texts that reach a partner or a group are fixed, neutral
content texts, identical whoever caused them. The only values they carry are a pairing
code, a deep link, the code word the couple chose for both of them, or (to the inviter,
once) the platform display name of the person who used their code.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import timedelta

from core.codewords import OFF, WordProblem, check_codeword, common_words
from core.content import Content, ContentError
from core.couples import Couple
from core.flows.engine import FlowEngine, StepResult
from core.profile import MAX_NAME_CHARS
from core.service.courier import ButtonSpec, CoupleHandler, Courier, Turn
from core.service.rituals import forget_couple_schedule, move_weekly_reminder
from core.storage.breaks import BreakRepository
from core.storage.couples import CoupleRepository
from core.storage.deliveries import TimerRepository
from core.storage.repositories import UserRepository
from core.text_input import clean_text
from core.types import ChatRef, IncomingEvent, Platform, Reply, UserRef

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
"""Letters and digits nobody misreads: no 0/O, 1/I/L."""
CODE_LENGTH = 8
CODE_LIFETIME = timedelta(hours=48)
"""How long a pairing code works."""
CODE_TRIES = 5
"""Fresh codes drawn before giving up on finding one not already stored (never happens)."""
START_PREFIX = "pair_"
"""Telegram deep links carry ``start=pair_<code>``."""
PREFIX = "p"
"""Payload prefix of pairing buttons: ``p:<verb>[:<argument>...]``."""
ONBOARDING = "onboarding"
TAG_CHARS = 8
"""Hex characters of a proposed word's digest carried by its confirm button."""

# Button verbs.
ACCEPT, DECLINE = "ok", "no"
UNPAIR, KEEP = "un", "keep"
LINK = "ln"
WORD_YES, WORD_NO = "cw", "cn"

# Text keys (content/locales/en/pairing.yaml).
NEEDS_START = "pairing.needs_start"
ALREADY_PAIRED = "pairing.already_paired"
SAFETY_HOLD = "pairing.safety_hold"
CODE = "pairing.code"
CODE_LINK = "pairing.code_link"
CONSENT = "pairing.consent"
SET_UP_FIRST = "pairing.set_up_first"
DECLINED = "pairing.declined"
CODE_UNKNOWN = "pairing.code_unknown"
CODE_EXPIRED = "pairing.code_expired"
CODE_USED = "pairing.code_used"
CODE_OWN = "pairing.code_own"
INVITER_PAIRED = "pairing.inviter_paired"
INVITER_NOT_READY = "pairing.inviter_not_ready"
PAIRED = "pairing.paired"
PAIRED_INVITER = "pairing.paired_inviter"
PAIRED_INVITER_UNNAMED = "pairing.paired_inviter_unnamed"
NOT_PAIRED = "pairing.not_paired"
UNPAIR_ASK = "pairing.unpair_ask"
UNPAIRED = "pairing.unpaired"
UNPAIR_KEPT = "pairing.unpair_kept"
PARTNER_UNPAIRED = "pairing.partner_unpaired"
LINK_NEED_START = "pairing.link_need_start"
LINK_NEED_PAIR = "pairing.link_need_pair"
LINK_PARTNER_NOT_READY = "pairing.link_partner_not_ready"
LINK_OTHER_APP = "pairing.link_other_app"
LINK_TAKEN = "pairing.link_taken"
LINK_ALREADY = "pairing.link_already"
LINK_ASKED = "pairing.link_asked"
LINK_WAITING = "pairing.link_waiting"
LINK_STALE = "pairing.link_stale"
LINKED = "pairing.linked"
LINK_MOVED = "pairing.link_moved"
ONLY_COUPLE = "pairing.only_couple"
CODEWORD_NEED_PAIR = "pairing.codeword_need_pair"
CODEWORD_NONE = "pairing.codeword_none"
CODEWORD_CURRENT = "pairing.codeword_current"
CODEWORD_PENDING = "pairing.codeword_pending"
CODEWORD_SAME = "pairing.codeword_same"
CODEWORD_PROPOSED = "pairing.codeword_proposed"
CODEWORD_ASK = "pairing.codeword_ask"
CODEWORD_ASK_GROUP = "pairing.codeword_ask_group"
CODEWORD_WAITING = "pairing.codeword_waiting"
CODEWORD_STALE = "pairing.codeword_stale"
CODEWORD_SET_PLAIN = "pairing.codeword_set_plain"
CODEWORD_SET_MENTION = "pairing.codeword_set_mention"
CODEWORD_SET_PRIVATE = "pairing.codeword_set_private"
CODEWORD_DECLINED = "pairing.codeword_declined"
CODEWORD_OFF = "pairing.codeword_off"
CODEWORD_PROBLEMS = {problem: f"pairing.codeword_{problem.value}" for problem in WordProblem}
BUTTON_ACCEPT = "pairing.button.accept"
BUTTON_DECLINE = "pairing.button.decline"
BUTTON_UNPAIR_YES = "pairing.button.unpair_yes"
BUTTON_UNPAIR_NO = "pairing.button.unpair_no"
BUTTON_LINK = "pairing.button.link_confirm"
BUTTON_WORD_YES = "pairing.button.codeword_confirm"
BUTTON_WORD_NO = "pairing.button.codeword_decline"
KEYS: tuple[str, ...] = tuple(
    value
    for name, value in sorted(globals().items())
    if name.isupper() and isinstance(value, str) and value.startswith("pairing.")
) + tuple(CODEWORD_PROBLEMS.values())
"""Every text key this desk uses; building the desk fails if content lacks one."""


def encode(verb: str, *arguments: object) -> str:
    """The payload of a pairing button."""
    return ":".join([PREFIX, verb, *(str(a) for a in arguments)])


def decode(payload: str) -> tuple[str, tuple[str, ...]] | None:
    """``(verb, arguments)`` of a pairing payload, or None for anyone else's."""
    parts = payload.split(":")
    if len(parts) < 2 or parts[0] != PREFIX or not parts[1]:
        return None
    return parts[1], tuple(parts[2:])


def normalise_code(typed: str) -> str | None:
    """A typed or linked code in its stored form, or None if it cannot be one."""
    code = "".join(typed.split()).replace("-", "").upper()
    if len(code) != CODE_LENGTH or any(char not in CODE_ALPHABET for char in code):
        return None
    return code


def new_code(choose: Callable[[str], str] = secrets.choice) -> str:
    """A random pairing code from :data:`CODE_ALPHABET`.

    ``choose`` picks one character; the default is cryptographically random. A seeded
    ``random.Random(...).choice`` makes codes reproducible for a scripted console demo.
    """
    return "".join(choose(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def display_name(user: UserRef) -> str | None:
    """The name to keep for neutral notices: the platform's, cleaned and capped, or None."""
    return clean_text(user.display_name or "")[:MAX_NAME_CHARS] or None


def typed_command(platform: Platform, code: str) -> str:
    """How the partner enters ``code`` on ``platform``."""
    if platform is Platform.DISCORD:
        return f"/pair code:{code}"
    return f"/pair {code}"


def deep_link(bot_username: str, code: str) -> str:
    """The Telegram link that opens Mend with the code already in it."""
    return f"https://t.me/{bot_username}?start={START_PREFIX}{code}"


def word_tag(word: str) -> str:
    """A short digest of a proposed word, so a button confirms only the word it showed."""
    return hashlib.sha256(word.encode()).hexdigest()[:TAG_CHARS]


def is_invite_start(event: IncomingEvent) -> bool:
    """True for ``/start pair_<code>`` in private: a Telegram pairing deep link."""
    return (
        event.command == "start"
        and event.chat.is_private
        and len(event.args) == 1
        and event.args[0].startswith(START_PREFIX)
    )


def same_chat(first: ChatRef | None, second: ChatRef) -> bool:
    """True if ``first`` is the chat (and thread) ``second``."""
    return (
        first is not None
        and first.platform is second.platform
        and first.chat_id == second.chat_id
        and first.thread_id == second.thread_id
    )


class PairingDesk:
    """``/pair``, ``/unpair``, ``/link`` and ``/codeword``, with their buttons."""

    def __init__(
        self,
        content: Content,
        courier: Courier,
        *,
        default_timezone: str,
        choose: Callable[[str], str] = secrets.choice,
    ) -> None:
        self._choose = choose
        self._content = content
        self._courier = courier
        self._default_timezone = default_timezone
        missing = [key for key in KEYS if key not in content.texts.by_key]
        if missing:
            raise ContentError([f"code: text key {key!r} is missing" for key in missing])
        self._engine = FlowEngine(content, default_timezone=default_timezone)
        self._common = common_words()
        self._presses = {
            ACCEPT: self._accept,
            DECLINE: self._decline,
            UNPAIR: self._unpair_yes,
            KEEP: self._unpair_keep,
            LINK: self._link_confirm,
            WORD_YES: self._word_confirm,
            WORD_NO: self._word_decline,
        }

    @property
    def commands(self) -> Mapping[str, CoupleHandler]:
        """The commands this desk answers."""
        return {
            "pair": self._pair,
            "unpair": self._unpair,
            "link": self._link,
            "codeword": self._codeword,
        }

    def press(self, turn: Turn) -> StepResult | None:
        """Pairing buttons (accept, decline, confirm link or code word, unpair)."""
        decoded = decode(turn.event.payload or "")
        if decoded is None:
            return None
        verb, arguments = decoded
        handler = self._presses.get(verb)
        return handler(turn, arguments) if handler is not None else None

    def start_with_code(self, turn: Turn) -> StepResult:
        """``/start pair_<code>`` (a Telegram deep link): the same as ``/pair <code>``."""
        return self._offer(turn, turn.event.args[0][len(START_PREFIX) :])

    def farewell(self, turn: Turn) -> list[Reply]:
        """Before a person's data is deleted: a neutral notice for their partner, if any.

        Their couple ends here (the break timers with it), so nothing of theirs is left
        waiting to be sent to the partner.
        """
        repo = CoupleRepository(turn.connection)
        couple = repo.couple_of(turn.event.user)
        if couple is None:
            return []
        partner = couple.partner_of(turn.event.user)
        self._cancel_break_timers(turn, couple)
        forget_couple_schedule(turn.connection, couple)
        repo.unpair(couple.id)
        return self._courier.to_person(turn, partner.user, PARTNER_UNPAIRED)

    # ------------------------------------------------------------------ /pair

    def _pair(self, turn: Turn) -> StepResult:
        if turn.event.args:
            return self._offer(turn, " ".join(turn.event.args))
        profile, user = turn.profile, turn.event.user
        if not profile.onboarded:
            return self._stay(turn, self._say(NEEDS_START))
        if profile.safety_mode:
            return self._stay(turn, self._say(SAFETY_HOLD))
        repo = CoupleRepository(turn.connection)
        if repo.couple_of(user) is not None:
            repo.set_name(user, display_name(user))
            return self._stay(turn, self._say(ALREADY_PAIRED))
        code = new_code(self._choose)
        for _ in range(CODE_TRIES):
            if repo.invite(code) is None:
                break
            code = new_code(self._choose)
        repo.create_invite(user, code, turn.now, turn.now + CODE_LIFETIME)
        platform = turn.event.chat.platform
        values = {"command": typed_command(platform, code)}
        if platform is Platform.TELEGRAM and turn.event.bot_username:
            values["link"] = deep_link(turn.event.bot_username, code)
            return self._stay(turn, self._say(CODE_LINK, values))
        return self._stay(turn, self._say(CODE, values))

    def _offer(self, turn: Turn, typed: str) -> StepResult:
        """Someone entered a code: first show what pairing shares, with the choice."""
        code = normalise_code(typed)
        if code is None:
            return self._stay(turn, self._say(CODE_UNKNOWN))
        if not turn.profile.onboarded:
            return self._set_up_first(turn, code)
        problem = self._problem(turn, code)
        if problem is not None:
            return self._stay(turn, self._say(problem))
        buttons = [(BUTTON_ACCEPT, encode(ACCEPT, code)), (BUTTON_DECLINE, encode(DECLINE, code))]
        return self._stay(turn, self._say(CONSENT, buttons=buttons))

    def _set_up_first(self, turn: Turn, code: str) -> StepResult:
        """Not set up yet: say so, then begin (or show again) the set-up."""
        first = self._say(SET_UP_FIRST, {"command": typed_command(turn.event.chat.platform, code)})
        state = turn.state
        if state is not None and state.flow == ONBOARDING:
            again = self._engine.show(state, turn.profile)
            return StepResult((first, *again), state, turn.profile)
        started = self._engine.start(ONBOARDING, turn.profile, turn.now)
        return replace(started, replies=(first, *started.replies))

    def _problem(self, turn: Turn, code: str) -> str | None:
        """Why ``code`` cannot pair this person now (a text key), or None if it can."""
        connection, user = turn.connection, turn.event.user
        repo = CoupleRepository(connection)
        invite = repo.invite(code)
        if invite is None:
            return CODE_UNKNOWN
        if invite.used_at is not None:
            return CODE_USED
        if turn.now >= invite.expires_at:
            return CODE_EXPIRED
        if invite.inviter == user:
            return CODE_OWN
        if turn.profile.safety_mode:
            return SAFETY_HOLD
        if repo.couple_of(user) is not None:
            return ALREADY_PAIRED
        if repo.couple_of(invite.inviter) is not None:
            return INVITER_PAIRED
        inviter = UserRepository(connection).find(invite.inviter)
        if inviter is None or not inviter.onboarded or inviter.safety_mode:
            return INVITER_NOT_READY
        return None

    def _accept(self, turn: Turn, arguments: tuple[str, ...]) -> StepResult:
        code = normalise_code(arguments[0]) if arguments else None
        if code is None:
            return self._stay(turn, self._toast(CODE_UNKNOWN))
        if not turn.profile.onboarded:
            return self._set_up_first(turn, code)
        problem = self._problem(turn, code)
        repo = CoupleRepository(turn.connection)
        invite = repo.invite(code)
        if problem is not None or invite is None:
            return self._stay(turn, *self._to_actor(turn, problem or CODE_UNKNOWN))
        if not repo.use_invite(code, turn.now):  # someone else got there first
            return self._stay(turn, *self._to_actor(turn, CODE_USED))
        user = turn.event.user
        name = display_name(user)
        repo.pair(invite.inviter, None, user, name, turn.now)
        repo.drop_unused_invites(invite.inviter)
        repo.drop_unused_invites(user)
        replies = self._to_actor(turn, PAIRED)
        # The inviter learns who used their code, so a code that reached the wrong person
        # does not go unnoticed (they can /unpair at once).
        if name:
            told = self._courier.to_person(turn, invite.inviter, PAIRED_INVITER, {"partner": name})
        else:
            told = self._courier.to_person(turn, invite.inviter, PAIRED_INVITER_UNNAMED)
        replies += told
        return self._stay(turn, *replies)

    def _decline(self, turn: Turn, arguments: tuple[str, ...]) -> StepResult:
        return self._stay(turn, *self._to_actor(turn, DECLINED))

    # ------------------------------------------------------------------ /unpair

    def _unpair(self, turn: Turn) -> StepResult:
        couple = CoupleRepository(turn.connection).couple_of(turn.event.user)
        if couple is None:
            return self._stay(turn, self._say(NOT_PAIRED))
        buttons = [
            (BUTTON_UNPAIR_YES, encode(UNPAIR, couple.id)),
            (BUTTON_UNPAIR_NO, encode(KEEP)),
        ]
        return self._stay(turn, self._say(UNPAIR_ASK, buttons=buttons))

    def _unpair_yes(self, turn: Turn, arguments: tuple[str, ...]) -> StepResult:
        repo = CoupleRepository(turn.connection)
        user = turn.event.user
        couple = repo.couple_of(user)
        if couple is None or arguments != (str(couple.id),):
            return self._stay(turn, *self._to_actor(turn, NOT_PAIRED))
        partner = couple.partner_of(user)
        self._cancel_break_timers(turn, couple)
        forget_couple_schedule(turn.connection, couple)
        repo.unpair(couple.id)
        replies = self._to_actor(turn, UNPAIRED)
        replies += self._courier.to_person(turn, partner.user, PARTNER_UNPAIRED)
        return self._stay(turn, *replies)

    def _unpair_keep(self, turn: Turn, arguments: tuple[str, ...]) -> StepResult:
        return self._stay(turn, *self._to_actor(turn, UNPAIR_KEPT))

    @staticmethod
    def _cancel_break_timers(turn: Turn, couple: Couple) -> None:
        """Drop the pending end of the couple's break, shared and per partner."""
        first = couple.partners[0].member_id
        current = BreakRepository(turn.connection).current(couple.id, first)
        if current is None:
            return
        timers = TimerRepository(turn.connection)
        timers.cancel(current.timer_key)
        for partner in couple.partners:
            timers.cancel(f"{current.timer_key}:{partner.member_id}")

    # ------------------------------------------------------------------ /link

    def _link(self, turn: Turn) -> StepResult:
        user, chat = turn.event.user, turn.event.chat
        repo = CoupleRepository(turn.connection)
        couple = repo.couple_of(user)
        owner = repo.couple_for_group(chat)
        if owner is not None and (couple is None or couple.id != owner.id):
            if couple is None:
                return self._stay(turn, self._toast(ONLY_COUPLE))
            return self._stay(turn, self._say(LINK_TAKEN))
        if not turn.profile.onboarded:
            return self._stay(turn, self._say(LINK_NEED_START))
        if couple is None:
            return self._stay(turn, self._say(LINK_NEED_PAIR))
        repo.set_name(user, display_name(user))
        if owner is not None:
            return self._stay(turn, self._say(LINK_ALREADY))
        partner = couple.partner_of(user)
        if partner.user.platform is not chat.platform:
            return self._stay(turn, self._say(LINK_OTHER_APP))
        found = UserRepository(turn.connection).find(partner.user)
        if found is None or not found.onboarded:
            return self._stay(turn, self._say(LINK_PARTNER_NOT_READY))
        me = couple.member(user)
        assert me is not None
        repo.request_link(couple.id, chat, me.member_id)
        buttons = [(BUTTON_LINK, encode(LINK, couple.id))]
        return self._stay(turn, self._say(LINK_ASKED, buttons=buttons))

    def _link_confirm(self, turn: Turn, arguments: tuple[str, ...]) -> StepResult:
        user, chat = turn.event.user, turn.event.chat
        repo = CoupleRepository(turn.connection)
        couple = repo.couple_of(user)
        if couple is None or arguments != (str(couple.id),):
            return self._stay(turn, self._toast(ONLY_COUPLE))
        if same_chat(couple.group, chat):
            return self._stay(turn, self._toast(LINK_ALREADY))
        if not same_chat(couple.pending_link, chat):
            return self._stay(turn, self._toast(LINK_STALE))
        me = couple.member(user)
        assert me is not None
        if couple.link_by == me.member_id:
            return self._stay(turn, self._toast(LINK_WAITING))
        owner = repo.couple_for_group(chat)
        if owner is not None and owner.id != couple.id:
            return self._stay(turn, self._say(LINK_TAKEN))
        repo.set_name(user, display_name(user))
        repo.link(couple.id, chat, turn.now)
        move_weekly_reminder(turn.connection, couple, chat)
        replies = [self._say(LINKED)]
        old = couple.group
        if old is not None:
            via = next((p.user for p in couple.partners if p.user.platform is old.platform), user)
            replies += self._courier.to_chat(turn, old, via, LINK_MOVED)
        return self._stay(turn, *replies)

    # ------------------------------------------------------------------ /codeword

    def _codeword(self, turn: Turn) -> StepResult:
        user, chat = turn.event.user, turn.event.chat
        repo = CoupleRepository(turn.connection)
        couple = repo.couple_of(user)
        owner = None if chat.is_private else repo.couple_for_group(chat)
        if owner is not None and (couple is None or couple.id != owner.id):
            return self._stay(turn, self._toast(ONLY_COUPLE))
        if couple is None:
            return self._stay(turn, *self._to_actor(turn, CODEWORD_NEED_PAIR))
        repo.set_name(user, display_name(user))
        typed = " ".join(turn.event.args)
        if not typed:
            return self._stay(turn, *self._here(turn, couple, *self._status(couple)))
        if typed.strip().casefold() == OFF:
            return self._stay(turn, *self._codeword_off(turn, couple))
        checked = check_codeword(typed, self._content.commands, self._common)
        values = {"text": checked.word}
        if checked.problem is not None:
            refused = CODEWORD_PROBLEMS[checked.problem]
            return self._stay(turn, *self._here(turn, couple, refused, values))
        if checked.word == couple.codeword:
            return self._stay(turn, *self._here(turn, couple, CODEWORD_SAME, values))
        me = couple.member(user)
        assert me is not None
        repo.propose_codeword(couple.id, checked.word, me.member_id)
        tag = word_tag(checked.word)
        buttons = [
            (BUTTON_WORD_YES, encode(WORD_YES, couple.id, tag)),
            (BUTTON_WORD_NO, encode(WORD_NO, couple.id, tag)),
        ]
        if same_chat(couple.group, chat):
            return self._stay(turn, self._say(CODEWORD_ASK_GROUP, values, buttons))
        partner = couple.partner_of(user)
        replies = self._to_actor(turn, CODEWORD_PROPOSED, values)
        replies += self._courier.to_person(turn, partner.user, CODEWORD_ASK, values, buttons)
        return self._stay(turn, *replies)

    @staticmethod
    def _status(couple: Couple) -> tuple[str, dict[str, str]]:
        if couple.codeword:
            return CODEWORD_CURRENT, {"text": couple.codeword}
        if couple.codeword_proposed:
            return CODEWORD_PENDING, {"text": couple.codeword_proposed}
        return CODEWORD_NONE, {}

    def _codeword_off(self, turn: Turn, couple: Couple) -> list[Reply]:
        if not couple.codeword and not couple.codeword_proposed:
            return self._here(turn, couple, CODEWORD_NONE)
        CoupleRepository(turn.connection).clear_codeword(couple.id)
        return self._to_both(turn, couple, CODEWORD_OFF)

    def _word_confirm(self, turn: Turn, arguments: tuple[str, ...]) -> StepResult:
        couple, problem = self._proposal(turn, arguments)
        if couple is None or couple.codeword_proposed is None:
            return self._stay(turn, self._toast(problem or ONLY_COUPLE))
        me = couple.member(turn.event.user)
        assert me is not None
        if couple.codeword_by == me.member_id:
            return self._stay(turn, self._toast(CODEWORD_WAITING))
        CoupleRepository(turn.connection).confirm_codeword(couple.id)
        values = {"text": couple.codeword_proposed}
        if same_chat(couple.group, turn.event.chat):
            key = CODEWORD_SET_PLAIN if turn.event.sees_plain_text else CODEWORD_SET_MENTION
            return self._stay(turn, self._say(key, values))
        return self._stay(turn, *self._to_both(turn, couple, CODEWORD_SET_PRIVATE, values))

    def _word_decline(self, turn: Turn, arguments: tuple[str, ...]) -> StepResult:
        couple, problem = self._proposal(turn, arguments)
        if couple is None or couple.codeword_proposed is None:
            return self._stay(turn, self._toast(problem or ONLY_COUPLE))
        CoupleRepository(turn.connection).drop_codeword_proposal(couple.id)
        values = {"text": couple.codeword_proposed}
        return self._stay(turn, *self._to_both(turn, couple, CODEWORD_DECLINED, values))

    def _proposal(self, turn: Turn, arguments: tuple[str, ...]) -> tuple[Couple | None, str | None]:
        """The presser's couple if the button is theirs and its word still stands.

        Returns the couple, or None and the toast to show instead.
        """
        couple = CoupleRepository(turn.connection).couple_of(turn.event.user)
        if couple is None or len(arguments) != 2 or arguments[0] != str(couple.id):
            return None, ONLY_COUPLE
        proposed = couple.codeword_proposed
        if proposed is None or word_tag(proposed) != arguments[1]:
            return None, CODEWORD_STALE
        return couple, None

    # ------------------------------------------------------------------ saying things

    def _here(
        self,
        turn: Turn,
        couple: Couple,
        key: str,
        values: Mapping[str, str] | None = None,
    ) -> list[Reply]:
        """To the actor: in the couple's own group for both to see, else privately."""
        if same_chat(couple.group, turn.event.chat):
            return [self._say(key, values)]
        return self._to_actor(turn, key, values)

    def _to_both(
        self,
        turn: Turn,
        couple: Couple,
        key: str,
        values: Mapping[str, str] | None = None,
    ) -> list[Reply]:
        """The same text for both partners: once in their group, else privately to each."""
        if same_chat(couple.group, turn.event.chat):
            return [self._say(key, values)]
        partner = couple.partner_of(turn.event.user)
        return self._to_actor(turn, key, values) + self._courier.to_person(
            turn, partner.user, key, values
        )

    def _to_actor(
        self, turn: Turn, key: str, values: Mapping[str, str] | None = None
    ) -> list[Reply]:
        return self._courier.to_person(turn, turn.event.user, key, values)

    def _say(
        self,
        key: str,
        values: Mapping[str, str] | None = None,
        buttons: Sequence[ButtonSpec] = (),
    ) -> Reply:
        return self._courier.say(key, values, buttons)

    def _toast(self, key: str) -> Reply:
        """A brief note only the person who pressed or typed sees; nothing changes."""
        return replace(self._courier.say(key), toast=True)

    @staticmethod
    def _stay(turn: Turn, *replies: Reply) -> StepResult:
        """Replies that leave the person's place in any flow as it was."""
        return StepResult(tuple(replies), turn.state, turn.profile)
