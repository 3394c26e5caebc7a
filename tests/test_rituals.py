"""Shared rituals end to end: the weekly check-in and the repair after a hard fight.

Each partner answers privately; the group (or, without one, both partners privately) gets
what each chose to share, in one message, once both have finished. Privacy canaries are
planted in every answer and followed into every reply and every queued delivery.
A fake clock, SQLite for the service, SQLite and PostgreSQL for the repository.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, func, select

from core.content import Content
from core.couples import Couple
from core.flows.engine import FlowState
from core.flows.scope import state_key
from core.privacy import export_person, purge_expired
from core.rituals import ITEMS, Answer, RitualKind, parse_action, parse_note
from core.schedule.kinds import ItemKind
from core.service import CoachService
from core.service.ritual_share import Sharer, shared_messages
from core.service.ritual_weekly import parse_weekday
from core.service.rituals import START_ROUND_PAYLOAD, RitualDesk, go_payload
from core.storage import Database, StateRepository, UserRepository
from core.storage.couples import CoupleRepository
from core.storage.rituals import HOOKS, RitualRepository
from core.storage.subscriptions import SubscriptionRepository
from core.storage.tables import deliveries, ritual_answers, ritual_turns, rituals, subscriptions
from core.types import ChatRef, IncomingEvent, Platform, Reply, UserRef
from scheduler.clockwork import Scheduler
from scheduler.pacing import UNLIMITED, SendGate
from tests.fakes import TEST_CIPHER, FakeClock, group_chat, person, pressed, private_chat, said
from tests.scheduler_fakes import ScriptedOutbox
from tests.test_nudges import onboard

CHECKIN, REPAIR = RitualKind.CHECKIN, RitualKind.REPAIR
GROUP = group_chat("-700")


# --------------------------------------------------------------------------- harness


def destination(event: IncomingEvent, reply: Reply) -> str:
    """Where a reply goes: someone's private chat, or a group."""
    if reply.private_to is not None:
        return f"private:{reply.private_to.platform}:{reply.private_to.user_id}"
    if reply.toast:
        return f"private:{event.user.platform}:{event.user.user_id}"
    chat: ChatRef = reply.chat or event.chat
    if chat.is_private:
        return f"private:{chat.platform}:{chat.chat_id}"
    return f"group:{chat.platform}:{chat.chat_id}"


def private_of(user: UserRef) -> str:
    return f"private:{user.platform}:{user.user_id}"


def shown(reply: Reply) -> str:
    return reply.text + "".join(b.label + b.payload for b in reply.buttons)


@dataclass
class Sent:
    """One reply, who caused it, where it went, and its place in the conversation."""

    turn: int
    actor: UserRef
    to: str
    reply: Reply


@dataclass
class Talk:
    """Drives the service and records every reply with where it went."""

    service: CoachService
    sent: list[Sent] = field(default_factory=list)
    turns: int = 0

    async def __call__(self, event: IncomingEvent) -> list[Reply]:
        replies = await self.service.handle(event)
        self.turns += 1
        self.sent += [Sent(self.turns, event.user, destination(event, r), r) for r in replies]
        return replies

    def to(self, where: str) -> list[Reply]:
        return [s.reply for s in self.sent if s.to == where]

    def keys_to(self, where: str) -> list[str]:
        return [r.key for r in self.to(where)]


def button(replies: Iterable[Reply], ending: str) -> str:
    """The payload of the last button whose payload ends with ``ending``."""
    found = [b.payload for r in replies for b in r.buttons if b.payload.endswith(ending)]
    assert found, f"no button ending {ending!r}"
    return found[-1]


async def tap(talk: Talk, user: UserRef, last: list[Reply], choice: str) -> list[Reply]:
    return await talk(pressed(user, button(last, f":{choice}")))


def canary(who: str, kind: RitualKind, item: str, tag: str = "") -> str:
    return f"cnry{who}{kind.value}{item.replace('_', '')}{tag}x"


async def walk(
    talk: Talk,
    user: UserRef,
    kind: RitualKind,
    words: dict[str, str],
    share: bool | set[str],
    *,
    start: Sequence[Reply] = (),
) -> list[Reply]:
    """Answer a ritual privately: from ``start`` (the flow's first replies) or /<kind>."""
    last = list(start) or await talk(said(user, f"/{kind.value}"))
    own = [r.key for r in last if r.private_to is None and r.chat is None]
    assert own[-1].startswith(f"ritual.{kind.value}.ask_"), own
    for item in ITEMS[kind]:
        last = await talk(said(user, f"a small thing, {words[item]}"))
        if kind is REPAIR:
            shared = item in share if isinstance(share, set) else share
            last = await tap(talk, user, last, "share" if shared else "keep")
    if kind is CHECKIN:
        last = await tap(talk, user, last, "share" if share else "keep")
    return last


