"""Pairing, the couple's group, unpairing and the code word, through ``CoachService``.

Each test runs on SQLite and (with ``TEST_POSTGRES_URL``) PostgreSQL, with a fake clock.
Tests assert on text keys and stored state; the privacy canary test checks that nothing a
person typed privately reaches their partner or a group.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, select, update

from core.codewords import MAX_CHARS, WordProblem, check_codeword, common_words, normalise
from core.content import Content
from core.couples import Couple
from core.schedule.kinds import ItemKind
from core.service import CoachService
from core.service import pairing as p
from core.storage import Database, UserRepository
from core.storage.breaks import BreakRepository
from core.storage.couples import CoupleRepository
from core.storage.deliveries import TimerRepository
from core.storage.subscriptions import SubscriptionRepository
from core.storage.tables import deliveries, pair_invites, subscriptions, users
from core.types import ChatRef, EventKind, IncomingEvent, Platform, Reply, UserRef
from tests.fakes import TEST_CIPHER, FakeClock, group_chat, person, private_chat, said
from tests.test_coach_service import onboard

BOT = "MendTestBot"
CODE = re.compile(r"/pair (?:code:)?([A-Z0-9]{8})")


@pytest.fixture
def service(content: Content, database: Database, clock: FakeClock) -> CoachService:
    return CoachService(content, database, clock, cipher=TEST_CIPHER, default_timezone="UTC")


@dataclass
class People:
    alex: UserRef
    robin: UserRef
    carol: UserRef
    dave: UserRef


@pytest.fixture
def people() -> People:
    return People(
        person("101", "Alex"), person("202", "Robin"), person("303", "Carol"), person("404", "Dave")
    )


# --- helpers ---------------------------------------------------------------------------------


def typed(user: UserRef, text: str, chat: ChatRef | None = None, **fields: Any) -> IncomingEvent:
    """What ``user`` typed, as an adapter would pass it (Telegram knows the bot's name)."""
    event = said(user, text, chat)
    if user.platform is Platform.TELEGRAM:
        event = replace(event, bot_username=BOT)
    return replace(event, **fields)


def press(user: UserRef, payload: str, chat: ChatRef | None = None, **fields: Any) -> IncomingEvent:
    return IncomingEvent(
        kind=EventKind.BUTTON,
        chat=chat or private_chat(user),
        user=user,
        at=datetime(2026, 3, 1, tzinfo=UTC),
        payload=payload,
        **fields,
    )


def keys_of(replies: list[Reply]) -> list[str]:
    return [r.key for r in replies]


def payload(replies: list[Reply], label_key_text: str) -> str:
    """The payload of the button whose label is ``label_key_text`` among ``replies``."""
    for reply in replies:
        for button in reply.buttons:
            if button.label == label_key_text:
                return button.payload
    raise AssertionError(f"no button {label_key_text!r} in {keys_of(replies)}")


def label(content: Content, key: str) -> str:
    return content.texts.render(key)


async def set_up(database: Database, clock: FakeClock, *users: UserRef, **fields: Any) -> None:
    """Store ``users`` as people who finished set-up (as onboarding would leave them)."""

    def work(connection: Connection) -> None:
        repo = UserRepository(connection)
        for user in users:
            profile = repo.get_or_create(user, clock.now())
            done = replace(
                profile,
                is_adult=True,
                consented=True,
                timezone="Europe/Berlin",
                daily_time=time(8, 0),
                onboarded_at=clock.now(),
                **fields,
            )
            repo.save(done, clock.now())

    await database.run(work)


async def make_code(service: CoachService, user: UserRef) -> str:
    [reply] = await service.handle(typed(user, "/pair"))
    assert reply.key in (p.CODE, p.CODE_LINK)
    found = CODE.search(reply.text)
    assert found is not None
    return found.group(1)


async def pair(service: CoachService, content: Content, inviter: UserRef, partner: UserRef) -> str:
    """``inviter`` makes a code, ``partner`` accepts it; returns the code."""
    code = await make_code(service, inviter)
    offer = await service.handle(typed(partner, f"/pair {code}"))
    assert keys_of(offer) == [p.CONSENT]
    accepted = await service.handle(press(partner, payload(offer, label(content, p.BUTTON_ACCEPT))))
    assert p.PAIRED in keys_of(accepted)
    return code


async def couple_of(database: Database, user: UserRef) -> Couple | None:
    return await database.run(lambda c: CoupleRepository(c).couple_of(user))


async def linked(
    service: CoachService, content: Content, asker: UserRef, confirmer: UserRef, chat: ChatRef
) -> list[Reply]:
    asked = await service.handle(typed(asker, "/link", chat))
    assert keys_of(asked) == [p.LINK_ASKED]
    button = payload(asked, label(content, p.BUTTON_LINK))
    return await service.handle(press(confirmer, button, chat))


async def notices(database: Database) -> list[dict[str, Any]]:
    """Every queued NOTICE delivery as (platform, user row, chat, payload)."""

    def work(connection: Connection) -> list[dict[str, Any]]:
        rows = connection.execute(
            select(
                deliveries.c.platform,
                deliveries.c.chat_id,
                deliveries.c.payload,
                users.c.platform_user_id,
            )
            .select_from(deliveries.outerjoin(users, users.c.id == deliveries.c.user_id))
            .where(deliveries.c.kind == ItemKind.NOTICE.value)
            .order_by(deliveries.c.id)
        ).all()
        return [
            {
                "platform": row.platform,
                "user": row.platform_user_id,
                "chat": row.chat_id,
                "payload": json.loads(row.payload),
            }
            for row in rows
        ]

    return await database.run(work)


# --- making a code ---------------------------------------------------------------------------


async def test_pair_gives_a_single_use_code_with_a_telegram_deep_link(
    service: CoachService, database: Database, clock: FakeClock, people: People
) -> None:
    await set_up(database, clock, people.alex)
    [reply] = await service.handle(typed(people.alex, "/pair"))
    assert reply.key == p.CODE_LINK
    code = CODE.search(reply.text)
    assert code is not None
    assert f"https://t.me/{BOT}?start=pair_{code.group(1)}" in reply.text
    assert set(code.group(1)) <= set(p.CODE_ALPHABET)
    invite = await database.run(lambda c: CoupleRepository(c).invite(code.group(1)))
    assert invite is not None and invite.inviter == people.alex
    assert invite.expires_at == clock.now() + timedelta(hours=48)


async def test_a_new_code_replaces_the_older_unused_one(
    service: CoachService, database: Database, clock: FakeClock, people: People
) -> None:
    await set_up(database, clock, people.alex)
    first = await make_code(service, people.alex)
    second = await make_code(service, people.alex)
    assert first != second
    stored = await database.run(lambda c: c.execute(select(pair_invites.c.code)).scalars().all())
    assert stored == [second]


@pytest.mark.parametrize(
    ("platform", "bot_username", "key", "command"),
    [
        (Platform.TELEGRAM, None, p.CODE, "/pair "),
        (Platform.DISCORD, None, p.CODE, "/pair code:"),
        (Platform.CONSOLE, None, p.CODE, "/pair "),
    ],
)
async def test_without_a_deep_link_the_code_says_how_to_type_it(
    service: CoachService,
    database: Database,
    clock: FakeClock,
    platform: Platform,
    bot_username: str | None,
    key: str,
    command: str,
) -> None:
    user = person("55", "Sam", platform)
    await set_up(database, clock, user)
    [reply] = await service.handle(replace(said(user, "/pair"), bot_username=bot_username))
    assert reply.key == key
    assert "https://" not in reply.text
    assert re.search(re.escape(command) + r"[A-Z0-9]{8}", reply.text)


async def test_pair_before_set_up_points_to_start(service: CoachService, people: People) -> None:
    assert keys_of(await service.handle(typed(people.alex, "/pair"))) == [p.NEEDS_START]


async def test_pair_is_private_only(
    service: CoachService, database: Database, clock: FakeClock, people: People
) -> None:
    await set_up(database, clock, people.alex)
    replies = await service.handle(typed(people.alex, "/pair", group_chat()))
    assert keys_of(replies) == ["common.private_only"]


async def test_pair_in_safety_mode_is_on_hold(
    service: CoachService, database: Database, clock: FakeClock, people: People
) -> None:
    await set_up(database, clock, people.alex, safety_mode=True, safety_since=clock.now())
    assert keys_of(await service.handle(typed(people.alex, "/pair"))) == [p.SAFETY_HOLD]


# --- accepting -------------------------------------------------------------------------------


async def test_pairing_happy_path_tells_both_and_stores_names(
    service: CoachService, content: Content, database: Database, clock: FakeClock, people: People
) -> None:
    alex, robin = people.alex, people.robin
    await set_up(database, clock, alex, robin)
    code = await make_code(service, alex)

    offer = await service.handle(typed(robin, f"/pair {code.lower()}"))
    assert keys_of(offer) == [p.CONSENT]
    assert [b.label for b in offer[0].buttons] == [
        label(content, p.BUTTON_ACCEPT),
        label(content, p.BUTTON_DECLINE),
    ]
    assert all(len(b.payload.encode()) <= 64 for b in offer[0].buttons)
    assert await couple_of(database, robin) is None  # seeing the terms changes nothing

    replies = await service.handle(press(robin, payload(offer, label(content, p.BUTTON_ACCEPT))))
    assert [(r.key, r.private_to) for r in replies] == [
        (p.PAIRED, None),
        (p.PAIRED_INVITER, alex),
    ]
    assert replies[1].text.startswith("Robin used your code")  # the inviter knows who
    assert "$" not in replies[1].text
    couple = await couple_of(database, alex)
    assert couple is not None
    assert {q.user for q in couple.partners} == {alex, robin}
    assert couple.by_member_id(couple.partners[1].member_id) is not None
    names = {q.user.user_id: q.name for q in couple.partners}
    assert names == {alex.user_id: None, robin.user_id: "Robin"}

    assert keys_of(await service.handle(typed(alex, "/pair"))) == [p.ALREADY_PAIRED]
    # Using /pair refreshed the name kept for neutral notices.
    couple = await couple_of(database, alex)
    assert couple is not None and {q.name for q in couple.partners} == {"Alex", "Robin"}


async def test_the_deep_link_reaches_the_consent_screen(
    service: CoachService, content: Content, database: Database, clock: FakeClock, people: People
) -> None:
    await set_up(database, clock, people.alex, people.robin)
    code = await make_code(service, people.alex)
    offer = await service.handle(typed(people.robin, f"/start pair_{code}"))
    assert keys_of(offer) == [p.CONSENT]
    await service.handle(press(people.robin, payload(offer, label(content, p.BUTTON_ACCEPT))))
    assert await couple_of(database, people.alex) is not None


async def test_across_two_platforms_the_inviter_hears_through_the_queue(
    service: CoachService, content: Content, database: Database, clock: FakeClock
) -> None:
    alex = person("101", "Alex", Platform.TELEGRAM)
    robin = person("9001", "Robin", Platform.DISCORD)
    await set_up(database, clock, alex, robin)
    code = await make_code(service, alex)
    offer = await service.handle(said(robin, f"/pair {code}"))
    replies = await service.handle(press(robin, payload(offer, label(content, p.BUTTON_ACCEPT))))
    assert keys_of(replies) == [p.PAIRED]
    assert [r.private_to for r in replies] == [None]
    assert await notices(database) == [
        {
            "platform": "telegram",
            "user": "101",
            "chat": None,
            "payload": {"say": p.PAIRED_INVITER, "partner": "Robin"},
        }
    ]


async def test_an_inviter_hears_neutrally_when_the_partner_has_no_name(
    service: CoachService, content: Content, database: Database, clock: FakeClock, people: People
) -> None:
    nameless = person("505", None)
    await set_up(database, clock, people.alex, nameless)
    code = await make_code(service, people.alex)
    offer = await service.handle(typed(nameless, f"/pair {code}"))
    assert "$" not in offer[0].text
    replies = await service.handle(press(nameless, payload(offer, label(content, p.BUTTON_ACCEPT))))
    assert [(r.key, r.private_to) for r in replies] == [
        (p.PAIRED, None),
        (p.PAIRED_INVITER_UNNAMED, people.alex),
    ]
    assert "$" not in replies[1].text and "/unpair" in replies[1].text


async def test_declining_changes_nothing_and_the_code_still_works(
    service: CoachService, content: Content, database: Database, clock: FakeClock, people: People
) -> None:
    await set_up(database, clock, people.alex, people.robin)
    code = await make_code(service, people.alex)
    offer = await service.handle(typed(people.robin, f"/pair {code}"))
    no = payload(offer, label(content, p.BUTTON_DECLINE))
    assert keys_of(await service.handle(press(people.robin, no))) == [p.DECLINED]
    assert await couple_of(database, people.robin) is None
    accepted = await service.handle(
        press(people.robin, payload(offer, label(content, p.BUTTON_ACCEPT)))
    )
    assert keys_of(accepted)[0] == p.PAIRED


async def test_an_expired_code_asks_for_a_new_one(
    service: CoachService, content: Content, database: Database, clock: FakeClock, people: People
) -> None:
    await set_up(database, clock, people.alex, people.robin)
    code = await make_code(service, people.alex)
    clock.advance(hours=48, seconds=-1)
    offer = await service.handle(typed(people.robin, f"/pair {code}"))
    assert keys_of(offer) == [p.CONSENT]
    clock.advance(seconds=2)  # 48 hours and one second after the code was made
    assert keys_of(await service.handle(typed(people.robin, f"/pair {code}"))) == [p.CODE_EXPIRED]
    late = await service.handle(
        press(people.robin, payload(offer, label(content, p.BUTTON_ACCEPT)))
    )
    assert keys_of(late) == [p.CODE_EXPIRED]
    assert await couple_of(database, people.robin) is None


async def test_a_used_code_cannot_pair_a_third_person(
    service: CoachService, content: Content, database: Database, clock: FakeClock, people: People
) -> None:
    alex, robin, carol = people.alex, people.robin, people.carol
    await set_up(database, clock, alex, robin, carol)
    code = await make_code(service, alex)
    # Both saw the terms; the first to accept wins.
    robin_offer = await service.handle(typed(robin, f"/pair {code}"))
    carol_offer = await service.handle(typed(carol, f"/pair {code}"))
    await service.handle(press(robin, payload(robin_offer, label(content, p.BUTTON_ACCEPT))))
    late = await service.handle(press(carol, payload(carol_offer, label(content, p.BUTTON_ACCEPT))))
    assert keys_of(late) == [p.CODE_USED]
    assert keys_of(await service.handle(typed(carol, f"/pair {code}"))) == [p.CODE_USED]
    assert await couple_of(database, carol) is None
    couple = await couple_of(database, alex)
    assert couple is not None and {q.user for q in couple.partners} == {alex, robin}


async def test_use_invite_lets_only_one_acceptance_win(
    database: Database, clock: FakeClock, people: People
) -> None:
    await set_up(database, clock, people.alex)

    def work(connection: Connection) -> list[bool]:
        repo = CoupleRepository(connection)
        repo.create_invite(people.alex, "ABCDEFGH", clock.now(), clock.now() + timedelta(hours=1))
        return [repo.use_invite("ABCDEFGH", clock.now()), repo.use_invite("ABCDEFGH", clock.now())]

    assert await database.run(work) == [True, False]


async def test_own_code_and_unknown_codes_are_refused(
    service: CoachService, database: Database, clock: FakeClock, people: People
) -> None:
    await set_up(database, clock, people.alex)
    code = await make_code(service, people.alex)
    assert keys_of(await service.handle(typed(people.alex, f"/pair {code}"))) == [p.CODE_OWN]
    for wrong in ("ZZZZZZZZ", "short", "0OIL1OIL", "/etc/passwd"):
        replies = await service.handle(typed(people.alex, f"/pair {wrong}"))
        assert keys_of(replies) == [p.CODE_UNKNOWN], wrong


async def test_nobody_has_two_partners(
    service: CoachService, content: Content, database: Database, clock: FakeClock, people: People
) -> None:
    alex, robin, carol = people.alex, people.robin, people.carol
    await set_up(database, clock, alex, robin, carol)
    carol_code = await make_code(service, carol)
    await pair(service, content, alex, robin)
    # A paired person cannot accept someone else's code.
    replies = await service.handle(typed(robin, f"/pair {carol_code}"))
    assert keys_of(replies) == [p.ALREADY_PAIRED]
    # Carol's code is untouched and still hers to give to someone else.
    unused = await database.run(
        lambda c: (
            c.execute(select(pair_invites.c.code).where(pair_invites.c.used_at.is_(None)))
            .scalars()
            .all()
        )
    )
    assert unused == [carol_code]


async def test_a_code_from_someone_who_paired_meanwhile_is_refused(
    service: CoachService, content: Content, database: Database, clock: FakeClock, people: People
) -> None:
    alex, robin, carol = people.alex, people.robin, people.carol
    await set_up(database, clock, alex, robin, carol)
    alex_code = await make_code(service, alex)
    carol_offer = await service.handle(typed(carol, f"/pair {alex_code}"))
    robin_code = await make_code(service, robin)
    offer = await service.handle(typed(alex, f"/pair {robin_code}"))
    await service.handle(press(alex, payload(offer, label(content, p.BUTTON_ACCEPT))))
    late = await service.handle(press(carol, payload(carol_offer, label(content, p.BUTTON_ACCEPT))))
    assert keys_of(late) == [p.CODE_UNKNOWN]  # Alex's unused code went when Alex paired
    assert await couple_of(database, carol) is None


async def test_an_inviter_no_longer_set_up_cannot_be_paired(
    service: CoachService, content: Content, database: Database, clock: FakeClock, people: People
) -> None:
    await set_up(database, clock, people.alex, people.robin)
    code = await make_code(service, people.alex)
    await database.run(
        lambda c: c.execute(
            update(users).where(users.c.platform_user_id == "101").values(onboarded_at=None)
        )
    )
    replies = await service.handle(typed(people.robin, f"/pair {code}"))
    assert keys_of(replies) == [p.INVITER_NOT_READY]


async def test_someone_not_set_up_is_set_up_first_then_pairs(
    service: CoachService, content: Content, database: Database, clock: FakeClock, people: People
) -> None:
    await set_up(database, clock, people.alex)
    code = await make_code(service, people.alex)
    robin = people.robin
    replies = await service.handle(typed(robin, f"/start pair_{code}"))
    assert keys_of(replies) == [p.SET_UP_FIRST, "onboarding.intro"]
    assert f"/pair {code}" in replies[0].text
    # Asking again mid-set-up shows where they are, without starting over.
    again = await service.handle(typed(robin, f"/pair {code}"))
    assert keys_of(again) == [p.SET_UP_FIRST, "onboarding.intro"]
    await onboard(service, robin)
    offer = await service.handle(typed(robin, f"/pair {code}"))
    assert keys_of(offer) == [p.CONSENT]


# --- unpairing and deletion ------------------------------------------------------------------


async def start_break(database: Database, clock: FakeClock, couple: Couple) -> list[str]:
    """A running break with its shared and per-partner timers, as the break desk keeps them."""

    def work(connection: Connection) -> list[str]:
        caller = couple.partners[0]
        brk = BreakRepository(connection).start(
            couple.id, caller.member_id, clock.now(), clock.now() + timedelta(minutes=20)
        )
        timers = TimerRepository(connection)
        keys = [brk.timer_key] + [f"{brk.timer_key}:{q.member_id}" for q in couple.partners]
        for key in keys:
            timers.schedule(
                key,
                brk.ends_at,
                {"break": str(brk.id)},
                kind=ItemKind.BREAK_END,
                user=caller.user,
            )
        return keys

    return await database.run(work)


async def pending(database: Database, keys: list[str]) -> list[datetime | None]:
    return await database.run(lambda c: [TimerRepository(c).pending(k) for k in keys])


async def test_unpair_asks_first_then_tells_the_partner_neutrally_and_stops_timers(
    service: CoachService, content: Content, database: Database, clock: FakeClock, people: People
) -> None:
    alex, robin = people.alex, people.robin
    await set_up(database, clock, alex, robin)
    await pair(service, content, alex, robin)
    couple = await couple_of(database, alex)
    assert couple is not None
    timer_keys = await start_break(database, clock, couple)
    assert None not in await pending(database, timer_keys)

    ask = await service.handle(typed(robin, "/unpair"))
    assert keys_of(ask) == [p.UNPAIR_ASK]
    kept = await service.handle(press(robin, payload(ask, label(content, p.BUTTON_UNPAIR_NO))))
    assert keys_of(kept) == [p.UNPAIR_KEPT]
    assert await couple_of(database, alex) is not None

    done = await service.handle(press(robin, payload(ask, label(content, p.BUTTON_UNPAIR_YES))))
    assert [(r.key, r.private_to) for r in done] == [
        (p.UNPAIRED, None),
        (p.PARTNER_UNPAIRED, alex),
    ]
    notice = done[1]
    assert notice.text == content.texts.render(p.PARTNER_UNPAIRED)  # no name, no reason
    assert "Robin" not in notice.text
    assert await couple_of(database, alex) is None
    assert await pending(database, timer_keys) == [None, None, None]
    assert keys_of(await service.handle(typed(alex, "/unpair"))) == [p.NOT_PAIRED]
    # The old confirmation cannot end anything now.
    stale = await service.handle(press(robin, payload(ask, label(content, p.BUTTON_UNPAIR_YES))))
    assert keys_of(stale) == [p.NOT_PAIRED]


async def test_deleting_a_paired_person_ends_the_couple_and_tells_the_partner(
    service: CoachService, content: Content, database: Database, clock: FakeClock, people: People
) -> None:
    alex, robin = people.alex, people.robin
    await set_up(database, clock, alex, robin)
    await pair(service, content, alex, robin)
    couple = await couple_of(database, alex)
    assert couple is not None
    timer_keys = await start_break(database, clock, couple)
    ask = await service.handle(typed(alex, "/delete"))
    yes = next(b.payload for b in ask[-1].buttons if b.payload.endswith(":yes"))
    replies = await service.handle(press(alex, yes))
    assert [(r.key, r.private_to) for r in replies] == [
        ("delete.done", None),
        (p.PARTNER_UNPAIRED, robin),
    ]
    assert await couple_of(database, robin) is None
    assert await pending(database, timer_keys) == [None, None, None]
    # The same neutral notice as after /unpair: nothing says why.
    assert replies[1].text == content.texts.render(p.PARTNER_UNPAIRED)


async def weekly_reminders(database: Database) -> list[tuple[str, str | None]]:
    """Every weekly check-in reminder as (holder's platform id, chat it goes to)."""

    def work(connection: Connection) -> list[tuple[str, str | None]]:
        rows = connection.execute(
            select(users.c.platform_user_id, subscriptions.c.chat_id)
            .select_from(subscriptions.join(users, users.c.id == subscriptions.c.user_id))
            .where(subscriptions.c.kind == ItemKind.WEEKLY.value)
        )
        return [(r.platform_user_id, r.chat_id) for r in rows]

    return await database.run(work)


async def test_unpairing_stops_the_weekly_reminder_to_the_old_group(
    service: CoachService, content: Content, database: Database, clock: FakeClock, people: People
) -> None:
    alex, robin = people.alex, people.robin
    await set_up(database, clock, alex, robin)
    await pair(service, content, alex, robin)
    await linked(service, content, alex, robin, group_chat("-500"))
    assert keys_of(await service.handle(typed(alex, "/checkin weekly sun 19:00"))) == [
        "ritual.weekly.set_group"
    ]
    assert await weekly_reminders(database) == [("101", "-500")]
    ask = await service.handle(typed(robin, "/unpair"))  # the other partner ends it
    await service.handle(press(robin, payload(ask, label(content, p.BUTTON_UNPAIR_YES))))
    assert await couple_of(database, alex) is None
    assert await weekly_reminders(database) == []


async def test_deleting_a_partner_stops_the_weekly_reminder_the_other_set(
    service: CoachService, content: Content, database: Database, clock: FakeClock, people: People
) -> None:
    alex, robin = people.alex, people.robin
    await set_up(database, clock, alex, robin)
    await pair(service, content, alex, robin)
    await linked(service, content, alex, robin, group_chat("-500"))
    await service.handle(typed(alex, "/checkin weekly mon 08:00"))
    assert await weekly_reminders(database) == [("101", "-500")]
    ask = await service.handle(typed(robin, "/delete"))
    yes = next(b.payload for b in ask[-1].buttons if b.payload.endswith(":yes"))
    assert keys_of(await service.handle(press(robin, yes))) == ["delete.done", p.PARTNER_UNPAIRED]
    assert await weekly_reminders(database) == []  # alex's, to the old group, went too


async def test_linking_a_group_moves_the_weekly_reminder_there(
    service: CoachService, content: Content, database: Database, clock: FakeClock, people: People
) -> None:
    alex, robin = people.alex, people.robin
    await set_up(database, clock, alex, robin)
    await pair(service, content, alex, robin)
    set_privately = await service.handle(typed(alex, "/checkin weekly sun 19:00"))
    assert keys_of(set_privately) == ["ritual.weekly.set_private"]
    assert await weekly_reminders(database) == [("101", None)]
    due = await database.run(lambda c: SubscriptionRepository(c).due_at(alex, ItemKind.WEEKLY))
    assert due is not None

    await linked(service, content, alex, robin, group_chat("-500"))
    assert await weekly_reminders(database) == [("101", "-500")]
    await linked(service, content, robin, alex, group_chat("-600"))
    assert await weekly_reminders(database) == [("101", "-600")]  # not left in the old one
    moved = await database.run(lambda c: SubscriptionRepository(c).due_at(alex, ItemKind.WEEKLY))
    assert moved == due  # only where it goes changed, not when


async def test_farewell_without_a_partner_says_nothing(
    service: CoachService, database: Database, clock: FakeClock, people: People
) -> None:
    await set_up(database, clock, people.alex)
    ask = await service.handle(typed(people.alex, "/delete"))
    yes = next(b.payload for b in ask[-1].buttons if b.payload.endswith(":yes"))
    assert keys_of(await service.handle(press(people.alex, yes))) == ["delete.done"]


# --- the couple's group ----------------------------------------------------------------------


async def test_link_needs_the_other_partner_and_ignores_anyone_else(
    service: CoachService, content: Content, database: Database, clock: FakeClock, people: People
) -> None:
    alex, robin, carol = people.alex, people.robin, people.carol
    await set_up(database, clock, alex, robin, carol)
    await pair(service, content, alex, robin)
    group = group_chat("-500")
    asked = await service.handle(typed(alex, "/link", group))
    assert keys_of(asked) == [p.LINK_ASKED]
    assert asked[0].private_to is None and asked[0].chat is None  # said in the group
    button = payload(asked, label(content, p.BUTTON_LINK))

    same = await service.handle(press(alex, button, group))
    assert [(r.key, r.toast) for r in same] == [(p.LINK_WAITING, True)]
    other = await service.handle(press(carol, button, group))
    assert [(r.key, r.toast) for r in other] == [(p.ONLY_COUPLE, True)]
    couple = await couple_of(database, alex)
    assert couple is not None and couple.group is None

    done = await service.handle(press(robin, button, group))
    assert [(r.key, r.toast, r.chat) for r in done] == [(p.LINKED, False, None)]
    couple = await couple_of(database, alex)
    assert couple is not None and couple.group == group and couple.pending_link is None

    assert [(r.key, r.toast) for r in await service.handle(typed(carol, "/link", group))] == [
        (p.ONLY_COUPLE, True)
    ]
    again = await service.handle(press(robin, button, group))
    assert [(r.key, r.toast) for r in again] == [(p.LINK_ALREADY, True)]


async def test_linking_a_new_group_moves_the_link(
    service: CoachService, content: Content, database: Database, clock: FakeClock, people: People
) -> None:
    await set_up(database, clock, people.alex, people.robin)
    await pair(service, content, people.alex, people.robin)
    first, second = group_chat("-500"), group_chat("-600")
    await linked(service, content, people.alex, people.robin, first)
    moved = await linked(service, content, people.robin, people.alex, second)
    assert [(r.key, r.chat) for r in moved] == [(p.LINKED, None), (p.LINK_MOVED, first)]
    couple = await couple_of(database, people.alex)
    assert couple is not None and couple.group == second
    group_couple = await database.run(lambda c: CoupleRepository(c).couple_for_group(first))
    assert group_couple is None


async def test_a_group_of_another_couple_is_refused_kindly(
    service: CoachService, content: Content, database: Database, clock: FakeClock, people: People
) -> None:
    await set_up(database, clock, people.alex, people.robin, people.carol, people.dave)
    await pair(service, content, people.alex, people.robin)
    await pair(service, content, people.carol, people.dave)
    group = group_chat("-500")
    await linked(service, content, people.alex, people.robin, group)
    assert keys_of(await service.handle(typed(people.carol, "/link", group))) == [p.LINK_TAKEN]
    couple = await couple_of(database, people.carol)
    assert couple is not None and couple.group is None and couple.pending_link is None


async def test_a_stale_link_button_does_not_link(
    service: CoachService, content: Content, database: Database, clock: FakeClock, people: People
) -> None:
    await set_up(database, clock, people.alex, people.robin)
    await pair(service, content, people.alex, people.robin)
    first, second = group_chat("-500"), group_chat("-600")
    asked = await service.handle(typed(people.alex, "/link", first))
    await service.handle(typed(people.alex, "/link", second))
    old = await service.handle(
        press(people.robin, payload(asked, label(content, p.BUTTON_LINK)), first)
    )
    assert [(r.key, r.toast) for r in old] == [(p.LINK_STALE, True)]
    couple = await couple_of(database, people.alex)
    assert couple is not None and couple.group is None


@pytest.mark.parametrize("missing", ["not started", "not set up", "not paired", "partner"])
async def test_link_explains_exactly_what_is_missing(
    service: CoachService,
    content: Content,
    database: Database,
    clock: FakeClock,
    people: People,
    missing: str,
) -> None:
    alex, robin = people.alex, people.robin
    group = group_chat("-500")
    expected = {
        "not started": p.LINK_NEED_START,
        "not set up": p.LINK_NEED_START,
        "not paired": p.LINK_NEED_PAIR,
        "partner": p.LINK_PARTNER_NOT_READY,
    }[missing]
    if missing == "not set up":
        await service.handle(typed(alex, "/start"))
    if missing in ("not paired", "partner"):
        await set_up(database, clock, alex, robin)
    if missing == "partner":
        await pair(service, content, alex, robin)
        await database.run(
            lambda c: c.execute(
                update(users).where(users.c.platform_user_id == "202").values(onboarded_at=None)
            )
        )
    replies = await service.handle(typed(alex, "/link", group))
    assert [(r.key, r.toast, r.private_to) for r in replies] == [(expected, False, None)]
    couple = await couple_of(database, alex)
    assert couple is None or couple.pending_link is None


async def test_partners_on_two_apps_cannot_link_a_group_only_one_is_in(
    service: CoachService, content: Content, database: Database, clock: FakeClock
) -> None:
    alex = person("101", "Alex", Platform.TELEGRAM)
    robin = person("9001", "Robin", Platform.DISCORD)
    await set_up(database, clock, alex, robin)
    await pair(service, content, alex, robin)
    replies = await service.handle(typed(alex, "/link", group_chat("-500")))
    assert keys_of(replies) == [p.LINK_OTHER_APP]


# --- the code word ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "problem"),
    [
        ("pineapple", None),
        ("Pineapple", None),
        ("blue heron", None),
        ("  BLUE   Heron ", None),
        ("Ananas", None),
        ("пингвин", None),
        ("नमस्ते", None),
        ("été", None),
        ("the", WordProblem.COMMON),
        ("and", WordProblem.COMMON),
        ("okay", WordProblem.COMMON),
        ("LOL", WordProblem.COMMON),
        ("hahaha", WordProblem.COMMON),
        ("honestly", WordProblem.COMMON),
        ("babe honey", WordProblem.COMMON),
        ("no", WordProblem.LENGTH),
        ("the end", WordProblem.COMMON),
        ("stop", WordProblem.COMMAND),
        ("pause", WordProblem.COMMAND),
        ("help me", WordProblem.COMMAND),
        ("off", WordProblem.COMMAND),
        ("ok", WordProblem.LENGTH),
        ("x" * (MAX_CHARS + 1), WordProblem.LENGTH),
        ("pine4pple", WordProblem.LETTERS),
        ("pine-apple", WordProblem.LETTERS),
        ("pine.apple", WordProblem.LETTERS),
        ("🍍🍍🍍", WordProblem.LETTERS),
        ("/pause", WordProblem.LETTERS),
        ("blue sky heron", WordProblem.WORDS),
        ("", WordProblem.WORDS),
    ],
)
def test_code_word_rules(content: Content, word: str, problem: WordProblem | None) -> None:
    checked = check_codeword(word, content.commands, common_words())
    assert checked.problem is problem
    if problem is None:
        assert checked.word == normalise(word)
        assert checked.ok


