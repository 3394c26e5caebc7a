"""The daily-step plan: which micro-action a person sees on which day (pure logic).

The scheduler renders morning steps in bulk with no database at hand, so the step of a day
must follow from the stored profile alone. Two short strings on the profile carry it:

* ``Profile.plan``: the coming steps, ``<first day ordinal>:<basis>:<id>,<id>,…`` (about
  60 ids; the basis names the phase, situation and safety mode it was built for). The
  step of a day is the entry for that day; past the last entry the plan repeats its last
  :data:`CYCLE` entries in order. Every window of :data:`CYCLE` consecutive entries
  is built free of repeats, so even someone who never opens the chat again meets no step
  twice within :data:`WINDOW` days.
* ``Profile.recent``: the steps shown lately that the plan no longer holds (its past days,
  and the steps a swap showed), so a rebuilt plan keeps clear of them.

A plan is (re)built only in interactive turns, which have the database: when set-up ends,
when the phase, safety mode or situation no longer match its basis (however they
changed), after a skip or a swap, and when fewer than :data:`REFILL_BELOW` days are left.
Building is deterministic: the same person, history and day always give the same plan,
and a rebuilt plan keeps today's step as it was.

Choice for a day follows the phase and the guided first weeks (:func:`slot_for`), fits the
person (solo steps only while apart, self-focused steps only in safety mode), never repeats
a step within :data:`WINDOW` days, keeps a step they skipped or swapped away for
:data:`AVOID_DAYS` days while others are there, and shows themes they often skip less.
When a pool is too small for all of that, it widens step by step and at the very end falls
back to the step shown least recently: it never fails.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from core.content.program import ActionSpec
from core.program.phases import GUIDED_WEEKS, LAST_PHASE

__all__ = [
    "AVOID_DAYS",
    "CYCLE",
    "EMPTY_PLAN",
    "OFTEN_SKIPPED",
    "PLAN_DAYS",
    "RECENT_DAYS",
    "REFILL_BELOW",
    "WINDOW",
    "Catalogue",
    "Logged",
    "Outcome",
    "Person",
    "Plan",
    "Shown",
    "Slot",
    "build_plan",
    "decode_plan",
    "decode_recent",
    "encode_plan",
    "encode_recent",
    "fallback_step",
    "past_steps",
    "planned_step",
    "slot_for",
    "swap_for",
]

WINDOW = 45
"""No step comes back within this many days of being shown."""
CYCLE = WINDOW + 1
"""Entries a plan repeats past its end: a repeat is then at least this many days apart."""
PLAN_DAYS = 60
"""Days a (re)built plan covers, starting today."""
REFILL_BELOW = 20
"""An interactive turn rebuilds a plan with fewer days than this left."""
RECENT_DAYS = 60
"""How far back ``Profile.recent`` remembers shown steps (more than :data:`WINDOW`)."""
AVOID_DAYS = 90
"""A step skipped or swapped away is kept out of the plan this long while others exist."""
OFTEN_SKIPPED = 3
"""Skips and swaps of one theme within :data:`AVOID_DAYS` that make it come up less."""

_NEVER = -(10**9)
"""The "last shown" day of a step never shown: older than any real one."""
_MAX_ORDINAL = date.max.toordinal()


class Outcome(StrEnum):
    """What the action log records about a daily step."""

    DONE = "done"
    SKIPPED = "skipped"
    SWAPPED = "swapped"
    """Swapped away for another one (the step recorded is the one not wanted)."""
    SUGGESTED = "suggested"
    """Mend suggested moving on to the next phase (the step recorded is ``phase_<n>``)."""


@dataclass(frozen=True, slots=True)
class Logged:
    """One row of the action log, as the plan reads it.

    Attributes:
        day: the person's local date, as an ordinal.
        action: the step's id.
        outcome: what they did with it.
    """

    day: int
    action: str
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Person:
    """The facts about a person the plan follows.

    Attributes:
        key: a stable string for the person (``person_key``): it seeds their own order.
        first_day: the local day their programme began (set-up), as an ordinal.
        phase: the phase they are in (1 to 4).
        apart: True while on a break or separated: solo steps only.
        safe: True in safety mode: self-focused steps only.
    """

    key: str
    first_day: int
    phase: int = 1
    apart: bool = False
    safe: bool = False

    @property
    def basis(self) -> str:
        """What a plan for them depends on beyond their history: phase, apart, safety mode."""
        return f"{self.phase}{int(self.apart)}{int(self.safe)}"


@dataclass(frozen=True, slots=True)
class Slot:
    """What kind of step a day calls for.

    Attributes:
        phases: the phases its step should come from.
        themes: the themes it should have, or None for any.
    """

    phases: frozenset[int]
    themes: frozenset[str] | None = None


_P1 = Slot(frozenset({1}))
_P2_TRUST = Slot(frozenset({2}), frozenset({"trust"}))
_P3_CONNECT = Slot(frozenset({3}), frozenset({"connection", "appreciation", "fun"}))
_WEEK_TWO = (_P1, _P2_TRUST, _P1, _P2_TRUST, _P1, _P2_TRUST, _P1)
"""Week two: a micro-commitment every other day."""
_WEEK_THREE = (_P1, _P2_TRUST, _P3_CONNECT, _P1, _P2_TRUST, _P3_CONNECT, _P1)
"""Week three: micro-commitments continue, and a connection practice comes in."""
_EARLIER_EVERY = 3
"""Outside the guided weeks, every third day draws on the phases before theirs."""
_OWN = {p: Slot(frozenset({p})) for p in range(1, LAST_PHASE + 1)}
_EARLIER = {p: Slot(frozenset(range(1, p)) or frozenset({1})) for p in range(1, LAST_PHASE + 1)}


def slot_for(person: Person, day: int) -> Slot:
    """What kind of step ``day`` (an ordinal) calls for.

    While someone is still in phase 1, the first three weeks follow the guides' plan:
    week one damage control only, week two adds a trust-building micro-commitment every
    other day, week three also a connection practice twice a week. After that (or once
    they choose another phase), two days in three come from their phase and every third
    day from the phases before it.
    """
    since = max(0, day - person.first_day)
    week, weekday = divmod(since, 7)  # week 0 is the programme's first
    phase = min(max(person.phase, 1), LAST_PHASE)
    if phase == 1:
        if week == 1:
            return _WEEK_TWO[weekday]
        if week == GUIDED_WEEKS - 1:
            return _WEEK_THREE[weekday]
        return _P1
    if since % _EARLIER_EVERY == _EARLIER_EVERY - 1:
        return _EARLIER[phase]
    return _OWN[phase]


# ---------------------------------------------------------------------- the catalogue


def fits(action: ActionSpec, *, apart: bool, safe: bool) -> bool:
    """Whether ``action`` suits someone apart from their partner and/or in safety mode."""
    if safe and not action.self_focused:
        return False
    return not (apart and action.mode != "solo")


class Catalogue:
    """The micro-actions, indexed for choosing.

    Args:
        actions: the catalogue in file order (``content.program.actions``).
    """

    def __init__(self, actions: Sequence[ActionSpec]) -> None:
        self.actions: tuple[ActionSpec, ...] = tuple(actions)
        self.by_id: dict[str, ActionSpec] = {a.id: a for a in self.actions}
        self._fitting: dict[tuple[bool, bool], tuple[ActionSpec, ...]] = {}
        self._fallback: dict[tuple[bool, bool, int], tuple[ActionSpec, ...]] = {}

    def fitting(self, *, apart: bool, safe: bool) -> tuple[ActionSpec, ...]:
        """The actions that suit the person; the whole catalogue if none does."""
        key = (apart, safe)
        found = self._fitting.get(key)
        if found is None:
            found = tuple(a for a in self.actions if fits(a, apart=apart, safe=safe))
            found = self._fitting[key] = found or self.actions
        return found

    def fallback_pool(self, *, apart: bool, safe: bool, phase: int) -> tuple[ActionSpec, ...]:
        """The pool :func:`fallback_step` walks: fitting steps of their phase or earlier.

        Widened to every fitting step when that is fewer than :data:`CYCLE`.
        """
        key = (apart, safe, phase)
        found = self._fallback.get(key)
        if found is None:
            fitting = self.fitting(apart=apart, safe=safe)
            early = tuple(a for a in fitting if a.phase <= phase)
            found = self._fallback[key] = early if len(early) >= CYCLE else fitting
        return found


# ---------------------------------------------------------------------- plans and recent


@dataclass(frozen=True, slots=True)
class Plan:
    """The coming steps of one person.

    Attributes:
        start: the day of the first entry, as an ordinal.
        ids: one step id per day from ``start`` on.
        basis: :attr:`Person.basis` of the person it was built for ("" if unknown).
    """

    start: int
    ids: tuple[str, ...]
    basis: str = ""

    def at(self, day: int) -> str | None:
        """The step of ``day`` (an ordinal); past the end, the last entries over again.

        None before the plan starts, or for an empty plan.
        """
        index = day - self.start
        size = len(self.ids)
        if index < 0 or not size:
            return None
        if index < size:
            return self.ids[index]
        loop = min(size, CYCLE)
        return self.ids[size - loop + (index - size) % loop]

    def days_left(self, day: int) -> int:
        """How many planned days remain from ``day`` on (0 when it has run out)."""
        return max(0, self.start + len(self.ids) - max(day, self.start))


EMPTY_PLAN = Plan(0, ())


def _is_number(text: str) -> bool:
    """A day number as written here: at most seven ASCII digits."""
    return 0 < len(text) <= 7 and text.isascii() and text.isdigit()


def encode_plan(plan: Plan) -> str:
    """``Profile.plan``: ``<start>:<basis>:<id>,<id>,…`` ("" for an empty plan)."""
    return f"{plan.start}:{plan.basis}:{','.join(plan.ids)}" if plan.ids else ""


@functools.lru_cache(maxsize=1024)
def decode_plan(text: str) -> Plan:
    """The plan in ``Profile.plan``; an empty plan for "" or anything malformed."""
    head, sep, rest = text.partition(":")
    basis, sep2, ids = rest.partition(":")
    if not sep or not sep2 or not ids or not _is_number(head):
        return EMPTY_PLAN
    start = int(head)
    if not 1 <= start <= _MAX_ORDINAL:
        return EMPTY_PLAN
    return Plan(start, tuple(ids.split(",")), basis)


def planned_step(text: str, day: int) -> str | None:
    """The step a ``Profile.plan`` string holds for ``day``, as :meth:`Plan.at` gives it.

    For the bulk path: it reads only what it needs from the string, with no object built.
    """
    head, sep, rest = text.partition(":")
    _basis, sep2, ids = rest.partition(":")
    if not sep or not sep2 or not ids or not _is_number(head):
        return None
    index = day - int(head)
    if index < 0:
        return None
    size = ids.count(",") + 1
    if index >= size:
        loop = min(size, CYCLE)
        index = size - loop + (index - size) % loop
    return ids.split(",", index + 1)[index]


@dataclass(frozen=True, slots=True)
class Shown:
    """A step shown on a day that the plan no longer holds.

    Attributes:
        day: the day, as an ordinal.
        action: the step shown.
        instead_of: for a swap, the step swapped away ("" otherwise): the same swap
            pressed again shows the same step.
    """

    day: int
    action: str
    instead_of: str = ""


def encode_recent(shown: Iterable[Shown]) -> str:
    """``Profile.recent``: ``<first day>;<offset>.<id>[.<swapped away>],…`` ("" if none)."""
    entries = sorted(shown, key=lambda s: s.day)
    if not entries:
        return ""
    base = entries[0].day
    parts = [
        f"{s.day - base}.{s.action}.{s.instead_of}"
        if s.instead_of
        else f"{s.day - base}.{s.action}"
        for s in entries
    ]
    return f"{base};{','.join(parts)}"


@functools.lru_cache(maxsize=1024)
def decode_recent(text: str) -> tuple[Shown, ...]:
    """The entries of ``Profile.recent``, skipping anything malformed."""
    head, sep, rest = text.partition(";")
    if not sep or not rest or not _is_number(head):
        return ()
    base = int(head)
    found: list[Shown] = []
    for part in rest.split(","):
        bits = part.split(".")
        if len(bits) not in (2, 3) or not bits[1]:
            continue
        if not _is_number(bits[0]):
            continue
        day = base + int(bits[0])
        if day > _MAX_ORDINAL:
            continue
        found.append(Shown(day, bits[1], bits[2] if len(bits) == 3 else ""))
    return tuple(found)


# ---------------------------------------------------------------------- choosing


def _rank(person: str, action: str) -> bytes:
    """A stable pseudo-random order of steps, different for each person."""
    return hashlib.blake2b(f"{person}:{action}".encode(), digest_size=8).digest()


def fallback_step(pool: Sequence[ActionSpec], person: str, day: int) -> ActionSpec:
    """A step for a day no plan covers (a plan never built, or a step since removed).

    Each person walks ``pool`` in their own fixed order (an affine permutation), so a
    step comes back exactly ``len(pool)`` days later: never within :data:`WINDOW` days
    when the pool has at least :data:`CYCLE` steps. One hash per call.

    Raises:
        ValueError: if ``pool`` is empty.
    """
    size = len(pool)
    if not size:
        raise ValueError("no micro-actions to choose from")
    digest = hashlib.blake2b(person.encode(), digest_size=16).digest()
    offset = int.from_bytes(digest[:8], "big") % size
    stride = 1 + int.from_bytes(digest[8:], "big") % max(1, size - 1)
    while math.gcd(stride, size) != 1:
        stride += 1
    return pool[(offset + day * stride) % size]


def past_steps(plan: Plan, recent: Iterable[Shown], today: int) -> list[Shown]:
    """What was shown in the last :data:`RECENT_DAYS` days before ``today``.

    The entries of ``recent`` still that young, and the plan's own entries for the days
    before ``today`` (also those it repeated past its end).
    """
    horizon = today - RECENT_DAYS
    found = [s for s in recent if s.day >= horizon]
    seen = {(s.day, s.action) for s in found}
    if plan.ids:
        for day in range(max(plan.start, horizon), today):
            action = plan.at(day)
            if action is not None and (day, action) not in seen:
                found.append(Shown(day, action))
    found.sort(key=lambda s: s.day)
    return found


class _Chooser:
    """Chooses steps for one person day by day, remembering what it placed."""

    def __init__(
        self,
        person: Person,
        today: int,
        catalogue: Catalogue,
        shown: Iterable[Shown],
        log: Iterable[Logged],
    ) -> None:
        self.person = person
        self.pool = catalogue.fitting(apart=person.apart, safe=person.safe)
        self.last: dict[str, int] = {}
        for s in shown:
            if s.day > self.last.get(s.action, _NEVER):
                self.last[s.action] = s.day
        themes = {a.id: a.theme for a in catalogue.actions}
        self.avoided: set[str] = set()
        skips: Counter[str] = Counter()
        for entry in log:
            if entry.outcome in (Outcome.SKIPPED, Outcome.SWAPPED) and (
                today - AVOID_DAYS < entry.day <= today
            ):
                self.avoided.add(entry.action)
                theme = themes.get(entry.action)
                if theme is not None:
                    skips[theme] += 1
        self.tired = {theme for theme, n in skips.items() if n >= OFTEN_SKIPPED}
        self.rank = {a.id: _rank(person.key, a.id) for a in self.pool}
        self._tier_lists: dict[Slot, tuple[tuple[ActionSpec, ...], ...]] = {}

    def _tiers(self, slot: Slot) -> tuple[tuple[ActionSpec, ...], ...]:
        """The pool narrowed for ``slot``, most fitting first, ending with all of it.

        The slot's theme and phases; its phases; any phase up to the later of the slot's
        and the person's own; anything. Few distinct slots exist, so a plan of 60 days
        filters the pool a handful of times instead of eight times a day.
        """
        found = self._tier_lists.get(slot)
        if found is None:
            top = max(*slot.phases, self.person.phase)
            found = self._tier_lists[slot] = (
                tuple(
                    a
                    for a in self.pool
                    if a.phase in slot.phases and (slot.themes is None or a.theme in slot.themes)
                ),
                tuple(a for a in self.pool if a.phase in slot.phases),
                tuple(a for a in self.pool if a.phase <= top),
                tuple(self.pool),
            )
        return found

    def choose(
        self, day: int, blocked: frozenset[str] = frozenset(), never: str = ""
    ) -> ActionSpec:
        """The step for ``day``; then remembered as shown that day.

        ``blocked`` steps are passed over like recently shown ones; ``never`` is only
        given when nothing else exists at all.
        """
        tiers = self._tiers(slot_for(self.person, day))
        fresh = day - WINDOW
        # Widen the kind of step before offering one they turned down, and that before
        # repeating one within the window. Within a pass the step is the least by (a
        # theme they often skip, when last shown, their own rank), the first such in pool
        # order; one plain loop, because a plan makes sixty of these choices in the turn
        # that finishes set-up.
        shown_on = self.last.get
        chosen: ActionSpec | None = None
        for skip_avoided in (True, False):
            avoided = self.avoided if skip_avoided else frozenset()
            for tier in tiers:
                best_key: tuple[bool, int, bytes] | None = None
                for action in tier:
                    step = action.id
                    shown = shown_on(step, _NEVER)
                    if shown >= fresh or step in blocked or step == never or step in avoided:
                        continue
                    key = (action.theme in self.tired, shown, self.rank[step])
                    if best_key is None or key < best_key:
                        chosen, best_key = action, key
                if chosen is not None:
                    break
            if chosen is not None:
                break
        if chosen is None:
            # Every step is blocked or was shown lately. Better one planned soon (a swap
            # rebuilds the plan around it) than a repeat; else the least recently shown.
            others = [a for a in self.pool if a.id != never] or list(self.pool)
            chosen = min(
                others,
                key=lambda a: (
                    self.last.get(a.id, _NEVER) >= fresh,
                    a.id in blocked,
                    self.last.get(a.id, _NEVER),
                    self.rank[a.id],
                ),
            )
        self.last[chosen.id] = max(day, self.last.get(chosen.id, _NEVER))
        return chosen


def build_plan(
    person: Person,
    today: int,
    catalogue: Catalogue,
    plan: Plan,
    recent: Iterable[Shown],
    log: Iterable[Logged] = (),
) -> tuple[Plan, tuple[Shown, ...]]:
    """A new plan from ``today`` (an ordinal), and what ``Profile.recent`` keeps.

    Today's step stays as the old plan had it when it still suits the person, so a
    resend of this morning's message is unchanged; the days after are chosen afresh.

    Args:
        person: who the plan is for, as they are now.
        today: their local date.
        catalogue: the micro-actions.
        plan: their plan until now (empty if none).
        recent: their ``Profile.recent`` entries.
        log: their action log of the last :data:`AVOID_DAYS` days or more.

    Returns:
        The plan, and the shown steps to keep in ``Profile.recent``.
    """
    if not catalogue.actions:
        return EMPTY_PLAN, tuple(recent)
    history = past_steps(plan, recent, today)
    chooser = _Chooser(person, today, catalogue, history, log)
    ids: list[str] = []
    kept = plan.at(today) if plan.ids else None
    spec = catalogue.by_id.get(kept) if kept is not None else None
    if spec is not None and fits(spec, apart=person.apart, safe=person.safe):
        ids.append(spec.id)
        chooser.last[spec.id] = today
    elif kept is not None:
        history.append(Shown(today, kept))  # it may have gone out this morning
        chooser.last[kept] = today
    for day in range(today + len(ids), today + PLAN_DAYS):
        ids.append(chooser.choose(day).id)
    return Plan(today, tuple(ids), person.basis), tuple(history)


def swap_for(
    person: Person,
    today: int,
    catalogue: Catalogue,
    plan: Plan,
    recent: Sequence[Shown],
    log: Iterable[Logged],
    current: str,
) -> ActionSpec | None:
    """Another step instead of ``current`` today; None only for an empty catalogue.

    The same swap pressed again gives the same step (``recent`` remembers it). A new one
    was not shown in the last :data:`WINDOW` days and is not planned in the next
    :data:`WINDOW` days, while the pool allows.
    """
    for s in recent:
        if s.day == today and s.instead_of == current and s.action in catalogue.by_id:
            return catalogue.by_id[s.action]
    if not catalogue.actions:
        return None
    history = past_steps(plan, recent, today)
    planned_today = plan.at(today) if plan.ids else None
    for action in (planned_today, current):
        if action is not None:
            history.append(Shown(today, action))
    chooser = _Chooser(person, today, catalogue, history, log)
    coming = {plan.at(day) for day in range(today + 1, today + WINDOW + 1)} if plan.ids else set()
    blocked = frozenset({current} | {a for a in coming if a is not None})
    return chooser.choose(today, blocked, never=current)