@pytest.fixture
def talk(service: CoachService) -> Talk:
    return Talk(service)


async def couple_up(
    database: Database,
    service: CoachService,
    first: UserRef,
    second: UserRef,
    group: ChatRef | None = GROUP,
) -> Couple:
    """Both set up, paired, and (with ``group``) linked to their group."""
    for someone in (first, second):
        await onboard(service, someone)
    now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def work(connection: Connection) -> Couple:
        repo = CoupleRepository(connection)
        couple = repo.pair(first, first.display_name, second, second.display_name, now)
        if group is not None:
            repo.link(couple.id, group, now)
        found = repo.get(couple.id)
        assert found is not None
        return found

    return await database.run(work)


def queued_payloads(connection: Connection) -> list[str]:
    return [str(p) for p in connection.execute(select(deliveries.c.payload)).scalars()]


async def ritual_timers(database: Database) -> list[tuple[str, str, str | None]]:
    def read(connection: Connection) -> list[tuple[str, str, str | None]]:
        rows = connection.execute(
            select(deliveries.c.item, deliveries.c.status, deliveries.c.payload).where(
                deliveries.c.item.like("timer:ritual:%")
            )
        )
        return [(r.item, r.status, r.payload) for r in rows]

    return await database.run(read)


async def set_safety_mode(database: Database, user: UserRef) -> None:
    def work(connection: Connection) -> None:
        users = UserRepository(connection)
        found = users.find(user)
        assert found is not None
        now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
        users.save(replace(found, safety_mode=True, safety_since=now), now)

    await database.run(work)


@pytest.fixture
def sam() -> UserRef:
    return person("5001", "Sam")


@pytest.fixture
def robin() -> UserRef:
    return person("5002", "Robin")


# --------------------------------------------------------------------------- the check-in


async def test_full_checkin_with_a_group_shares_both_answers_in_one_message_at_the_end(
    talk: Talk,
    sqlite_db: Database,
    service: CoachService,
    content: Content,
    sam: UserRef,
    robin: UserRef,
) -> None:
    await couple_up(sqlite_db, service, sam, robin)
    opened = await talk(said(sam, "/checkin", GROUP))
    assert [(destination(said(sam, "/checkin", GROUP), r), r.key) for r in opened] == [
        (f"group:telegram:{GROUP.chat_id}", "ritual.checkin.opened_group"),
        (private_of(robin), "ritual.checkin.invite"),
        (private_of(sam), "ritual.checkin.invite"),
    ]
    sam_words = {i: canary("sam", CHECKIN, i) for i in ITEMS[CHECKIN]}
    robin_words = {i: canary("robin", CHECKIN, i) for i in ITEMS[CHECKIN]}

    started = await talk(pressed(sam, button(opened, ":go:1")))
    assert [r.key for r in started] == ["ritual.checkin.intro", "ritual.checkin.ask_appreciation"]
    gentle = content.texts.render("ritual.checkin.ask_talk_about")
    assert '"I feel … about … and I need …"' in gentle
    done = await walk(talk, sam, CHECKIN, sam_words, True, start=started)
    assert [r.key for r in done] == ["ritual.checkin.done_shared"]
    assert talk.to(f"group:telegram:{GROUP.chat_id}") == [opened[0]]  # nothing yet

    again = await talk(said(sam, "/checkin", GROUP))  # where does it stand? privately
    assert [(destination(said(sam, "x", GROUP), r), r.key) for r in again] == [
        (private_of(sam), "ritual.waiting")
    ]

    robin_start = await talk(pressed(robin, button(opened, ":go:1")))
    final = await walk(talk, robin, CHECKIN, robin_words, True, start=robin_start)
    to_group = [r for r in final if r.chat == GROUP]
    assert [r.key for r in to_group] == ["ritual.checkin.together"]
    message = to_group[0].text
    assert all(w in message for w in (*sam_words.values(), *robin_words.values()))
    assert message.index("Sam:") < message.index(sam_words["appreciation"])
    assert message.index("Robin:") < message.index(robin_words["appreciation"])
    assert [r.key for r in final if r.chat is None and r.private_to is None] == [
        "ritual.checkin.done_shared",
        "ritual.posted",
    ]
    assert len(talk.to(f"group:telegram:{GROUP.chat_id}")) == 2  # the opening line, the round

    def closed(connection: Connection) -> list[object]:
        return list(connection.execute(select(rituals.c.closed_at)).scalars())

    assert all(value is not None for value in await sqlite_db.run(closed))
    assert [r.key for r in await talk(said(sam, "/checkin"))] == [
        "ritual.checkin.intro",
        "ritual.checkin.ask_appreciation",
        "ritual.checkin.invite",
    ]  # a new round, and Robin is asked again