def test_the_common_word_list_is_long_and_normalised() -> None:
    words = common_words()
    assert len(words) >= 300
    assert all(normalise(w) == w and " " not in w for w in words)
    assert {"the", "and", "stop", "okay", "please", "sorry"} <= words
    chatter = "lol haha hahaha omg wtf cool seriously okay yeah nope sure fine whatever really"
    chatter += " literally honestly anyway babe baby love honey thanks wait enough"
    assert set(chatter.split()) <= words


async def test_refused_code_words_explain_why_and_store_nothing(
    service: CoachService, content: Content, database: Database, clock: FakeClock, people: People
) -> None:
    await set_up(database, clock, people.alex, people.robin)
    await pair(service, content, people.alex, people.robin)
    cases = {
        "the": p.CODEWORD_PROBLEMS[WordProblem.COMMON],
        "pause": p.CODEWORD_PROBLEMS[WordProblem.COMMAND],
        "ok": p.CODEWORD_PROBLEMS[WordProblem.LENGTH],
        "p1neapple": p.CODEWORD_PROBLEMS[WordProblem.LETTERS],
        "one two three": p.CODEWORD_PROBLEMS[WordProblem.WORDS],
    }
    for word, key in cases.items():
        replies = await service.handle(typed(people.alex, f"/codeword {word}"))
        assert keys_of(replies) == [key], word
        assert "pineapple" in replies[0].text  # an example of a good one
        assert not any("$" in r.text for r in replies), replies[0].text
        if "$text" in content.texts.by_key[key]:
            assert f'"{word}"' in replies[0].text  # the refused word itself is shown
    for word in ("lol", "Haha", "seriously", "babe", "wtf"):
        [reply] = await service.handle(typed(people.alex, f"/codeword {word}"))
        assert reply.key == p.CODEWORD_PROBLEMS[WordProblem.COMMON], word
        assert f'"{word.casefold()}"' in reply.text
    couple = await couple_of(database, people.alex)
    assert couple is not None and couple.codeword is None and couple.codeword_proposed is None


