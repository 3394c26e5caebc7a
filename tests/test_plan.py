"""The daily-step plan: which micro-action a person sees on which day.

A 120-day life through the real service (weeks one to three, phases chosen and changed,
skips and swaps, a spell in safety mode, a move apart), the person who never opens the
chat again, determinism, tiny pools, and the encoded strings.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from core import keys
from core.content import Content
from core.content.program import ActionSpec
from core.profile import Situation
from core.program.plan import (
    CYCLE,
    EMPTY_PLAN,
    PLAN_DAYS,
    WINDOW,
    Catalogue,
    Logged,
    Outcome,
    Person,
    Plan,
    Shown,
    build_plan,
    decode_plan,
    decode_recent,
    encode_plan,
    encode_recent,
    fallback_step,
    past_steps,
    planned_step,
    slot_for,
    swap_for,
)
from core.schedule.kinds import ItemKind
from core.service import CoachService
from core.service.nudges import NudgeVerb, SkipReason, encode_press
from core.service.safety import SafetyAction, encode_action
from core.storage import Database, UserRepository
from core.types import UserRef
from tests.fakes import FakeClock, person, pressed, said
from tests.test_nudges import action_of, claimed, onboard, profile_of

DAY0 = date(2026, 3, 1)
T0 = DAY0.toordinal()
IDS = st.from_regex(r"[a-z][a-z0-9_]{0,19}", fullmatch=True)


def spec(action: str, phase: int = 1, theme: str = "self_care", mode: str = "solo") -> ActionSpec:
    return ActionSpec.model_validate(
        {"id": action, "phase": phase, "theme": theme, "effort": 2, "mode": mode}
    )


def no_repeat_within_window(shown: list[tuple[int, str]]) -> list[tuple[str, int, int]]:
    """Every pair of showings of one step fewer than ``WINDOW + 1`` days apart."""
    last: dict[str, int] = {}
    close: list[tuple[str, int, int]] = []
    for day, action in sorted(set(shown)):
        if action in last and day - last[action] <= WINDOW:
            close.append((action, last[action], day))
        last[action] = day
    return close


# --------------------------------------------------------------------------- 120 days


@dataclass
class Life:
    """What one simulated person was shown and did, day by day."""

    mornings: dict[int, str] = field(default_factory=dict)
    held: set[int] = field(default_factory=set)
    shown: list[tuple[int, str]] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    self_only: list[tuple[int, str]] = field(default_factory=list)
    """Steps shown in safety mode (by /today or a swap)."""
    phases: dict[int, int] = field(default_factory=dict)
    """Day → the phase chosen that day."""


SKIPS = {3, 9, 16, 44, 70, 95, 110}
SWAPS = {5, 12, 19, 33, 58, 77, 101}
PHASE_CHOICES = {22: 2, 60: 3, 80: 4, 100: 2}
SAFETY = range(30, 40)
"""Days in safety mode: switched on after day 29's morning, off after day 39's."""
APART_FROM = 50


async def live_120_days(
    service: CoachService, database: Database, clock: FakeClock, sam: UserRef
) -> Life:
    life = Life()
    await onboard(service, sam, zone="Berlin", at="9:15")
    for n in range(120):
        day = T0 + n
        local = date.fromordinal(day).isoformat()
        profile = await profile_of(database, sam)
        rendered = service.nudges.render(claimed(ItemKind.MORNING, profile, local), clock.now())
        if rendered.reply is None:
            assert rendered.reason is SkipReason.SAFETY_MODE and n in SAFETY
            life.held.add(n)
        else:
            step = action_of(rendered.reply)
            life.mornings[n] = step
            life.shown.append((day, step))
        if n == APART_FROM:  # a change made outside a turn: the next turn catches up
            moved = replace(await profile_of(database, sam), situation=Situation.SEPARATED)
            await database.run(lambda c, p=moved: UserRepository(c).save(p, clock.now()))
        if n in PHASE_CHOICES:
            chosen = PHASE_CHOICES[n]
            [reply] = await service.handle(pressed(sam, f"ph:set:{chosen}"))
            assert reply.key in (keys.PHASE_CHOSEN, keys.PHASE_BACK)
            life.phases[n] = chosen
        if n in SAFETY:
            [today] = await service.handle(said(sam, "/today"))
            assert today.key == keys.NUDGE_TODAY_SAFETY
            life.self_only.append((day, action_of(today)))
            life.shown.append((day, action_of(today)))
        step_now = life.mornings.get(n) if n not in SAFETY else life.self_only[-1][1]
        assert step_now is not None
        if n in SKIPS:
            replies = await service.handle(pressed(sam, encode_press(NudgeVerb.SKIP, step_now)))
            assert [r.key for r in replies] == [keys.NUDGE_SKIPPED]
            life.skipped.append((day, step_now))
        elif n in SWAPS:
            payload = encode_press(NudgeVerb.SWAP, step_now)
            [swapped] = await service.handle(pressed(sam, payload))
            assert await service.handle(pressed(sam, payload)) == [swapped]  # double tap
            other = action_of(swapped)
            assert other != step_now
            life.shown.append((day, other))
            if n in SAFETY:
                life.self_only.append((day, other))
        elif n % 4 != 1:
            replies = await service.handle(pressed(sam, encode_press(NudgeVerb.DONE, step_now)))
            assert replies[0].key == keys.NUDGE_DONE
        if n == SAFETY.start - 1:
            await service.handle(pressed(sam, encode_action(SafetyAction.MODE_START)))
        if n == SAFETY.stop - 1:
            await service.handle(pressed(sam, encode_action(SafetyAction.MODE_END_YES)))
        clock.advance(days=1)
    return life


async def test_120_days_of_steps_follow_every_rule(
    service: CoachService, sqlite_db: Database, clock: FakeClock, content: Content
) -> None:
    sam = person("3001")
    life = await live_120_days(service, sqlite_db, clock, sam)
    by_id = {a.id: a for a in content.program.actions}

    # Never the same step twice within 45 days: mornings, /today and swaps alike.
    assert no_repeat_within_window(life.shown) == []
    assert len({a for _, a in life.shown}) > 90  # of about 130 shown

    # Weeks one to three follow the guides' plan.
    for n in range(21):
        step = by_id[life.mornings[n]]
        week, weekday = divmod(n, 7)
        if (week == 1 and weekday in (1, 3, 5)) or (week == 2 and weekday in (1, 4)):
            assert (step.phase, step.theme) == (2, "trust"), n
        elif week == 2 and weekday in (2, 5):
            assert step.phase == 3 and step.theme in ("connection", "appreciation", "fun"), n
        else:
            assert step.phase == 1, n

    # Then their chosen phase (mostly) and the phases before it (sometimes), from the day
    # after the choice; the morning of the choice itself is kept.
    chosen_on = sorted(life.phases)
    for start, end in zip(chosen_on, [*chosen_on[1:], 120], strict=True):
        phase = life.phases[start]
        days = [n for n in range(start + 1, end) if n in life.mornings]
        steps = [by_id[life.mornings[n]] for n in days]
        assert all(s.phase <= phase for s in steps), (phase, [s.phase for s in steps])
        own = sum(s.phase == phase for s in steps)
        assert own * 2 >= len(steps), (phase, [s.phase for s in steps])

    # Safety mode: no morning step goes out; what they ask for is theirs alone.
    assert life.held == set(SAFETY)
    assert len(life.self_only) >= len(SAFETY)
    assert all(by_id[a].self_focused for _, a in life.self_only)

    # Apart: solo steps only, from the first morning the plan has caught up.
    for day, action in life.shown:
        if day > T0 + APART_FROM:
            assert by_id[action].mode == "solo", (day - T0, action)

    # A skipped step stays away for 90 days (there are always others to offer).
    for skipped_on, action in life.skipped:
        later = [d - T0 for d, a in life.shown if a == action and skipped_on < d]
        assert all(d > skipped_on - T0 + 90 for d in later), (action, skipped_on - T0, later)


async def test_a_person_who_never_comes_back_meets_no_repeat_for_200_days(
    service: CoachService, sqlite_db: Database, clock: FakeClock, content: Content
) -> None:
    """The plan is built once, at set-up; every morning after renders from it alone."""
    for user_id, situation in (("3101", "struggling"), ("3102", "separated")):
        sam = person(user_id)
        await onboard(service, sam, situation=situation)
        profile = await profile_of(sqlite_db, sam)
        assert decode_plan(profile.plan).days_left(T0) == PLAN_DAYS
        shown = []
        for n in range(200):
            local = (DAY0 + timedelta(days=n)).isoformat()
            reply = service.nudges.render(claimed(ItemKind.MORNING, profile, local), clock.now())
            assert reply.reply is not None
            shown.append((T0 + n, action_of(reply.reply)))
        assert no_repeat_within_window(shown) == []
        if situation == "separated":
            solo = {a.id for a in content.program.actions if a.mode == "solo"}
            assert {a for _, a in shown} <= solo
        # The same morning rendered again is the same message.
        again = service.nudges.render(claimed(ItemKind.MORNING, profile, "2026-06-01"), clock.now())
        first = service.nudges.render(claimed(ItemKind.MORNING, profile, "2026-06-01"), clock.now())
        assert again == first


async def test_a_plan_running_short_is_refilled_in_any_turn(
    service: CoachService, sqlite_db: Database, clock: FakeClock
) -> None:
    sam = person("3201")
    await onboard(service, sam)
    first = decode_plan((await profile_of(sqlite_db, sam)).plan)
    clock.advance(days=PLAN_DAYS - 25)
    await service.handle(said(sam, "/help"))
    assert decode_plan((await profile_of(sqlite_db, sam)).plan) == first  # 25 days left
    clock.advance(days=6)
    await service.handle(said(sam, "/help"))
    refilled = decode_plan((await profile_of(sqlite_db, sam)).plan)
    today = T0 + PLAN_DAYS - 19
    assert refilled.start == today and refilled.days_left(today) == PLAN_DAYS
    assert refilled.at(today) == first.at(today)  # today's step stays as it was
    recent = (await profile_of(sqlite_db, sam)).recent
    shown_before = {first.at(day) for day in range(T0, today)}
    assert {s.action for s in decode_recent(recent)} == shown_before
    # A late morning for a day before the new plan still shows what it showed then.
    profile = await profile_of(sqlite_db, sam)
    yesterday = date.fromordinal(today - 1).isoformat()
    late = service.nudges.render(claimed(ItemKind.MORNING, profile, yesterday), clock.now())
    assert late.reply is not None and action_of(late.reply) == first.at(today - 1)


# --------------------------------------------------------------------------- pure rules


@given(st.permutations([f"s{n}" for n in range(CYCLE)]), st.lists(IDS, max_size=30))
def test_past_its_end_a_plan_repeats_no_step_within_the_window(
    tail: list[str], head: list[str]
) -> None:
    """The proof behind the never-returning person: if the last ``CYCLE`` entries are all
    different, the endless repetition of them never shows a step twice within 45 days."""
    plan = Plan(T0, (*head, *tail))
    size = len(plan.ids)
    shown = [(T0 + n, plan.at(T0 + n) or "") for n in range(size - CYCLE, size + 3 * CYCLE)]
    assert no_repeat_within_window(shown) == []
    assert [plan.at(T0 + size + n) for n in range(CYCLE)] == list(tail)
    assert plan.at(T0 - 1) is None and EMPTY_PLAN.at(T0) is None


def test_the_guided_weeks_and_the_phase_mix() -> None:
    newcomer = Person("p", T0)
    assert {slot_for(newcomer, T0 + n).phases for n in range(7)} == {frozenset({1})}
    week_two = [slot_for(newcomer, T0 + 7 + n) for n in range(7)]
    assert [s.phases == {2} and s.themes == {"trust"} for s in week_two] == [
        False,
        True,
        False,
        True,
        False,
        True,
        False,
    ]
    week_three = [min(slot_for(newcomer, T0 + 14 + n).phases) for n in range(7)]
    assert week_three == [1, 2, 3, 1, 2, 3, 1]
    assert {slot_for(newcomer, T0 + 21 + n).phases for n in range(60)} == {frozenset({1})}
    later = [slot_for(Person("p", T0, phase=3), T0 + n).phases for n in range(30)]
    assert later.count(frozenset({3})) == 20 and later.count(frozenset({1, 2})) == 10


def catalogue_of(count: int, **tags: str | int) -> list[ActionSpec]:
    return [spec(f"a{n}", **tags) for n in range(count)]  # type: ignore[arg-type]


def test_building_is_deterministic_and_personal() -> None:
    catalogue = Catalogue(catalogue_of(80))
    sam, kim = Person("telegram:1", T0), Person("telegram:2", T0)
    first = build_plan(sam, T0, catalogue, EMPTY_PLAN, ())
    assert build_plan(sam, T0, catalogue, EMPTY_PLAN, ()) == first
    assert build_plan(kim, T0, catalogue, EMPTY_PLAN, ())[0].ids != first[0].ids
    plan = first[0]
    assert len(plan.ids) == PLAN_DAYS and plan.basis == "100"
    # Rebuilt later the same day, nothing changes; the next day, today's step stays.
    assert build_plan(sam, T0, catalogue, plan, first[1])[0] == plan
    rebuilt, recent = build_plan(sam, T0 + 5, catalogue, plan, first[1])
    assert rebuilt.at(T0 + 5) == plan.at(T0 + 5)
    assert [s.action for s in recent] == list(plan.ids[:5])


def test_a_rebuilt_plan_keeps_clear_of_what_was_shown() -> None:
    catalogue = Catalogue(catalogue_of(100))
    sam = Person("p", T0)
    plan, recent = build_plan(sam, T0, catalogue, EMPTY_PLAN, ())
    other = swap_for(sam, T0 + 10, catalogue, plan, recent, (), plan.ids[10])
    assert other is not None
    swapped_in = Shown(T0 + 10, other.id, instead_of=plan.ids[10])
    rebuilt, kept = build_plan(sam, T0 + 10, catalogue, plan, (*recent, swapped_in))
    shown = [(s.day, s.action) for s in kept] + [
        (T0 + 10 + n, a) for n, a in enumerate(rebuilt.ids)
    ]
    assert no_repeat_within_window(shown) == []
    assert swapped_in in kept


def test_skipped_steps_and_often_skipped_themes_step_back() -> None:
    actions = [spec(f"a{n}", theme="fun") for n in range(50)]
    actions += [spec(f"b{n}", theme="trust") for n in range(50)]
    catalogue = Catalogue(actions)
    sam = Person("p", T0)
    plain, _ = build_plan(sam, T0, catalogue, EMPTY_PLAN, ())
    # A step skipped 60 days ago (long out of the 45-day window) is still held back.
    skipped = plain.ids[3]
    log = [Logged(T0 - 60, skipped, Outcome.SKIPPED)]
    assert skipped not in build_plan(sam, T0, catalogue, EMPTY_PLAN, (), log)[0].ids
    # After 91 days it may come back.
    old = [Logged(T0 - 91, skipped, Outcome.SKIPPED)]
    assert build_plan(sam, T0, catalogue, EMPTY_PLAN, (), old)[0] == plain
    # A theme skipped or swapped away three times comes up less.
    assert Counter(a[0] for a in plain.ids[:CYCLE])["a"] > 10
    tired = [Logged(T0 - n, f"a{40 + n}", Outcome.SWAPPED) for n in range(1, 4)]
    fewer = build_plan(sam, T0, catalogue, EMPTY_PLAN, (), tired)[0]
    assert Counter(a[0] for a in fewer.ids[:CYCLE])["a"] == 0
    assert Counter(a[0] for a in fewer.ids)["a"] < Counter(a[0] for a in plain.ids)["a"] / 2


def test_who_is_apart_or_in_safety_mode_gets_only_what_fits(content: Content) -> None:
    catalogue = Catalogue(content.program.actions)
    for apart, safe in ((True, False), (False, True), (True, True)):
        sam = Person("p", T0 - 40, phase=3, apart=apart, safe=safe)
        plan, _ = build_plan(sam, T0, catalogue, EMPTY_PLAN, ())
        for action in plan.ids:
            found = catalogue.by_id[action]
            assert found.mode == "solo" or not apart
            assert found.self_focused or not safe
        other = swap_for(sam, T0, catalogue, plan, (), (), plan.ids[0])
        assert other is not None and other.id != plan.ids[0]
        assert other.mode == "solo" or not apart
        assert other.self_focused or not safe


def test_a_swap_avoids_the_window_both_ways_and_answers_the_same_twice() -> None:
    catalogue = Catalogue(catalogue_of(150))
    sam = Person("p", T0)
    plan, recent = build_plan(sam, T0, catalogue, EMPTY_PLAN, ())
    later, recent = build_plan(sam, T0 + 30, catalogue, plan, recent)
    other = swap_for(sam, T0 + 30, catalogue, later, recent, (), later.ids[0])
    assert other is not None
    nearby = {s.action for s in recent if s.day > T0 + 30 - WINDOW}
    nearby |= {later.at(T0 + 30 + n) for n in range(WINDOW + 1)}
    assert other.id not in nearby
    remembered = (*recent, Shown(T0 + 30, other.id, later.ids[0]))
    assert swap_for(sam, T0 + 30, catalogue, later, remembered, (), later.ids[0]) == other


def test_a_swap_in_a_narrow_pool_still_shows_nothing_seen_lately() -> None:
    """Sixty steps: the last and the next 45 days between them hold every one. A swap
    then takes one planned later (the plan is rebuilt around it), never one seen lately."""
    catalogue = Catalogue(catalogue_of(60))
    sam = Person("p", T0 - 100)
    plan, recent = build_plan(sam, T0, catalogue, EMPTY_PLAN, ())
    for day in range(T0 + 7, T0 + 120, 7):
        plan, recent = build_plan(sam, day, catalogue, plan, recent)
    today = T0 + 119
    seen = {s.action for s in recent if s.day > today - WINDOW} | {plan.ids[0]}
    coming = {plan.at(today + n) for n in range(1, WINDOW + 1)}
    assert seen | coming == set(catalogue.by_id)  # no step is both unseen and unplanned
    other = swap_for(sam, today, catalogue, plan, recent, (), plan.ids[0])
    assert other is not None and other.id not in seen
    swapped = (*recent, Shown(today, other.id, plan.ids[0]))
    rebuilt, kept = build_plan(sam, today, catalogue, plan, swapped)
    shown = [(s.day, s.action) for s in kept] + [(today + n, a) for n, a in enumerate(rebuilt.ids)]
    assert no_repeat_within_window(shown) == []


def test_tiny_pools_fall_back_to_the_least_recently_shown() -> None:
    sam = Person("p", T0)
    three = Catalogue(catalogue_of(3))
    plan, _ = build_plan(sam, T0, three, EMPTY_PLAN, ())
    assert len(plan.ids) == PLAN_DAYS
    assert all(len(set(plan.ids[n : n + 3])) == 3 for n in range(PLAN_DAYS - 2))
    one = Catalogue(catalogue_of(1))
    assert build_plan(sam, T0, one, EMPTY_PLAN, ())[0].ids == ("a0",) * PLAN_DAYS
    only = swap_for(sam, T0, one, EMPTY_PLAN, (), (), "a0")
    assert only is not None and only.id == "a0"
    two = Catalogue(catalogue_of(2))
    other = swap_for(sam, T0, two, EMPTY_PLAN, (), (), "a1")
    assert other is not None and other.id == "a0"
    # Nothing self-focused at all: safety mode still gets a plan rather than a crash.
    together = Catalogue(catalogue_of(4, theme="trust", mode="together"))
    safe = Person("p", T0, apart=True, safe=True)
    assert len(build_plan(safe, T0, together, EMPTY_PLAN, ())[0].ids) == PLAN_DAYS
    empty = Catalogue(())
    assert build_plan(sam, T0, empty, EMPTY_PLAN, ())[0] == EMPTY_PLAN
    assert swap_for(sam, T0, empty, EMPTY_PLAN, (), (), "a0") is None


def test_the_fallback_walk_never_repeats_within_its_pool_size() -> None:
    for size in (1, 2, 46, 54, 120):
        pool = catalogue_of(size)
        for who in ("telegram:1", "discord:2"):
            lap = [fallback_step(pool, who, T0 + n).id for n in range(size)]
            assert sorted(lap) == sorted(a.id for a in pool)
            assert [fallback_step(pool, who, T0 + size + n).id for n in range(size)] == lap
    pool = catalogue_of(54)
    firsts = Counter(fallback_step(pool, f"telegram:{n}", T0).id for n in range(5400))
    assert len(firsts) == 54 and max(firsts.values()) < 2 * min(firsts.values())


def test_past_steps_merge_the_plan_and_recent() -> None:
    plan = Plan(T0, ("a", "b", "c"), "100")
    recent = (Shown(T0 - 100, "old"), Shown(T0 - 3, "x"), Shown(T0 + 1, "y", "b"))
    past = past_steps(plan, recent, T0 + 2)
    assert [(s.day - T0, s.action) for s in past] == [(-3, "x"), (0, "a"), (1, "y"), (1, "b")]


# --------------------------------------------------------------------------- encoding


@given(
    st.integers(1, date.max.toordinal()),
    st.lists(IDS, min_size=1, max_size=70),
    st.from_regex(r"[1-4][01][01]", fullmatch=True),
)
def test_plans_read_back_as_written(start: int, ids: list[str], basis: str) -> None:
    plan = Plan(start, tuple(ids), basis)
    text = encode_plan(plan)
    assert decode_plan(text) == plan
    assert ":" not in "".join(ids) and text.count(":") == 2


@given(
    st.lists(
        st.builds(
            Shown,
            st.integers(T0 - 100, T0 + 100),
            IDS,
            st.one_of(st.just(""), IDS),
        ),
        max_size=80,
    )
)
def test_recent_reads_back_as_written(shown: list[Shown]) -> None:
    text = encode_recent(shown)
    assert decode_recent(text) == tuple(sorted(shown, key=lambda s: s.day))


@given(st.text(max_size=200), st.integers(T0 - 10, T0 + 500))
def test_any_stored_text_decodes_without_failing(text: str, day: int) -> None:
    plan = decode_plan(text)
    assert plan == EMPTY_PLAN or plan.ids
    assert planned_step(text, day) == plan.at(day)
    for entry in decode_recent(text):
        assert entry.action
    assert decode_plan("9" * 5000 + ":100:a") == EMPTY_PLAN


@given(
    st.integers(T0 - 5, T0 + 5),
    st.lists(IDS, min_size=1, max_size=70),
    st.integers(T0 - 10, T0 + 400),
)
def test_the_bulk_path_reads_the_same_step_as_the_plan(
    start: int, ids: list[str], day: int
) -> None:
    plan = Plan(start, tuple(ids), "100")
    assert planned_step(encode_plan(plan), day) == plan.at(day)


def test_a_plan_is_compact() -> None:
    ids = tuple(f"{'x' * 19}{n % 10}" for n in range(PLAN_DAYS))
    assert len(encode_plan(Plan(T0, ids, "411"))) < 1300
    typical = tuple(f"step_{n:02d}_name" for n in range(PLAN_DAYS))
    assert len(encode_plan(Plan(T0, typical, "100"))) < 800