async def test_keeping_answers_private_shows_only_that_they_checked_in(
    talk: Talk,
    sqlite_db: Database,
    service: CoachService,
    content: Content,
    sam: UserRef,
    robin: UserRef,
) -> None:
    await couple_up(sqlite_db, service, sam, robin)
    sam_words = {i: canary("sam", CHECKIN, i) for i in ITEMS[CHECKIN]}
    robin_words = {i: canary("robin", CHECKIN, i) for i in ITEMS[CHECKIN]}
    await walk(talk, sam, CHECKIN, sam_words, False)
    final = await walk(talk, robin, CHECKIN, robin_words, True)
    [together] = [r for r in final if r.chat == GROUP]
    kept = content.texts.render("ritual.checkin.kept_private", {"name": "Sam"})
    assert kept in together.text
    assert "private" not in kept and "kept" not in kept  # nothing names a holding back
    assert not any(word in together.text for word in sam_words.values())
    assert all(word in together.text for word in robin_words.values())


async def test_no_partner_gets_a_kind_pointer_to_pair(talk: Talk, service: CoachService) -> None:
    alone = person("5003", "Alex")
    await onboard(service, alone)
    assert [r.key for r in await talk(said(alone, "/checkin"))] == ["ritual.no_partner"]
    in_group = await talk(said(alone, "/repair", GROUP))
    assert [(r.key, r.private_to) for r in in_group] == [("ritual.no_partner", alone)]


async def test_a_second_command_picks_up_the_persons_own_step(
    talk: Talk, sqlite_db: Database, service: CoachService, sam: UserRef, robin: UserRef
) -> None:
    await couple_up(sqlite_db, service, sam, robin)
    await talk(said(sam, "/checkin"))
    await talk(said(sam, "thanks for the tea"))
    again = await talk(said(sam, "/checkin"))
    assert [r.key for r in again] == ["ritual.resume", "ritual.checkin.ask_went_well"]


async def test_safety_keeps_the_place_in_every_ritual_step(
    talk: Talk, sqlite_db: Database, service: CoachService, content: Content, sam: UserRef
) -> None:
    await onboard(service, sam)
    key = state_key("user", private_chat(sam), sam)
    for kind in RitualKind:
        flow = content.flows[kind.value]
        waiting = [n for n, s in flow.steps.items() if s.buttons or s.input is not None]
        assert len(waiting) >= 5
        for step in waiting:
            state = FlowState(kind.value, step)

            def put(connection: Connection, state: FlowState = state) -> None:
                states = StateRepository(connection)
                states.save(key, state, states.load(key).version, datetime.now(UTC))

            await sqlite_db.run(put)
            helped = await talk(said(sam, "/safety"))
            assert helped and all(r.private_to is None and r.chat is None for r in helped)
            stored = await sqlite_db.run(lambda c: StateRepository(c).load(key))
            assert stored.state == state


async def test_a_partner_in_safety_mode_gets_no_prompt_and_the_round_waits(
    talk: Talk, sqlite_db: Database, service: CoachService, sam: UserRef, robin: UserRef
) -> None:
    await couple_up(sqlite_db, service, sam, robin)
    await set_safety_mode(sqlite_db, robin)
    held = await talk(said(robin, "/checkin", GROUP))
    assert [(r.key, r.private_to) for r in held] == [("ritual.self_care", robin)]
    opened = await talk(said(sam, "/checkin", GROUP))
    assert [(r.key, r.private_to) for r in opened] == [
        ("ritual.checkin.opened_group", None),
        ("ritual.checkin.invite", sam),
    ]
    assert await ritual_timers(sqlite_db) == []  # no group nudge that would reach them
    words = {i: canary("sam", CHECKIN, i) for i in ITEMS[CHECKIN]}
    done = await walk(
        talk, sam, CHECKIN, words, True, start=await talk(pressed(sam, go_payload(1)))
    )
    assert [r.key for r in done] == ["ritual.checkin.done_shared"]
    assert [r.key for r in await talk(said(sam, "/checkin"))] == ["ritual.waiting"]
    pressed_anyway = await talk(pressed(robin, go_payload(1)))
    assert [r.key for r in pressed_anyway] == ["ritual.self_care"]
    assert [r.key for r in await talk(said(robin, "/checkin weekly sun 19:00"))] == [
        "ritual.self_care"
    ]