async def test_a_code_word_needs_the_other_partners_confirmation_in_private(
    service: CoachService, content: Content, database: Database, clock: FakeClock, people: People
) -> None:
    alex, robin, carol = people.alex, people.robin, people.carol
    await set_up(database, clock, alex, robin, carol)
    await pair(service, content, alex, robin)
    proposed = await service.handle(typed(alex, "/codeword Pineapple"))
    assert [(r.key, r.private_to) for r in proposed] == [
        (p.CODEWORD_PROPOSED, None),
        (p.CODEWORD_ASK, robin),
    ]
    assert '"pineapple"' in proposed[1].text
    confirm = payload(proposed, label(content, p.BUTTON_WORD_YES))
    couple = await couple_of(database, alex)
    assert couple is not None and couple.codeword is None
    assert couple.codeword_proposed == "pineapple"
    status = await service.handle(typed(robin, "/codeword"))
    assert keys_of(status) == [p.CODEWORD_PENDING]

    mine = await service.handle(press(alex, confirm))
    assert [(r.key, r.toast) for r in mine] == [(p.CODEWORD_WAITING, True)]
    stranger = await service.handle(press(carol, confirm))
    assert [(r.key, r.toast) for r in stranger] == [(p.ONLY_COUPLE, True)]
    couple = await couple_of(database, alex)
    assert couple is not None and couple.codeword is None

    done = await service.handle(press(robin, confirm))
    assert [(r.key, r.private_to) for r in done] == [
        (p.CODEWORD_SET_PRIVATE, None),
        (p.CODEWORD_SET_PRIVATE, alex),
    ]
    couple = await couple_of(database, alex)
    assert couple is not None and couple.codeword == "pineapple"
    assert couple.codeword_proposed is None
    assert keys_of(await service.handle(typed(alex, "/codeword"))) == [p.CODEWORD_CURRENT]
    assert keys_of(await service.handle(typed(alex, "/codeword pineapple"))) == [p.CODEWORD_SAME]

    off = await service.handle(typed(robin, "/codeword off"))
    assert [(r.key, r.private_to) for r in off] == [
        (p.CODEWORD_OFF, None),
        (p.CODEWORD_OFF, alex),
    ]
    couple = await couple_of(database, alex)
    assert couple is not None and couple.codeword is None
    assert keys_of(await service.handle(typed(robin, "/codeword off"))) == [p.CODEWORD_NONE]


