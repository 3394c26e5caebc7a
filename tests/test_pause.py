"""The break protocol end to end: ``/pause`` and the code word in every state, the wait, the
way back (delivered by the real scheduler, across a restart), more time, the 24-hour rule, the
cap's private reflection, a break alone, ``/again``, and safety help during a break.

A fake clock and a real SQLite file; the storage-heavy tests run on PostgreSQL too.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, select

from content import CONTENT_DIR
from core import keys
from core.content import load_content
from core.couples import Break, Couple
from core.flows.engine import FlowState
from core.flows.scope import state_key
from core.profile import Profile
from core.schedule.kinds import ItemKind
from core.service import CoachService
from core.service import breaks as desk
from core.service.break_press import BreakPress, BreakVerb, decode, encode
from core.service.break_time import parse_duration
from core.settings import SettingsError, load_settings
from core.storage import Database, StateRepository, UserRepository
from core.storage.breaks import BreakRepository
from core.storage.couples import CoupleRepository
from core.storage.deliveries import Claimed, TimerRepository
from core.storage.tables import breaks as breaks_table
from core.storage.tables import deliveries
from core.types import ChatRef, IncomingEvent, Platform, Reply, UserRef
from scheduler.clockwork import Scheduler
from scheduler.pacing import UNLIMITED, SendGate
from tests.fakes import TEST_CIPHER, FakeClock, group_chat, person, pressed, private_chat, said
from tests.scheduler_fakes import ScriptedOutbox
from tests.test_nudges import onboard

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
"""The fake clock's start: 10:00 in Berlin, 04:00 in New York."""
CODEWORD = "pineapple"
CONTENT = load_content(CONTENT_DIR)
EVERY_STEP = [(flow.id, step) for flow in CONTENT.flows.values() for step in sorted(flow.steps)]
"""Every step of every flow in the real content: /pause must work in each."""


def keys_of(replies: list[Reply]) -> list[str]:
    return [r.key for r in replies]


def payload_of(replies: list[Reply], verb: BreakVerb) -> str:
    """The payload of the first button with ``verb`` among ``replies``."""
    for reply in replies:
        for button in reply.buttons:
            found = decode(button.payload)
            if found is not None and found.verb is verb:
                return button.payload
    raise AssertionError(f"no {verb} button in {keys_of(replies)}")


@dataclass
class Pair:
    """Two onboarded partners, their couple and (maybe) their linked group."""

    sam: UserRef
    alex: UserRef
    couple: Couple
    group: ChatRef | None


async def make_couple(
    service: CoachService,
    database: Database,
    *,
    group: ChatRef | None = None,
    codeword: str | None = None,
    zones: tuple[str, str] = ("Berlin", "Berlin"),
    ids: tuple[str, str] = ("3001", "3002"),
) -> Pair:
    """Onboard Sam and Alex through the real flow, then pair them (and link, set a word)."""
    sam, alex = person(ids[0], "Sam"), person(ids[1], "Alex")
    await onboard(service, sam, zone=zones[0])
    await onboard(service, alex, zone=zones[1])

    def work(connection: Connection) -> Couple:
        couples = CoupleRepository(connection)
        couple = couples.pair(sam, "Sam", alex, "Alex", NOW)
        if group is not None:
            couples.link(couple.id, group, NOW)
        if codeword is not None:
            couples.propose_codeword(couple.id, codeword, couple.partners[0].member_id)
            couples.confirm_codeword(couple.id)
        found = couples.get(couple.id)
        assert found is not None
        return found

    return Pair(sam, alex, await database.run(work), group)


async def current(database: Database, couple: Couple) -> Break | None:
    return await database.run(
        lambda c: BreakRepository(c).current(couple.id, couple.partners[0].member_id)
    )


async def all_breaks(database: Database) -> int:
    return len(await database.run(lambda c: c.execute(select(breaks_table.c.id)).all()))


async def pending(database: Database, key: str) -> datetime | None:
    return await database.run(lambda c: TimerRepository(c).pending(key))


async def set_state(database: Database, key: str, state: FlowState) -> None:
    def work(connection: Connection) -> None:
        states = StateRepository(connection)
        states.save(key, state, states.load(key).version, NOW)

    await database.run(work)


async def state_at(database: Database, key: str) -> FlowState | None:
    return (await database.run(lambda c: StateRepository(c).load(key))).state


async def profile_of(database: Database, user: UserRef) -> Profile:
    found = await database.run(lambda c: UserRepository(c).find(user))
    assert found is not None
    return found


@pytest.fixture
def any_service(database: Database, clock: FakeClock) -> CoachService:
    """The service on every configured database (SQLite always, PostgreSQL when set)."""
    return CoachService(CONTENT, database, clock, cipher=TEST_CIPHER, default_timezone="UTC")


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("", 20),
        ("45m", 45),
        ("45 min", 45),
        ("90", 90),
        ("2h", 120),
        ("1h30m", 90),
        ("1h 30", 90),
        ("2 hours", 120),
        ("24h", 1440),
        ("20", 20),
    ],
)
def test_accepted_durations(text: str, minutes: int) -> None:
    assert parse_duration(text) == timedelta(minutes=minutes)


@pytest.mark.parametrize(
    "text", ["5m", "19", "3 days", "soon", "25h", "24h1m", "h", "0", "-20", "1.5h", "2h2h"]
)
def test_refused_durations(text: str) -> None:
    assert parse_duration(text) is None


@pytest.mark.parametrize(("text", "minutes"), [("45m", 45), ("90", 90), ("2h", 120)])
async def test_pause_with_a_length_sets_the_return_time(
    service: CoachService, sqlite_db: Database, text: str, minutes: int
) -> None:
    pair = await make_couple(service, sqlite_db, group=group_chat())
    replies = await service.handle(said(pair.sam, f"/pause {text}"))
    assert keys_of(replies) == [desk.NOTICE, desk.CALM, desk.CALM]
    found = await current(sqlite_db, pair.couple)
    assert found is not None and found.ends_at == NOW + timedelta(minutes=minutes)
    assert not found.long_rule