async def test_the_weekly_reminder_button_opens_a_round(
    talk: Talk, sqlite_db: Database, service: CoachService, sam: UserRef, robin: UserRef
) -> None:
    await couple_up(sqlite_db, service, sam, robin)
    replies = await talk(pressed(sam, START_ROUND_PAYLOAD, GROUP))
    assert [r.key for r in replies] == [
        "ritual.checkin.opened_group",
        "ritual.checkin.invite",
        "ritual.checkin.invite",
    ]
    stale = await talk(pressed(sam, go_payload(99)))
    assert [r.key for r in stale] == ["ritual.round_gone"]
    in_group = await talk(pressed(sam, go_payload(1), GROUP))
    assert [(r.key, r.private_to) for r in in_group] == [("ritual.answer_privately", sam)]


async def test_forged_ritual_buttons_get_a_kind_stale_reply(
    content: Content, database: Database, clock: FakeClock, sam: UserRef, robin: UserRef
) -> None:
    service = CoachService(content, database, clock, cipher=TEST_CIPHER, default_timezone="UTC")
    talk = Talk(service)
    await couple_up(database, service, sam, robin)
    forged = [
        "rt:go:99999999999999999999",  # would overflow SQLite's integers
        "rt:go:" + "9" * 12,  # within the digit cap, past PostgreSQL's integer column
        "rt:go:2147483648",
        "rt:go:²",  # a digit to str.isdigit, not to int()
        "rt:go:１２",  # full-width digits
        "rt:go:-1",
        "rt:go:",
        "rt:new:nothing",
        "rt:zz:1",
    ]
    for payload in forged:
        replies = await talk(pressed(sam, payload))
        assert [(r.key, r.private_to) for r in replies] == [("ritual.round_gone", None)], payload
    assert await database.run(lambda c: list(c.execute(select(rituals.c.id)))) == []


async def test_only_the_linked_couple_can_start_a_check_in_from_their_group(
    talk: Talk, sqlite_db: Database, service: CoachService, sam: UserRef, robin: UserRef
) -> None:
    await couple_up(sqlite_db, service, sam, robin)
    carol, dave = person("5101", "Carol"), person("5102", "Dave")
    await couple_up(sqlite_db, service, carol, dave, group=None)
    friend = person("5103", "Friend")
    await onboard(service, friend)

    for stranger in (carol, friend):  # another couple's partner, someone unpaired
        replies = await talk(pressed(stranger, START_ROUND_PAYLOAD, GROUP))
        assert [(r.key, r.toast) for r in replies] == [("ritual.only_couple", True)]
    # A group no couple has linked: the button opens nothing there either.
    other_group = group_chat("-701")
    replies = await talk(pressed(sam, START_ROUND_PAYLOAD, other_group))
    assert [(r.key, r.toast) for r in replies] == [("ritual.only_couple", True)]
    assert await sqlite_db.run(lambda c: list(c.execute(select(rituals.c.id)))) == []
    assert talk.to(f"group:{GROUP.platform}:{GROUP.chat_id}") == []

    # The couple itself still can, and privately the button works as /checkin does.
    opened = await talk(pressed(robin, START_ROUND_PAYLOAD, GROUP))
    assert next(r.key for r in opened) == "ritual.checkin.opened_group"
    private = await talk(pressed(carol, START_ROUND_PAYLOAD))
    assert "ritual.checkin.invite" in [r.key for r in private]


# --------------------------------------------------------------------------- the 24-hour nudge


async def run_scheduler(database: Database, service: CoachService, clock: FakeClock) -> list[Reply]:
    outbox = ScriptedOutbox()
    scheduler = Scheduler(database, service.nudges, clock, retention_days=180)
    sender = scheduler.attach(Platform.TELEGRAM, outbox, SendGate(UNLIMITED))
    await scheduler.tick()
    while await sender.drain_once():
        pass
    return [s.reply for s in outbox.sent if s.chat == GROUP or s.reply.key.startswith("ritual")]


async def test_only_one_answered_in_a_day_gives_the_group_a_neutral_nudge(
    talk: Talk,
    sqlite_db: Database,
    service: CoachService,
    clock: FakeClock,
    sam: UserRef,
    robin: UserRef,
) -> None:
    await couple_up(sqlite_db, service, sam, robin)
    words = {i: canary("sam", CHECKIN, i) for i in ITEMS[CHECKIN]}
    await walk(talk, sam, CHECKIN, words, True)
    clock.advance(hours=23)
    assert await run_scheduler(sqlite_db, service, clock) == []
    clock.advance(hours=1, minutes=1)
    [nudge] = await run_scheduler(sqlite_db, service, clock)
    assert nudge.key == "ritual.checkin.nudge"
    assert not any(word in shown(nudge) for word in words.values())
    assert "Sam" not in nudge.text and "Robin" not in nudge.text  # nor who answered
    assert all(
        words[i] not in (p or "") for _, _, p in await ritual_timers(sqlite_db) for i in words
    )
    clock.advance(hours=30)
    assert await run_scheduler(sqlite_db, service, clock) == []  # once