@pytest.mark.parametrize(
    ("plain", "key"), [(True, p.CODEWORD_SET_PLAIN), (False, p.CODEWORD_SET_MENTION)]
)
async def test_a_code_word_confirmed_in_the_group_says_how_it_works_there(
    service: CoachService,
    content: Content,
    database: Database,
    clock: FakeClock,
    people: People,
    plain: bool,
    key: str,
) -> None:
    alex, robin, carol = people.alex, people.robin, people.carol
    await set_up(database, clock, alex, robin, carol)
    await pair(service, content, alex, robin)
    group = group_chat("-500")
    await linked(service, content, alex, robin, group)

    stranger = await service.handle(typed(carol, "/codeword mango", group))
    assert [(r.key, r.toast) for r in stranger] == [(p.ONLY_COUPLE, True)]
    proposed = await service.handle(typed(robin, "/codeword blue heron", group))
    assert [(r.key, r.chat, r.private_to) for r in proposed] == [(p.CODEWORD_ASK_GROUP, None, None)]
    confirm = payload(proposed, label(content, p.BUTTON_WORD_YES))
    denied = await service.handle(press(carol, confirm, group, sees_plain_text=plain))
    assert [(r.key, r.toast) for r in denied] == [(p.ONLY_COUPLE, True)]
    done = await service.handle(press(alex, confirm, group, sees_plain_text=plain))
    assert [(r.key, r.chat, r.private_to) for r in done] == [(key, None, None)]
    assert '"blue heron"' in done[0].text
    couple = await couple_of(database, alex)
    assert couple is not None and couple.codeword == "blue heron"
    assert await database.run(lambda c: CoupleRepository(c).codeword_for_group(group)) == (
        "blue heron"
    )