@pytest.mark.parametrize("text", ["5m", "3 days", "soon", "25h"])
async def test_a_length_outside_the_range_is_explained_and_starts_nothing(
    service: CoachService, sqlite_db: Database, text: str
) -> None:
    pair = await make_couple(service, sqlite_db, group=group_chat())
    replies = await service.handle(said(pair.sam, f"/pause {text}", pair.group))
    assert keys_of(replies) == [desk.DURATION_INVALID]
    assert replies[0].private_to == pair.sam  # the group is not told someone tried
    assert "20 minutes" in replies[0].text and "24 hours" in replies[0].text
    assert await all_breaks(sqlite_db) == 0


# --------------------------------------------------------------------------- every state


@pytest.mark.parametrize("where", ["private", "group"])
@pytest.mark.parametrize(("flow", "step"), EVERY_STEP)
async def test_pause_works_in_every_state_of_every_flow_and_keeps_it(
    service: CoachService, sqlite_db: Database, flow: str, step: str, where: str
) -> None:
    pair = await make_couple(service, sqlite_db, group=group_chat())
    chat = private_chat(pair.sam) if where == "private" else pair.group
    assert chat is not None
    key = state_key("user_in_chat", chat, pair.sam)  # the key the service keeps there
    await set_state(sqlite_db, key, FlowState(flow, step))

    replies = await service.handle(said(pair.sam, "/pause", chat))

    assert keys_of(replies) == [desk.NOTICE, desk.CALM, desk.CALM]
    in_group = where == "group"
    assert replies[0].chat == (None if in_group else pair.group)
    assert replies[1].private_to == (pair.sam if in_group else None)
    assert replies[2].private_to == pair.alex
    found = await current(sqlite_db, pair.couple)
    assert found is not None and found.ends_at == NOW + timedelta(minutes=20)
    assert await state_at(sqlite_db, key) == FlowState(flow, step)