async def test_no_nudge_once_both_have_answered(
    talk: Talk,
    sqlite_db: Database,
    service: CoachService,
    clock: FakeClock,
    sam: UserRef,
    robin: UserRef,
) -> None:
    await couple_up(sqlite_db, service, sam, robin)
    await walk(talk, sam, CHECKIN, {i: "one" for i in ITEMS[CHECKIN]}, True)
    assert [status for _, status, _ in await ritual_timers(sqlite_db)] == ["queued"]
    clock.advance(hours=2)
    await walk(talk, robin, CHECKIN, {i: "two" for i in ITEMS[CHECKIN]}, True)
    assert await ritual_timers(sqlite_db) == []
    clock.advance(hours=30)
    assert await run_scheduler(sqlite_db, service, clock) == []


async def test_without_a_group_each_partner_gets_the_nudge_privately(
    talk: Talk,
    sqlite_db: Database,
    service: CoachService,
    clock: FakeClock,
    sam: UserRef,
    robin: UserRef,
) -> None:
    await couple_up(sqlite_db, service, sam, robin, group=None)
    await talk(said(sam, "/repair"))
    clock.advance(hours=25)
    outbox = ScriptedOutbox()
    scheduler = Scheduler(sqlite_db, service.nudges, clock, retention_days=180)
    sender = scheduler.attach(Platform.TELEGRAM, outbox, SendGate(UNLIMITED))
    await scheduler.tick()
    while await sender.drain_once():
        pass
    nudges = sorted(s.chat.chat_id for s in outbox.sent if s.reply.key == "ritual.repair.nudge")
    assert nudges == sorted([sam.user_id, robin.user_id])


# --------------------------------------------------------------------------- repair


async def test_repair_shares_only_what_each_chose(
    talk: Talk, sqlite_db: Database, service: CoachService, sam: UserRef, robin: UserRef
) -> None:
    await couple_up(sqlite_db, service, sam, robin)
    opened = await talk(said(robin, "/repair", GROUP))
    assert [r.key for r in opened] == [
        "ritual.repair.opened_group",
        "ritual.repair.invite",
        "ritual.repair.invite",
    ]
    sam_words = {i: canary("sam", REPAIR, i) for i in ITEMS[REPAIR]}
    robin_words = {i: canary("robin", REPAIR, i) for i in ITEMS[REPAIR]}
    sam_shares = {"feelings", "own_part", "differently"}
    robin_shares = {"view"}
    await walk(talk, sam, REPAIR, sam_words, sam_shares)
    final = await walk(talk, robin, REPAIR, robin_words, robin_shares)
    [together] = [r for r in final if r.chat == GROUP]
    assert together.key == "ritual.repair.together"
    for item in ITEMS[REPAIR]:
        assert (sam_words[item] in together.text) == (item in sam_shares), item
        assert (robin_words[item] in together.text) == (item in robin_shares), item
    text = together.text
    assert text.index(sam_words["feelings"]) < text.index(sam_words["own_part"])


async def test_repair_with_nothing_shared_by_either(
    talk: Talk,
    sqlite_db: Database,
    service: CoachService,
    content: Content,
    sam: UserRef,
    robin: UserRef,
) -> None:
    await couple_up(sqlite_db, service, sam, robin)
    await walk(talk, sam, REPAIR, {i: "mine" for i in ITEMS[REPAIR]}, False)
    final = await walk(talk, robin, REPAIR, {i: "yours" for i in ITEMS[REPAIR]}, False)
    [together] = [r for r in final if r.chat == GROUP]
    for name in ("Sam", "Robin"):
        line = content.texts.render("ritual.repair.kept_private", {"name": name})
        assert line in together.text
        assert "private" not in line and "kept" not in line  # nothing names a holding back
    assert "mine" not in together.text and "yours" not in together.text


# --------------------------------------------------------------------------- privacy canaries


@dataclass(frozen=True)
class Setting:
    """Where the couple is: a shared group, no group on one platform, or two platforms."""

    name: str
    group: ChatRef | None
    robin_platform: Platform


SETTINGS = (
    Setting("group", GROUP, Platform.TELEGRAM),
    Setting("no_group", None, Platform.TELEGRAM),
    Setting("two_platforms", None, Platform.DISCORD),
)
REPAIR_CHOICES: tuple[tuple[set[str], set[str]], ...] = (
    (set(ITEMS[REPAIR]), set()),
    (set(), set(ITEMS[REPAIR])),
    ({"feelings", "triggers", "differently"}, {"view", "own_part"}),
    ({"view"}, {"feelings", "view"}),
)
CHECKIN_CHOICES: tuple[tuple[bool, bool], ...] = tuple(itertools.product((True, False), repeat=2))