async def test_a_replaced_or_declined_proposal_cannot_be_confirmed(
    service: CoachService, content: Content, database: Database, clock: FakeClock, people: People
) -> None:
    alex, robin = people.alex, people.robin
    await set_up(database, clock, alex, robin)
    await pair(service, content, alex, robin)
    first = await service.handle(typed(alex, "/codeword pineapple"))
    second = await service.handle(typed(alex, "/codeword mango tree"))
    old = await service.handle(press(robin, payload(first, label(content, p.BUTTON_WORD_YES))))
    assert [(r.key, r.toast) for r in old] == [(p.CODEWORD_STALE, True)]
    declined = await service.handle(press(robin, payload(second, label(content, p.BUTTON_WORD_NO))))
    assert [(r.key, r.private_to) for r in declined] == [
        (p.CODEWORD_DECLINED, None),
        (p.CODEWORD_DECLINED, alex),
    ]
    late = await service.handle(press(robin, payload(second, label(content, p.BUTTON_WORD_YES))))
    assert [(r.key, r.toast) for r in late] == [(p.CODEWORD_STALE, True)]
    couple = await couple_of(database, alex)
    assert couple is not None and couple.codeword is None and couple.codeword_proposed is None


async def test_codeword_before_pairing_points_to_pair(
    service: CoachService, database: Database, clock: FakeClock, people: People
) -> None:
    await set_up(database, clock, people.alex)
    replies = await service.handle(typed(people.alex, "/codeword pineapple"))
    assert keys_of(replies) == [p.CODEWORD_NEED_PAIR]