@pytest.mark.parametrize(("flow", "step"), EVERY_STEP[:: max(1, len(EVERY_STEP) // 8)])
async def test_the_code_word_works_in_a_flow_state_and_keeps_it(
    service: CoachService, sqlite_db: Database, flow: str, step: str
) -> None:
    pair = await make_couple(service, sqlite_db, codeword=CODEWORD)
    key = state_key("user", private_chat(pair.alex), pair.alex)
    await set_state(sqlite_db, key, FlowState(flow, step))

    replies = await service.handle(said(pair.alex, "Pineapple."))

    assert keys_of(replies) == [desk.CALM, desk.CALM]
    assert await current(sqlite_db, pair.couple) is not None
    assert await state_at(sqlite_db, key) == FlowState(flow, step)


# --------------------------------------------------------------------------- the notice


async def test_the_group_notice_is_neutral_and_the_same_whoever_calls(
    service: CoachService, sqlite_db: Database
) -> None:
    pair = await make_couple(service, sqlite_db, group=group_chat())
    notices = []
    for caller, other in ((pair.sam, pair.alex), (pair.alex, pair.sam)):
        replies = await service.handle(said(caller, "/pause", pair.group))
        assert keys_of(replies) == [desk.NOTICE, desk.CALM, desk.CALM]
        notice = replies[0]
        assert notice.chat is None and notice.private_to is None  # said in the group itself
        assert notice.buttons == ()
        notices.append(notice.text)
        # Both privately; only the caller may sign the notice with their name.
        assert {replies[1].private_to, replies[2].private_to} == {pair.sam, pair.alex}
        mine = next(r for r in replies[1:] if r.private_to == caller)
        theirs = next(r for r in replies[1:] if r.private_to == other)
        found = await current(sqlite_db, pair.couple)
        assert found is not None
        assert encode(BreakVerb.SIGN, found.id) in [b.payload for b in mine.buttons]
        assert encode(BreakVerb.SIGN, found.id) not in [b.payload for b in theirs.buttons]
        for user in (pair.sam, pair.alex):
            await service.handle(pressed(user, encode(BreakVerb.CALMER, found.id)))
        assert await current(sqlite_db, pair.couple) is None
    assert notices[0] == notices[1]
    assert "Sam" not in notices[0] and "Alex" not in notices[0]
    assert "10:20" in notices[0]


async def test_each_partner_sees_their_own_clock_when_zones_differ(
    service: CoachService, sqlite_db: Database
) -> None:
    pair = await make_couple(service, sqlite_db, group=group_chat(), zones=("Berlin", "New York"))
    replies = await service.handle(said(pair.sam, "/pause", pair.group))
    assert "10:20 for Sam, 04:20 for Alex" in replies[0].text
    sam_calm = next(r for r in replies if r.private_to == pair.sam)
    alex_calm = next(r for r in replies if r.private_to == pair.alex)
    assert "10:20" in sam_calm.text and "04:20" not in sam_calm.text
    assert "04:20" in alex_calm.text and "10:20" not in alex_calm.text


async def test_the_caller_may_sign_the_notice_with_their_own_name(
    service: CoachService, sqlite_db: Database
) -> None:
    pair = await make_couple(service, sqlite_db, group=group_chat())
    replies = await service.handle(said(pair.sam, "/pause"))
    signed = await service.handle(pressed(pair.sam, payload_of(replies[1:2], BreakVerb.SIGN)))
    assert keys_of(signed) == [desk.SIGNED, desk.SIGN_DONE]
    assert signed[0].chat == pair.group and signed[0].text.startswith("Sam")
    assert signed[1].toast
    found = await current(sqlite_db, pair.couple)
    assert found is not None
    sign = encode(BreakVerb.SIGN, found.id)
    # The partner cannot sign someone else's break, and is told why, kindly.
    theirs = await service.handle(pressed(pair.alex, sign))
    assert keys_of(theirs) == [desk.NOT_YOURS] and theirs[0].toast
    # Once is enough: a second press (even after more time) posts nothing more.
    twice = await service.handle(pressed(pair.sam, sign))
    assert keys_of(twice) == [desk.SIGN_ALREADY] and twice[0].toast
    await service.handle(pressed(pair.alex, encode(BreakVerb.MORE, found.id)))
    later = await service.handle(pressed(pair.sam, sign, pair.group))
    assert keys_of(later) == [desk.SIGN_ALREADY] and later[0].toast
    # The signature does not get in the way of ending the break together.
    await service.handle(pressed(pair.sam, encode(BreakVerb.CALMER, found.id)))
    both = await service.handle(pressed(pair.alex, encode(BreakVerb.CALMER, found.id)))
    assert keys_of(both) == [desk.BOTH_READY]


async def test_a_break_can_be_signed_only_while_it_runs(
    service: CoachService, sqlite_db: Database, clock: FakeClock
) -> None:
    pair = await make_couple(service, sqlite_db, group=group_chat())
    replies = await service.handle(said(pair.sam, "/pause"))
    clock.advance(minutes=21)  # the return time has passed; the way back is open
    late = await service.handle(pressed(pair.sam, payload_of(replies[1:2], BreakVerb.SIGN)))
    assert keys_of(late) == [desk.STALE] and late[0].toast


async def put_in_safety_mode(database: Database, user: UserRef) -> None:
    profile = await profile_of(database, user)
    cared = replace(profile, safety_mode=True, safety_since=NOW)
    await database.run(lambda c: UserRepository(c).save(cared, NOW))


async def timer_payload(database: Database, key: str) -> str | None:
    """The stored payload of the timer ``key`` as text, or None if there is none."""
    found = await database.run(
        lambda c: c.execute(
            select(deliveries.c.payload).where(deliveries.c.item == f"timer:{key}")
        ).scalar()
    )
    return None if found is None else str(found)


async def test_a_partner_in_safety_mode_gets_self_care_privately_and_the_group_sees_no_sign(
    service: CoachService, sqlite_db: Database
) -> None:
    pair = await make_couple(service, sqlite_db, group=group_chat())
    await put_in_safety_mode(sqlite_db, pair.alex)
    replies = await service.handle(said(pair.sam, "/pause"))
    alex_calm = next(r for r in replies if r.private_to == pair.alex)
    assert alex_calm.key == desk.CALM_SELF_CARE
    found = await current(sqlite_db, pair.couple)
    assert found is not None
    assert [b.payload for b in alex_calm.buttons] == [encode(BreakVerb.MORE, found.id)]
    assert replies[1].key == desk.CALM
    # The group's timer says nothing about care; Alex has a private self-care timer of
    # their own at the same time, Sam none.
    group_timer = await timer_payload(sqlite_db, found.timer_key)
    assert group_timer is not None and "care" not in group_timer
    sam_id, alex_id = (p.member_id for p in pair.couple.partners)
    alex_timer = await timer_payload(sqlite_db, f"{found.timer_key}:{alex_id}")
    assert alex_timer is not None and f'"{desk.WAY}": "{desk.WAY_CARE}"' in alex_timer
    assert await pending(sqlite_db, f"{found.timer_key}:{alex_id}") == found.ends_at
    assert await timer_payload(sqlite_db, f"{found.timer_key}:{sam_id}") is None
    # More time moves both timers; the old ones are gone.
    await service.handle(pressed(pair.alex, encode(BreakVerb.MORE, found.id)))
    longer = await current(sqlite_db, pair.couple)
    assert longer is not None
    assert await pending(sqlite_db, f"{found.timer_key}:{alex_id}") is None
    assert await pending(sqlite_db, f"{longer.timer_key}:{alex_id}") == longer.ends_at
    assert await pending(sqlite_db, longer.timer_key) == longer.ends_at


Seen = tuple[str, str, str, tuple[tuple[str, str], ...]]
"""One message as someone saw it: where, its key, its text and its buttons."""


def _seen(event_chat: ChatRef, actor: UserRef, replies: list[Reply]) -> list[Seen]:
    seen = []
    for reply in replies:
        if reply.chat is not None:
            where = f"chat:{reply.chat.chat_id}"
        elif reply.private_to is not None:
            where = f"private:{reply.private_to.user_id}"
        elif reply.toast or event_chat.is_private:
            where = f"private:{actor.user_id}"
        else:
            where = f"chat:{event_chat.chat_id}"
        buttons = tuple((b.label, b.payload) for b in reply.buttons)
        seen.append((where, reply.key, reply.text, buttons))
    return seen


async def _break_story(tmp_path: Path, *, alex_in_care: bool) -> list[Seen]:
    """A whole break in a group, with everything anyone saw, in order."""
    clock = FakeClock()
    database = Database(f"sqlite+aiosqlite:///{tmp_path / f'care{alex_in_care}.db'}")
    await database.migrate()
    service = CoachService(CONTENT, database, clock, cipher=TEST_CIPHER, default_timezone="UTC")
    pair = await make_couple(service, database, group=group_chat())
    assert pair.group is not None
    if alex_in_care:
        await put_in_safety_mode(database, pair.alex)
    seen: list[Seen] = []

    async def act(who: UserRef, event: IncomingEvent) -> list[Reply]:
        replies = await service.handle(event)
        seen.extend(_seen(event.chat, who, replies))
        return replies

    replies = await act(pair.sam, said(pair.sam, "/pause", pair.group))
    found = await current(database, pair.couple)
    assert found is not None
    await act(pair.sam, pressed(pair.sam, payload_of(replies, BreakVerb.SIGN)))
    await act(pair.sam, pressed(pair.sam, encode(BreakVerb.CALMER, found.id)))
    await act(pair.alex, pressed(pair.alex, encode(BreakVerb.MORE, found.id), pair.group))
    outbox = ScriptedOutbox()
    scheduler = Scheduler(database, service.nudges, clock, retention_days=180)
    clock.advance(minutes=41)
    await _run(scheduler, outbox)
    for sent in outbox.sent:
        buttons = tuple((b.label, b.payload) for b in sent.reply.buttons)
        where = "chat" if sent.chat == pair.group else "private"
        seen.append((f"{where}:{sent.chat.chat_id}", sent.reply.key, sent.reply.text, buttons))
    await act(pair.sam, pressed(pair.sam, encode(BreakVerb.READY, found.id), pair.group))
    await act(pair.alex, pressed(pair.alex, encode(BreakVerb.READY, found.id), pair.group))
    await database.close()
    return seen


async def test_the_group_and_the_partner_see_the_same_break_whoever_is_in_safety_mode(
    tmp_path: Path,
) -> None:
    plain = await _break_story(tmp_path, alex_in_care=False)
    cared = await _break_story(tmp_path, alex_in_care=True)
    alex = "private:3002"

    def not_alexs(seen: list[Seen]) -> list[Seen]:
        return [s for s in seen if s[0] != alex]

    # Everything the group and Sam see is identical: keys, text, buttons, order.
    assert not_alexs(cared) == not_alexs(plain)
    group = [s for s in plain if s[0] == "chat:-500"]
    assert [s[1] for s in group] == [
        desk.NOTICE,
        desk.SIGNED,
        desk.EXTENDED,
        desk.WAY_BACK,
        desk.BOTH_HERE,
    ]
    way_back = group[3]
    verbs = [decode(payload) for _, payload in way_back[3]]
    assert [v.verb for v in verbs if v is not None] == [
        BreakVerb.READY,
        BreakVerb.MORE,
        BreakVerb.TOMORROW,
    ]
    # Alex alone gets self-care where it matters, privately.
    assert (alex, desk.CALM_SELF_CARE) in [(s[0], s[1]) for s in cared]
    assert (alex, desk.WAY_BACK_SELF_CARE) in [(s[0], s[1]) for s in cared]
    assert desk.WAY_BACK_SELF_CARE not in [s[1] for s in plain]


# --------------------------------------------------------------------------- who may call


async def test_someone_else_in_the_group_cannot_call_a_break(
    service: CoachService, sqlite_db: Database
) -> None:
    pair = await make_couple(service, sqlite_db, group=group_chat())
    friend = person("3999", "Kim")
    replies = await service.handle(said(friend, "/pause", pair.group))
    assert keys_of(replies) == [desk.ONLY_PARTNERS]
    assert replies[0].private_to == friend
    assert await all_breaks(sqlite_db) == 0
    again = await service.handle(said(friend, "/again", pair.group))
    assert keys_of(again) == [desk.ONLY_PARTNERS] and again[0].private_to == friend


async def test_a_paired_person_in_another_group_calls_their_couples_break(
    service: CoachService, sqlite_db: Database
) -> None:
    pair = await make_couple(service, sqlite_db, group=group_chat("-500"))
    elsewhere = group_chat("-777")
    replies = await service.handle(said(pair.sam, "/pause", elsewhere))
    assert keys_of(replies) == [desk.NOTICE, desk.CALM, desk.CALM]
    assert replies[0].chat == pair.group
    assert all(r.private_to is not None for r in replies[1:])
    assert await current(sqlite_db, pair.couple) is not None


async def test_a_stray_or_foreign_button_changes_nothing(
    service: CoachService, sqlite_db: Database
) -> None:
    pair = await make_couple(service, sqlite_db, group=group_chat())
    replies = await service.handle(said(pair.sam, "/pause"))
    found = await current(sqlite_db, pair.couple)
    assert found is not None
    friend = person("3999", "Kim")
    toast = await service.handle(pressed(friend, payload_of(replies, BreakVerb.CALMER), pair.group))
    assert keys_of(toast) == [desk.ONLY_PARTNERS] and toast[0].toast
    gone = await service.handle(pressed(pair.sam, encode(BreakVerb.READY, found.id + 99)))
    assert keys_of(gone) == [desk.STALE] and gone[0].toast
    assert (await current(sqlite_db, pair.couple)) == found


# --------------------------------------------------------------------------- ready, more time


async def test_ending_early_needs_both_partners(
    any_service: CoachService, database: Database
) -> None:
    pair = await make_couple(any_service, database, group=group_chat())
    replies = await any_service.handle(said(pair.sam, "/pause", pair.group))
    found = await current(database, pair.couple)
    assert found is not None and await pending(database, found.timer_key) == found.ends_at
    calmer = payload_of(replies, BreakVerb.CALMER)

    first = await any_service.handle(pressed(pair.sam, calmer))
    assert keys_of(first) == [desk.READY_NOTED]
    assert first[0].toast and first[0].chat is None and "10:20" in first[0].text
    assert await current(database, pair.couple) is not None
    again = await any_service.handle(pressed(pair.sam, calmer))  # twice is still one
    assert keys_of(again) == [desk.READY_NOTED]

    second = await any_service.handle(pressed(pair.alex, calmer))
    assert keys_of(second) == [desk.BOTH_READY]
    assert second[0].chat == pair.group and "I feel" in second[0].text
    assert await current(database, pair.couple) is None
    assert await pending(database, found.timer_key) is None
    late = await any_service.handle(pressed(pair.alex, calmer))
    assert keys_of(late) == [desk.STALE]


async def test_both_partners_calling_a_break_at_once_start_one_break(
    any_service: CoachService, database: Database
) -> None:
    pair = await make_couple(any_service, database, group=group_chat())
    for attempt in range(5):  # a race may need a few tries to show itself
        both = await asyncio.gather(
            any_service.handle(said(pair.sam, "/pause", pair.group)),
            any_service.handle(said(pair.alex, "/pause", pair.group)),
        )
        replies = [reply for answer in both for reply in answer]
        assert keys_of(replies).count(desk.NOTICE) == 1, attempt
        assert await all_breaks(database) == attempt + 1
        found = await current(database, pair.couple)
        assert found is not None
        for user in (pair.sam, pair.alex):
            await any_service.handle(pressed(user, encode(BreakVerb.CALMER, found.id)))
        assert await current(database, pair.couple) is None


async def test_without_a_group_both_get_the_way_back_privately(
    service: CoachService, sqlite_db: Database
) -> None:
    pair = await make_couple(service, sqlite_db)
    replies = await service.handle(said(pair.sam, "/pause"))
    assert keys_of(replies) == [desk.CALM, desk.CALM]
    found = await current(sqlite_db, pair.couple)
    assert found is not None
    keys_ = [f"{found.timer_key}:{p.member_id}" for p in pair.couple.partners]
    assert [await pending(sqlite_db, k) for k in keys_] == [found.ends_at] * 2
    await service.handle(pressed(pair.alex, encode(BreakVerb.CALMER, found.id)))
    done = await service.handle(pressed(pair.sam, encode(BreakVerb.CALMER, found.id)))
    assert keys_of(done) == [desk.BOTH_READY, desk.BOTH_READY]
    assert {done[0].private_to, done[1].private_to} == {None, pair.alex}
    assert [await pending(sqlite_db, k) for k in keys_] == [None, None]


async def test_after_the_return_time_both_ready_closes_it_briefly(
    service: CoachService, sqlite_db: Database, clock: FakeClock
) -> None:
    pair = await make_couple(service, sqlite_db, group=group_chat())
    await service.handle(said(pair.sam, "/pause"))
    found = await current(sqlite_db, pair.couple)
    assert found is not None
    clock.advance(minutes=25)
    ready = encode(BreakVerb.READY, found.id)
    first = await service.handle(pressed(pair.alex, ready, pair.group))
    assert keys_of(first) == [desk.READY_WAITING] and first[0].toast
    second = await service.handle(pressed(pair.sam, ready, pair.group))
    assert keys_of(second) == [desk.BOTH_HERE]
    assert await current(sqlite_db, pair.couple) is None


async def test_more_time_needs_one_partner_and_moves_the_timer(
    any_service: CoachService, database: Database, clock: FakeClock
) -> None:
    pair = await make_couple(any_service, database, group=group_chat())
    await any_service.handle(said(pair.sam, "/pause", pair.group))
    found = await current(database, pair.couple)
    assert found is not None
    await any_service.handle(pressed(pair.sam, encode(BreakVerb.CALMER, found.id)))

    clock.advance(minutes=5)
    replies = await any_service.handle(pressed(pair.alex, encode(BreakVerb.MORE, found.id)))
    assert keys_of(replies) == [desk.EXTENDED, desk.MORE_NOTED]
    assert replies[0].chat == pair.group and "10:40" in replies[0].text
    assert replies[1].chat is None and replies[1].private_to is None  # Alex, in private
    longer = await current(database, pair.couple)
    assert longer is not None and longer.id == found.id
    assert longer.ends_at == found.ends_at + timedelta(minutes=20)
    assert longer.ready == frozenset()  # readiness starts over with the new time
    assert await pending(database, found.timer_key) is None
    assert await pending(database, longer.timer_key) == longer.ends_at

    # Past the return time, more time counts from now.
    clock.advance(minutes=60)
    await any_service.handle(pressed(pair.sam, encode(BreakVerb.MORE, found.id), pair.group))
    latest = await current(database, pair.couple)
    assert latest is not None and latest.ends_at == clock.now() + timedelta(minutes=20)


async def test_the_24_hour_rule_by_command_and_by_button(
    service: CoachService, sqlite_db: Database, clock: FakeClock
) -> None:
    pair = await make_couple(service, sqlite_db, group=group_chat())
    replies = await service.handle(said(pair.alex, "/pause 24h", pair.group))
    assert keys_of(replies)[0] == desk.NOTICE_LONG
    assert "tomorrow" in replies[0].text
    found = await current(sqlite_db, pair.couple)
    assert found is not None and found.long_rule and found.ends_at == NOW + timedelta(hours=24)
    await service.handle(pressed(pair.alex, encode(BreakVerb.CALMER, found.id)))
    await service.handle(pressed(pair.sam, encode(BreakVerb.CALMER, found.id)))

    clock.advance(hours=1)
    await service.handle(said(pair.sam, "/pause", pair.group))
    short = await current(sqlite_db, pair.couple)
    assert short is not None and not short.long_rule
    replies = await service.handle(pressed(pair.alex, encode(BreakVerb.TOMORROW, short.id)))
    assert keys_of(replies) == [desk.TOMORROW, desk.MORE_NOTED]
    tomorrow = await current(sqlite_db, pair.couple)
    assert tomorrow is not None and tomorrow.long_rule
    assert tomorrow.ends_at == clock.now() + timedelta(hours=24)
    assert await pending(sqlite_db, tomorrow.timer_key) == tomorrow.ends_at


async def test_pause_during_a_break_extends_it_and_is_not_a_new_call(
    service: CoachService, sqlite_db: Database
) -> None:
    pair = await make_couple(service, sqlite_db, group=group_chat())
    await service.handle(said(pair.sam, "/pause", pair.group))
    first = await current(sqlite_db, pair.couple)
    assert first is not None
    replies = await service.handle(said(pair.alex, "/pause 2h", pair.group))
    assert keys_of(replies) == [desk.EXTENDED]
    longer = await current(sqlite_db, pair.couple)
    assert longer is not None and longer.id == first.id
    assert longer.ends_at == NOW + timedelta(hours=2)
    assert await all_breaks(sqlite_db) == 1
    shorter = await service.handle(said(pair.sam, "/pause 45m", pair.group))
    assert keys_of(shorter) == [desk.ALREADY] and shorter[0].private_to == pair.sam
    assert (await current(sqlite_db, pair.couple)) == longer


# --------------------------------------------------------------------------- the cap


async def test_past_the_cap_the_caller_gets_a_private_reflection_not_a_break(
    any_service: CoachService, database: Database, clock: FakeClock
) -> None:
    pair = await make_couple(any_service, database, group=group_chat())
    for _ in range(3):
        replies = await any_service.handle(said(pair.sam, "/pause", pair.group))
        assert keys_of(replies)[0] == desk.NOTICE
        clock.advance(minutes=30)  # each break runs out before the next
    before = await all_breaks(database)
    last = await current(database, pair.couple)

    replies = await any_service.handle(said(pair.sam, "/pause", pair.group))

    assert keys_of(replies) == [desk.CAP]
    assert replies[0].private_to == pair.sam  # nothing said in the group
    assert await all_breaks(database) == before
    assert await current(database, pair.couple) == last
    # Alex has called none: their break still goes ahead.
    theirs = await any_service.handle(said(pair.alex, "/pause", pair.group))
    assert keys_of(theirs)[0] == desk.NOTICE
    clock.advance(minutes=30)

    # "I still need to step away": a break alone, privately, no group notice.
    alone = await any_service.handle(pressed(pair.sam, payload_of(replies, BreakVerb.STEP_AWAY)))
    assert keys_of(alone) == [desk.SOLO, desk.SOLO_MESSAGE, desk.CALM]
    assert all(r.chat is None and r.private_to is None for r in alone)
    member = pair.couple.partners[0].member_id
    solo = await database.run(lambda c: BreakRepository(c).current(None, member))
    assert solo is not None and solo.couple_id is None
    # A day later the count starts again.
    clock.advance(hours=24)
    fresh = await any_service.handle(said(pair.sam, "/pause", pair.group))
    assert keys_of(fresh)[0] == desk.NOTICE


async def test_past_the_cap_the_code_word_in_the_group_gets_the_reflection_privately(
    sqlite_db: Database, clock: FakeClock
) -> None:
    service = CoachService(
        CONTENT, sqlite_db, clock, cipher=TEST_CIPHER, default_timezone="UTC", pause_cap=1
    )
    pair = await make_couple(service, sqlite_db, group=group_chat(), codeword=CODEWORD)
    first = await service.handle(said(pair.sam, "pineapple", pair.group, addressed=False))
    assert keys_of(first)[0] == desk.NOTICE
    clock.advance(minutes=30)
    before = await all_breaks(sqlite_db)
    capped = await service.handle(said(pair.sam, "PINEAPPLE", pair.group, addressed=False))
    assert keys_of(capped) == [desk.CAP]
    assert capped[0].private_to == pair.sam and capped[0].chat is None  # nothing in the group
    assert await all_breaks(sqlite_db) == before


async def test_the_cap_is_configurable(sqlite_db: Database, clock: FakeClock) -> None:
    service = CoachService(
        CONTENT,
        sqlite_db,
        clock,
        cipher=TEST_CIPHER,
        default_timezone="UTC",
        pause_cap=1,
    )
    pair = await make_couple(service, sqlite_db, group=group_chat())
    assert keys_of(await service.handle(said(pair.sam, "/pause")))[0] == desk.NOTICE
    clock.advance(minutes=30)
    assert keys_of(await service.handle(said(pair.sam, "/pause"))) == [desk.CAP]


# --------------------------------------------------------------------------- the code word


async def test_the_code_word_in_private_calls_a_break(
    service: CoachService, sqlite_db: Database
) -> None:
    pair = await make_couple(service, sqlite_db, group=group_chat(), codeword=CODEWORD)
    assert keys_of(await service.handle(said(pair.sam, "pineapples are nice")))[0] != desk.NOTICE
    assert await current(sqlite_db, pair.couple) is None
    replies = await service.handle(said(pair.sam, "ok. PINEAPPLE"))
    assert keys_of(replies) == [desk.NOTICE, desk.CALM, desk.CALM]
    assert replies[0].chat == pair.group


async def test_the_code_word_as_group_chatter_not_meant_for_mend(
    service: CoachService, sqlite_db: Database
) -> None:
    pair = await make_couple(service, sqlite_db, group=group_chat(), codeword=CODEWORD)
    chatter = await service.handle(said(pair.alex, "you never listen", pair.group, addressed=False))
    assert chatter == []
    replies = await service.handle(said(pair.alex, "Pineapple!", pair.group, addressed=False))
    assert keys_of(replies) == [desk.NOTICE, desk.CALM, desk.CALM]
    assert replies[0].chat is None and replies[0].private_to is None  # in the group
    assert await current(sqlite_db, pair.couple) is not None


async def test_without_plain_text_access_the_pause_command_still_works(
    service: CoachService, sqlite_db: Database
) -> None:
    # Where the platform sends the bot only commands (no chatter), /pause is the way in.
    pair = await make_couple(service, sqlite_db, group=group_chat(), codeword=CODEWORD)
    replies = await service.handle(said(pair.alex, "/pause", pair.group))
    assert keys_of(replies) == [desk.NOTICE, desk.CALM, desk.CALM]


async def test_someone_else_typing_the_code_word_gets_nothing(
    service: CoachService, sqlite_db: Database
) -> None:
    pair = await make_couple(service, sqlite_db, group=group_chat(), codeword=CODEWORD)
    friend = person("3999", "Kim")
    quiet = await service.handle(said(friend, "pineapple", pair.group, addressed=False))
    stored = await sqlite_db.run(lambda c: UserRepository(c).find(friend))
    assert stored is None  # chatter not meant for Mend leaves no trace of who wrote it
    loud = await service.handle(said(friend, "pineapple", pair.group, addressed=True))
    assert quiet == [] and loud == []
    assert await all_breaks(sqlite_db) == 0


async def test_the_code_word_of_another_couple_does_nothing_here(
    service: CoachService, sqlite_db: Database
) -> None:
    pair = await make_couple(service, sqlite_db, group=group_chat(), codeword=CODEWORD)
    assert await service.handle(said(pair.sam, "mango", pair.group, addressed=False)) == []
    assert await all_breaks(sqlite_db) == 0


# --------------------------------------------------------------------------- alone


async def test_a_person_with_no_partner_gets_the_solo_pause_and_a_reminder(
    service: CoachService, sqlite_db: Database, clock: FakeClock
) -> None:
    kim = person("3500", "Kim")
    await onboard(service, kim, zone="Berlin")
    replies = await service.handle(said(kim, "/pause 45m"))
    assert keys_of(replies) == [desk.SOLO, desk.SOLO_MESSAGE, desk.CALM]
    assert "45 minutes" in replies[1].text and "10:45" in replies[1].text
    assert all(r.chat is None and r.private_to is None for r in replies)
    member = await sqlite_db.run(lambda c: CoupleRepository(c).member_id(kim))
    assert member is not None
    found = await sqlite_db.run(lambda c: BreakRepository(c).current(None, member))
    assert found is not None and found.ends_at == NOW + timedelta(minutes=45)
    key = f"{found.timer_key}:{member}"
    assert await pending(sqlite_db, key) == found.ends_at

    outbox = ScriptedOutbox()
    scheduler = Scheduler(sqlite_db, service.nudges, clock, retention_days=180)
    sender = scheduler.attach(Platform.TELEGRAM, outbox, SendGate(UNLIMITED))
    clock.advance(minutes=46)
    await scheduler.tick()
    while await sender.drain_once():
        pass
    assert [(s.chat.chat_id, s.reply.key) for s in outbox.sent] == [("3500", desk.SOLO_BACK)]
    calmer = await service.handle(
        pressed(kim, payload_of([outbox.sent[0].reply], BreakVerb.CALMER))
    )
    assert keys_of(calmer) == [desk.SOLO_CALMER]
    assert await sqlite_db.run(lambda c: BreakRepository(c).current(None, member)) is None


async def test_solo_pause_mid_onboarding_keeps_the_place(
    service: CoachService, sqlite_db: Database
) -> None:
    newcomer = person("3503", "Lee")
    await service.handle(said(newcomer, "/start"))
    key = state_key("user", private_chat(newcomer), newcomer)
    before = await state_at(sqlite_db, key)
    assert before is not None and before.flow == "onboarding"
    replies = await service.handle(said(newcomer, "/pause"))
    assert keys_of(replies) == [desk.SOLO, desk.SOLO_MESSAGE, desk.CALM]
    assert await state_at(sqlite_db, key) == before


async def test_solo_pause_in_a_group_answers_privately(service: CoachService) -> None:
    kim = person("3501", "Kim")
    replies = await service.handle(said(kim, "/pause", group_chat("-900")))
    assert keys_of(replies) == [desk.SOLO, desk.SOLO_MESSAGE, desk.CALM]
    assert all(r.private_to == kim for r in replies)


async def test_a_solo_breaks_buttons_are_for_its_caller_alone(service: CoachService) -> None:
    kim, lee = person("3504", "Kim"), person("3505", "Lee")
    replies = await service.handle(said(kim, "/pause"))
    for verb in (BreakVerb.CALMER, BreakVerb.MORE):
        other = await service.handle(pressed(lee, payload_of(replies, verb)))
        assert keys_of(other) == [desk.NOT_YOURS] and other[0].toast
    found = decode(payload_of(replies, BreakVerb.MORE))
    assert found is not None
    sign = await service.handle(pressed(kim, encode(BreakVerb.SIGN, found.number)))
    assert keys_of(sign) == [desk.UNUSABLE] and sign[0].toast  # nothing to sign alone


@pytest.mark.parametrize("minutes", [0, 5, 19, 24 * 60 + 1])
async def test_a_step_away_button_outside_the_range_starts_nothing(
    service: CoachService, sqlite_db: Database, minutes: int
) -> None:
    kim = person("3506", "Kim")
    await onboard(service, kim, zone="Berlin")
    replies = await service.handle(pressed(kim, encode(BreakVerb.STEP_AWAY, minutes)))
    assert keys_of(replies) == [desk.UNUSABLE] and replies[0].toast
    assert await all_breaks(sqlite_db) == 0


async def test_solo_more_time_moves_the_reminder(
    service: CoachService, sqlite_db: Database
) -> None:
    kim = person("3502", "Kim")
    replies = await service.handle(said(kim, "/pause"))
    more = await service.handle(pressed(kim, payload_of(replies, BreakVerb.MORE)))
    assert keys_of(more) == [desk.MORE_NOTED]
    member = await sqlite_db.run(lambda c: CoupleRepository(c).member_id(kim))
    found = await sqlite_db.run(lambda c: BreakRepository(c).current(None, member or 0))
    assert found is not None and found.ends_at == NOW + timedelta(minutes=40)
    assert await pending(sqlite_db, f"break:{found.id}:0:{member}") is None
    assert await pending(sqlite_db, f"{found.timer_key}:{member}") == found.ends_at


# --------------------------------------------------------------------------- the timer


async def _restarted(path: Path, clock: FakeClock) -> tuple[CoachService, Scheduler, Database]:
    """A new process: a new database object, service and scheduler on the same file."""
    database = Database(f"sqlite+aiosqlite:///{path}")
    await database.migrate()
    service = CoachService(CONTENT, database, clock, cipher=TEST_CIPHER, default_timezone="UTC")
    return service, Scheduler(database, service.nudges, clock, retention_days=180), database


async def _run(scheduler: Scheduler, outbox: ScriptedOutbox) -> None:
    sender = scheduler.senders.get(Platform.TELEGRAM) or scheduler.attach(
        Platform.TELEGRAM, outbox, SendGate(UNLIMITED)
    )
    await scheduler.tick()
    while await sender.drain_once():
        pass


async def test_a_restart_during_a_break_still_delivers_the_way_back_once(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "restart.db"
    service, _, database = await _restarted(path, clock)
    pair = await make_couple(service, database, group=group_chat())
    await service.handle(said(pair.sam, "/pause", pair.group))
    await database.close()  # the process dies

    service, scheduler, database = await _restarted(path, clock)
    outbox = ScriptedOutbox()
    clock.advance(minutes=19)
    await _run(scheduler, outbox)
    assert outbox.sent == []
    clock.advance(minutes=2)
    await _run(scheduler, outbox)
    clock.advance(minutes=30)
    await _run(scheduler, outbox)
    assert [(s.chat, s.reply.key) for s in outbox.sent] == [(pair.group, desk.WAY_BACK)]
    way_back = outbox.sent[0].reply
    assert "I feel" in way_back.text and "what do you need right now" in way_back.text.lower()
    verbs = [decode(b.payload) for b in way_back.buttons]
    assert [v.verb for v in verbs if v] == [BreakVerb.READY, BreakVerb.MORE, BreakVerb.TOMORROW]
    assert all(len(b.payload.encode()) < 64 for b in way_back.buttons)

    # The way back's buttons work in the new process.
    ready = way_back.buttons[0].payload
    await service.handle(pressed(pair.sam, ready, pair.group))
    done = await service.handle(pressed(pair.alex, ready, pair.group))
    assert keys_of(done) == [desk.BOTH_HERE]
    await database.close()


async def test_an_extensions_old_timer_never_fires(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "extend.db"
    service, _, database = await _restarted(path, clock)
    pair = await make_couple(service, database, group=group_chat())
    replies = await service.handle(said(pair.sam, "/pause", pair.group))
    await service.handle(pressed(pair.alex, payload_of(replies, BreakVerb.MORE)))
    await database.close()

    service, scheduler, database = await _restarted(path, clock)
    outbox = ScriptedOutbox()
    clock.advance(minutes=21)  # past the first return time
    await _run(scheduler, outbox)
    assert outbox.sent == []
    clock.advance(minutes=20)  # past the new one
    await _run(scheduler, outbox)
    clock.advance(hours=2)
    await _run(scheduler, outbox)
    assert [s.reply.key for s in outbox.sent] == [desk.WAY_BACK]
    await database.close()


def _claimed(payload: dict[str, str], profile: Profile | None = None) -> Claimed:
    return Claimed(
        id=1,
        item="timer:x",
        local_date="2026-03-01",
        kind=ItemKind.BREAK_END,
        platform=Platform.TELEGRAM,
        chat=None,
        profile=profile,
        payload=payload,
    )


def test_render_answers_only_for_break_timers(service: CoachService) -> None:
    nudges = service.nudges
    plain = nudges.render(_claimed({}), NOW)
    assert plain.reply is not None and plain.reply.key == keys.NUDGE_BREAK_END
    group = nudges.render(_claimed({"break": "7", "way": "group"}), NOW)
    assert group.reply is not None and group.reply.key == desk.WAY_BACK
    cared = Profile(user=person(), safety_mode=True)
    # A group's way back is never shaped by anyone's safety mode (older timers too).
    for old in (
        _claimed({"break": "7", "way": "group", "care": "1"}),
        _claimed({"break": "7", "way": "group"}, cared),
    ):
        same = nudges.render(old, NOW)
        assert same.reply == group.reply
    note = nudges.render(_claimed({"break": "7", "way": "care", "care": "1"}), NOW)
    assert note.reply is not None and note.reply.key == desk.WAY_BACK_SELF_CARE
    assert note.reply.buttons == ()
    private = nudges.render(_claimed({"break": "7", "way": "pair"}, cared), NOW)
    assert private.reply is not None and private.reply.key == desk.WAY_BACK_SELF_CARE
    solo = nudges.render(_claimed({"break": "7", "way": "solo"}), NOW)
    assert solo.reply is not None and solo.reply.key == desk.SOLO_BACK


def test_the_cap_is_a_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MEND_PAUSE_CAP", raising=False)
    assert load_settings(None).mend_pause_cap == 3
    monkeypatch.setenv("MEND_PAUSE_CAP", "5")
    assert load_settings(None).mend_pause_cap == 5
    monkeypatch.setenv("MEND_PAUSE_CAP", "0")
    with pytest.raises(SettingsError, match="MEND_PAUSE_CAP"):
        load_settings(None)


def test_button_payloads_round_trip_and_reject_junk() -> None:
    for verb in BreakVerb:
        number = None if verb is BreakVerb.PAUSE else 123456
        assert decode(encode(verb, number)) == BreakPress(verb, number)
    for junk in ("b", "b:calm", "b:calm:x", "b:nope:1", "b:pause:3", "n:done", "b:calm:1:2"):
        assert decode(junk) is None


# --------------------------------------------------------------------------- /again


async def test_again_in_private_normalises_and_offers_a_break_and_repair(
    service: CoachService, sqlite_db: Database
) -> None:
    pair = await make_couple(service, sqlite_db, group=group_chat())
    key = state_key("user", private_chat(pair.sam), pair.sam)
    await set_state(sqlite_db, key, FlowState("settings", CONTENT.flows["settings"].start))
    before = await state_at(sqlite_db, key)
    replies = await service.handle(said(pair.sam, "/again"))
    assert keys_of(replies) == [desk.AGAIN_PRIVATE]
    assert "/repair" in replies[0].text
    assert await state_at(sqlite_db, key) == before
    started = await service.handle(pressed(pair.sam, payload_of(replies, BreakVerb.PAUSE)))
    assert keys_of(started) == [desk.NOTICE, desk.CALM, desk.CALM]
    assert await current(sqlite_db, pair.couple) is not None


async def test_again_in_the_group_is_neutral_for_both(
    service: CoachService, sqlite_db: Database
) -> None:
    pair = await make_couple(service, sqlite_db, group=group_chat())
    by_sam = await service.handle(said(pair.sam, "/again", pair.group))
    by_alex = await service.handle(said(pair.alex, "/again", pair.group))
    assert keys_of(by_sam) == keys_of(by_alex) == [desk.AGAIN_GROUP]
    assert by_sam[0].text == by_alex[0].text
    assert "Sam" not in by_sam[0].text and "Alex" not in by_sam[0].text
    started = await service.handle(
        pressed(pair.alex, payload_of(by_sam, BreakVerb.PAUSE), pair.group)
    )
    assert keys_of(started) == [desk.NOTICE, desk.CALM, desk.CALM]


# --------------------------------------------------------------------------- safety


async def test_a_break_never_blocks_safety_help(service: CoachService, sqlite_db: Database) -> None:
    pair = await make_couple(service, sqlite_db, group=group_chat(), codeword=CODEWORD)
    await service.handle(said(pair.sam, "/pause", pair.group))
    assert await current(sqlite_db, pair.couple) is not None

    tips = await service.handle(said(pair.sam, "/safety"))
    assert tips[0].key == keys.SAFETY_TIPS
    in_group = await service.handle(said(pair.alex, "/safety", pair.group))
    assert in_group[0].key == keys.SAFETY_TIPS and in_group[0].private_to == pair.alex
    hit = await service.handle(said(pair.sam, "i want to kill myself"))
    assert hit[0].key == keys.SAFETY_ACK_SELF_HARM
    # Even with the code word in it, a worrying message gets safety help first.
    worried = await service.handle(said(pair.alex, "pineapple, i want to kill myself"))
    assert worried[0].key == keys.SAFETY_ACK_SELF_HARM
    assert desk.NOTICE not in keys_of(worried)
    assert (await service.handle(said(pair.sam, "/help")))[0].key == keys.HELP_HEADER