@pytest.mark.parametrize("setting", SETTINGS, ids=[s.name for s in SETTINGS])
async def test_privacy_canaries_across_every_share_combination(
    content: Content, sqlite_db: Database, clock: FakeClock, setting: Setting
) -> None:
    service = CoachService(content, sqlite_db, clock, cipher=TEST_CIPHER, default_timezone="UTC")
    talk = Talk(service)
    sam = person("6001", "Sam")
    robin = UserRef(setting.robin_platform, "6002", display_name="Robin")
    await couple_up(sqlite_db, service, sam, robin, group=setting.group)
    rounds: list[tuple[RitualKind, object, object]] = [
        *((CHECKIN, a, b) for a, b in CHECKIN_CHOICES),
        *((REPAIR, a, b) for a, b in REPAIR_CHOICES),
    ]
    for number, (kind, sam_choice, robin_choice) in enumerate(rounds):
        tag = f"r{number}"
        sam_words = {i: canary("sam", kind, i, tag) for i in ITEMS[kind]}
        robin_words = {i: canary("robin", kind, i, tag) for i in ITEMS[kind]}
        first_turn = talk.turns + 1
        first, second = (sam, robin) if number % 2 == 0 else (robin, sam)
        words = {sam: sam_words, robin: robin_words}
        choice = {sam: sam_choice, robin: robin_choice}
        opener = said(first, f"/{kind.value}", setting.group) if setting.group else None
        if opener is not None:
            await talk(opener)
        await walk(talk, first, kind, words[first], choice[first])  # type: ignore[arg-type]
        last_before = talk.turns
        await walk(talk, second, kind, words[second], choice[second])  # type: ignore[arg-type]
        final_turn = talk.turns

        def shares(who: UserRef, item: str, choice: dict[UserRef, object] = choice) -> bool:
            made = choice[who]
            return item in made if isinstance(made, set) else bool(made)

        everything = {w: (who, item) for who in (sam, robin) for item, w in words[who].items()}
        this_round = [s for s in talk.sent if s.turn >= first_turn]
        for sent in this_round:
            text = shown(sent.reply)
            for word, (who, item) in everything.items():
                if word not in text or sent.to == private_of(who):
                    continue  # a person may see their own words, privately
                where = (kind, sent.to, sent.reply.key, word)
                assert shares(who, item), f"an unshared answer left: {where}"
                assert sent.turn > last_before, f"shared before both finished: {where}"
                assert sent.turn == final_turn, where
                assert sent.reply.key == f"ritual.{kind.value}.together", where
        final_out = [s for s in this_round if s.turn == final_turn]
        for who in (sam, robin):
            for item, word in words[who].items():
                out = [s for s in final_out if word in shown(s.reply) and s.to != private_of(who)]
                expected = shares(who, item) and setting.name != "two_platforms"
                assert bool(out) == expected, (kind, setting.name, who.user_id, item)
        if setting.name == "two_platforms":
            assert "ritual.needs_group" in [s.reply.key for s in final_out]
            queued = " ".join(await sqlite_db.run(queued_payloads))
            assert f"ritual.{kind.value}.invite" in queued and "rt:go:" in queued
        payloads = " ".join(await sqlite_db.run(queued_payloads))
        assert not any(w in payloads for w in everything), "free text in the send queue"
    assert talk.turns > 100


# --------------------------------------------------------------------------- export and delete


async def test_export_holds_only_the_persons_own_answers_and_delete_removes_them(
    content: Content, database: Database, clock: FakeClock
) -> None:
    service = CoachService(content, database, clock, cipher=TEST_CIPHER, default_timezone="UTC")
    talk = Talk(service)
    sam, robin = person("7001", "Sam"), person("7002", "Robin")
    await couple_up(database, service, sam, robin)
    sam_words = {i: canary("sam", REPAIR, i) for i in ITEMS[REPAIR]}
    robin_words = {i: canary("robin", REPAIR, i) for i in ITEMS[REPAIR]}
    await walk(talk, sam, REPAIR, sam_words, {"feelings"})
    await walk(talk, robin, REPAIR, robin_words, True)

    exported = await database.run(
        lambda c: json.loads(export_person(c, sam, TEST_CIPHER, clock.now()))
    )
    section = exported["rituals"]
    answers = [row for row in section if "item" in row]
    assert sorted(row["item"] for row in answers) == sorted(ITEMS[REPAIR])
    assert {row["text"] for row in answers} == {f"a small thing, {w}" for w in sam_words.values()}
    assert [row["shared"] for row in answers if row["item"] == "feelings"] == [True]
    assert len([row for row in section if "finished_at" in row]) == 1
    raw = json.dumps(exported)
    assert not any(w in raw for w in robin_words.values())

    def counts(connection: Connection) -> tuple[int, int]:
        return (
            connection.execute(select(func.count()).select_from(ritual_answers)).scalar_one(),
            connection.execute(select(func.count()).select_from(ritual_turns)).scalar_one(),
        )

    assert await database.run(counts) == (10, 2)
    gone = await database.run(lambda c: HOOKS.delete(c, sam))
    assert gone == 6
    assert await database.run(counts) == (5, 1)
    still = await database.run(
        lambda c: json.loads(export_person(c, robin, TEST_CIPHER, clock.now()))
    )
    assert len([r for r in still["rituals"] if "item" in r]) == 5