async def test_pairing_buttons_change_nothing_mid_flow(
    service: CoachService, content: Content, database: Database, clock: FakeClock, people: People
) -> None:
    """A pairing command in the middle of /settings leaves the person's place as it was."""
    await set_up(database, clock, people.alex)
    settings = await service.handle(typed(people.alex, "/settings"))
    await service.handle(typed(people.alex, "/pair"))
    pointer = await service.handle(typed(people.alex, "/help"))
    assert settings and pointer[0].text.splitlines()[-1] == content.texts.render("help.in_flow")


# --- privacy ---------------------------------------------------------------------------------


def outward(replies: list[Reply], actor: UserRef) -> list[Reply]:
    """Replies that reach someone other than the actor, or a group."""
    return [
        r
        for r in replies
        if (r.private_to is not None and r.private_to != actor) or r.chat is not None
    ]


async def test_nothing_typed_privately_reaches_the_partner_or_a_group(
    service: CoachService, content: Content, database: Database, clock: FakeClock
) -> None:
    alex = person("101", "Alex", Platform.TELEGRAM)
    robin = person("202", "Robin", Platform.TELEGRAM)
    dana = person("9001", "Dana", Platform.DISCORD)
    canaries = ("CANARY-ALEX-7731", "CANARY-ROBIN-4410", "CANARY-DANA-0942")
    await set_up(database, clock, alex, robin, dana)
    for user, canary in zip((alex, robin, dana), canaries, strict=True):
        await service.handle(typed(user, f"I'm so angry about {canary} and I can't say it"))
    group = group_chat("-500")
    seen: list[Reply] = []

    async def act(user: UserRef, event: IncomingEvent) -> list[Reply]:
        replies = await service.handle(event)
        seen.extend(outward(replies, user))
        if not event.chat.is_private:
            seen.extend(r for r in replies if r.private_to is None)
        return replies

    code = await make_code(service, alex)
    offer = await act(robin, typed(robin, f"/pair {code}"))
    await act(robin, press(robin, payload(offer, label(content, p.BUTTON_ACCEPT))))
    asked = await act(alex, typed(alex, "/link", group))
    await act(robin, press(robin, payload(asked, label(content, p.BUTTON_LINK)), group))
    proposed = await act(robin, typed(robin, "/codeword pineapple"))
    await act(alex, press(alex, payload(proposed, label(content, p.BUTTON_WORD_YES))))
    await act(alex, typed(alex, "/codeword", group))
    ask = await act(alex, typed(alex, "/unpair"))
    await act(alex, press(alex, payload(ask, label(content, p.BUTTON_UNPAIR_YES))))
    # A partner on another app hears through the queue.
    dana_code = await make_code(service, dana)
    offer = await act(robin, typed(robin, f"/pair {dana_code}"))
    await act(robin, press(robin, payload(offer, label(content, p.BUTTON_ACCEPT))))

    assert len(seen) >= 6
    queued = json.dumps(await notices(database))
    assert p.PAIRED_INVITER in queued
    for canary in canaries:
        assert all(canary not in r.text for r in seen), canary
        assert canary not in queued