async def test_unpairing_drops_a_pending_reminder(
    talk: Talk, sqlite_db: Database, service: CoachService, sam: UserRef, robin: UserRef
) -> None:
    couple = await couple_up(sqlite_db, service, sam, robin)
    await talk(said(sam, "/checkin"))
    await talk(said(sam, "/repair"))  # a second round, of the other ritual
    assert len(await ritual_timers(sqlite_db)) == 2
    asked = await talk(said(sam, "/unpair"))
    await talk(pressed(sam, button(asked, f":{couple.id}")))
    assert await sqlite_db.run(lambda c: CoupleRepository(c).get(couple.id)) is None
    assert await ritual_timers(sqlite_db) == []


async def test_unpairing_and_deleting_stop_the_weekly_reminder_to_the_group(
    talk: Talk, sqlite_db: Database, service: CoachService, sam: UserRef, robin: UserRef
) -> None:
    def weekly(connection: Connection) -> list[str | None]:
        query = select(subscriptions.c.chat_id).where(subscriptions.c.kind == ItemKind.WEEKLY.value)
        return list(connection.execute(query).scalars())

    couple = await couple_up(sqlite_db, service, sam, robin)
    await talk(said(sam, "/checkin weekly sun 19:00"))
    assert await sqlite_db.run(weekly) == [GROUP.chat_id]
    asked = await talk(said(robin, "/unpair"))
    await talk(pressed(robin, button(asked, f":{couple.id}")))
    assert await sqlite_db.run(weekly) == []

    def pair_again(connection: Connection) -> None:  # together again, a reminder again
        now = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
        repo = CoupleRepository(connection)
        repo.link(repo.pair(sam, "Sam", robin, "Robin", now).id, GROUP, now)

    await sqlite_db.run(pair_again)
    await talk(said(robin, "/checkin weekly fri 18:00"))
    assert await sqlite_db.run(weekly) == [GROUP.chat_id]
    ask = await talk(said(sam, "/delete"))  # the partner who did not set it leaves
    await tap(talk, sam, ask, "yes")
    assert await sqlite_db.run(weekly) == []


async def test_deleting_a_person_through_delete_removes_their_answers(
    talk: Talk, sqlite_db: Database, service: CoachService, sam: UserRef, robin: UserRef
) -> None:
    await couple_up(sqlite_db, service, sam, robin)
    await walk(talk, sam, CHECKIN, {i: "x" for i in ITEMS[CHECKIN]}, True)
    ask = await talk(said(sam, "/delete"))
    await tap(talk, sam, ask, "yes")

    def count(connection: Connection) -> int:
        return int(
            connection.execute(select(func.count()).select_from(ritual_answers)).scalar_one()
        )

    assert await sqlite_db.run(count) == 0


# --------------------------------------------------------------------------- the repository


async def test_repository_rounds_answers_turns_and_purge(database: Database) -> None:
    now = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    sam, robin = person("8001", "Sam"), person("8002", "Robin")

    def work(connection: Connection) -> None:
        users = UserRepository(connection)
        for someone in (sam, robin):
            users.create(someone, now)
        couple = CoupleRepository(connection).pair(sam, "Sam", robin, "Robin", now)
        a, b = (p.member_id for p in couple.partners)
        repo = RitualRepository(connection, TEST_CIPHER)
        assert repo.open_round(couple.id, CHECKIN) is None
        opened = repo.start(couple.id, CHECKIN, now)
        assert repo.open_round(couple.id, CHECKIN) == opened
        assert repo.open_round(couple.id, REPAIR) is None
        repo.save_answer(opened.id, a, "need", "first words", now)
        repo.share(opened.id, a)
        repo.save_answer(opened.id, a, "need", "second words", now)  # replaced: unshared again
        repo.save_answer(opened.id, a, "went_well", "walk", now)
        repo.save_answer(opened.id, b, "need", "sleep", now)
        assert repo.share(opened.id, a, "went_well") == 1
        assert repo.shared_answers(opened.id) == [Answer(a, "went_well", "walk", True)]
        assert repo.answered(opened.id, a) == ["need", "went_well"]
        stored = connection.execute(select(ritual_answers.c.text)).scalars().all()
        assert all("words" not in t and "walk" not in t for t in stored)
        repo.finish(opened.id, a, now)
        repo.finish(opened.id, a, now)  # once
        assert repo.finished(opened.id) == {a}
        assert repo.close(opened.id, now) and not repo.close(opened.id, now)
        assert repo.open_round(couple.id, CHECKIN) is None
        got = repo.get(opened.id)
        assert got is not None and got.closed_at == now
        assert purge_expired(connection, now + timedelta(days=179), 180) == 0
        assert purge_expired(connection, now + timedelta(days=181), 180) >= 3
        assert repo.answered(opened.id, a) == []

    await database.run(work)


# --------------------------------------------------------------------------- weekly schedule


async def test_weekly_schedule_is_set_in_local_time_and_removed(
    talk: Talk, sqlite_db: Database, service: CoachService, sam: UserRef, robin: UserRef
) -> None:
    await couple_up(sqlite_db, service, sam, robin)
    replies = await talk(said(sam, "/checkin weekly sun 19:00"))
    assert [r.key for r in replies] == ["ritual.weekly.set_group"]
    assert "Sunday at 19:00 (Europe/Berlin)" in replies[0].text

    def rows(connection: Connection) -> list[tuple[str, int | None, str | None, str]]:
        query = select(
            subscriptions.c.kind,
            subscriptions.c.weekday,
            subscriptions.c.chat_id,
            subscriptions.c.local_time,
        ).where(subscriptions.c.kind == ItemKind.WEEKLY.value)
        return [tuple(r) for r in connection.execute(query)]  # type: ignore[misc]

    assert await sqlite_db.run(rows) == [("weekly", 6, GROUP.chat_id, "19:00")]
    due = await sqlite_db.run(lambda c: SubscriptionRepository(c).due_at(sam, ItemKind.WEEKLY))
    assert due is not None and due.astimezone(UTC).weekday() == 6
    moved = await talk(said(robin, "/checkin weekly Wednesday 7:30pm"))
    assert [r.key for r in moved] == ["ritual.weekly.set_group"]
    assert await sqlite_db.run(rows) == [("weekly", 2, GROUP.chat_id, "19:30")]  # one a couple
    assert [r.key for r in await talk(said(sam, "/checkin weekly someday"))] == [
        "ritual.weekly.invalid"
    ]
    assert [r.key for r in await talk(said(sam, "/checkin weekly off"))] == [
        "ritual.weekly.removed"
    ]
    assert await sqlite_db.run(rows) == []
    assert [r.key for r in await talk(said(sam, "/checkin weekly off"))] == ["ritual.weekly.none"]


def test_weekday_names() -> None:
    assert [parse_weekday(w) for w in ("sun", "Sunday", "MON", "thur", "tu", "funday")] == [
        6,
        6,
        0,
        3,
        None,
        None,
    ]


# --------------------------------------------------------------------------- pure parts


def test_notes_and_actions_cover_every_item() -> None:
    for kind, items in ITEMS.items():
        for item in items:
            assert parse_note(f"{kind.value}.{item}") == (kind, item)
            shared = parse_action(f"{kind.value}.share.{item}")
            assert shared is not None and shared.share == item and not shared.finish
    assert parse_note("safety_plan.signs") is None
    assert parse_action("delete_person") is None
    finish = parse_action("checkin.finish.shared")
    assert finish is not None and finish.finish and finish.share == "*"


def test_a_long_round_is_split_under_the_platform_limit(content: Content) -> None:
    sharers = [Sharer(1, "Sam"), Sharer(2, None)]
    answers = [
        Answer(member, item, f"{member}{item}" + "z" * 480, True)
        for member in (1, 2)
        for item in ITEMS[REPAIR]
    ]
    messages = shared_messages(content.texts, REPAIR, sharers, answers)
    rendered = [content.texts.render(key, values) for key, values in messages]
    assert len(messages) > 1 and all(len(text) <= 2000 for text in rendered)
    assert messages[0][0] == "ritual.repair.together"
    joined = "\n".join(rendered)
    assert all(f"{a.member_id}{a.item}" in joined for a in answers)
    assert "One of you" not in joined and "The other:" in joined
    short = shared_messages(content.texts, REPAIR, sharers, answers[:2])
    assert len(short) == 1


def test_the_desk_refuses_content_without_its_texts(content: Content) -> None:
    from core.content import ContentError
    from core.service.courier import Courier

    texts = {k: v for k, v in content.texts.by_key.items() if k != "ritual.waiting"}
    broken = replace(
        content, locales={content.default_locale: replace(content.texts, by_key=texts)}
    )
    with pytest.raises(ContentError, match=r"ritual\.waiting"):
        RitualDesk(broken, Courier(broken.texts), TEST_CIPHER, default_timezone="UTC")
