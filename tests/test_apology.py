"""``/apology``: the four-step builder end to end, its encrypted scratch notes, the gentle
review of defending or blaming words, starting over, safety, and deletion.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Connection, select

from core import keys
from core.content import Content
from core.flows.engine import FlowState
from core.privacy import delete_person, export_person
from core.service import CoachService
from core.service.apology_desk import DRAFT, MISSING, NEEDS_START, REMINDER, REVIEW, tidy
from core.storage import Database
from core.storage.program_notes import ProgramNotes, forget_stale
from core.storage.tables import program_notes
from core.types import Reply, UserRef
from tests.fakes import TEST_CIPHER, FakeClock, group_chat, person, said
from tests.test_nudges import onboard, state_of

CALM = {
    "what": "missing your sister's birthday dinner without telling you",
    "hurt": "left you sitting there feeling like you weren't a priority",
    "part": "I chose to stay late at work and didn't even send a message",
    "change": "put our plans in my calendar and call you if anything clashes",
}
DISCLOSURE = "he hits me when he is angry and i am scared of him"


def keys_of(replies: list[Reply]) -> list[str]:
    return [r.key for r in replies]


def flow_keys(replies: list[Reply]) -> list[str]:
    """The keys said, without the safety screen's gentle "are you okay?" (its own tests
    cover when that appears; a defensive answer may well sound tense to it)."""
    return [r.key for r in replies if r.key != keys.SAFETY_MAYBE]


async def notes_of(database: Database, user: UserRef) -> dict[str, str]:
    return await database.run(lambda c: ProgramNotes(c, TEST_CIPHER).get_all(user, "apology."))


async def walk(service: CoachService, user: UserRef, answers: dict[str, str]) -> list[Reply]:
    """Start ``/apology`` and give the four answers; the replies to the last one."""
    replies = await service.handle(said(user, "/apology"))
    assert keys_of(replies) == ["apology.intro", "apology.ask_what"]
    expected = ["apology.ask_hurt", "apology.ask_part", "apology.ask_change"]
    for name, asked in zip(("what", "hurt", "part"), expected, strict=True):
        replies = await service.handle(said(user, answers[name]))
        assert flow_keys(replies) == [asked]
    return await service.handle(said(user, answers["change"]))


async def test_a_full_walk_builds_the_draft_in_order_and_keeps_nothing(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    await onboard(service, sam)
    replies = await walk(service, sam, CALM)
    assert keys_of(replies) == ["apology.done", DRAFT, REMINDER]
    draft = replies[1].text
    positions = [draft.find(CALM[name]) for name in ("what", "hurt", "part", "change")]
    assert -1 not in positions, draft
    assert positions == sorted(positions)
    assert draft.startswith("I'm sorry for missing your sister's birthday dinner")
    assert await notes_of(sqlite_db, sam) == {}
    assert await state_of(sqlite_db, sam) is None


async def test_answers_wait_between_steps_only_as_ciphertext(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    await onboard(service, sam)
    await service.handle(said(sam, "/apology"))
    await service.handle(said(sam, CALM["what"]))
    await service.handle(said(sam, CALM["hurt"]))
    assert await notes_of(sqlite_db, sam) == {
        "apology.what": CALM["what"],
        "apology.hurt": CALM["hurt"],
    }

    def raw(connection: Connection) -> list[str]:
        return list(connection.execute(select(program_notes.c.text)).scalars())

    stored = await sqlite_db.run(raw)
    assert len(stored) == 2
    assert all(CALM["what"] not in s and CALM["hurt"] not in s for s in stored)


async def test_a_defensive_answer_gets_a_gentle_note_naming_the_phrase(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    await onboard(service, sam)
    defensive = {
        **CALM,
        "hurt": "upset you, but honestly you overreacted a bit",
        "part": "I only did it because you never tell me the plans in time",
    }
    replies = await walk(service, sam, defensive)
    assert flow_keys(replies) == ["apology.done", DRAFT, REVIEW, REMINDER]
    note = replies[2].text
    assert "\u201cyou never tell me" in note  # a /draft rule
    assert "\u201cbut honestly you overreacted" in note  # "no but"
    assert "\u201cyou overreacted a bit" in note  # minimising
    assert "\u201cI only did it because" in note  # an excuse
    assert await notes_of(sqlite_db, sam) == {}


def test_the_review_leaves_a_plain_what_happened_alone(content: Content) -> None:
    """Plain facts may hold a "but"; only the hurt, the part and the change are held to it."""
    from core.program.draft import review_apology

    answers = {**CALM, "what": "saying I'd come but then not turning up"}
    assert review_apology(answers, content.program.draft) == ()
    answers = {**CALM, "part": "I was late, but the traffic was awful"}
    assert [f.rule for f in review_apology(answers, content.program.draft)] == ["but"]


async def test_starting_again_clears_old_answers(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    await onboard(service, sam)
    await service.handle(said(sam, "/apology"))
    await service.handle(said(sam, "an old answer about the car"))
    await service.handle(said(sam, "/cancel"))
    assert list(await notes_of(sqlite_db, sam)) == ["apology.what"]  # until they come back
    replies = await service.handle(said(sam, "/apology"))
    assert keys_of(replies) == ["apology.intro", "apology.ask_what"]
    assert await notes_of(sqlite_db, sam) == {}
    replies = await walk(service, sam, CALM)
    assert "the car" not in replies[1].text


async def test_a_disclosure_mid_flow_interrupts_and_is_not_kept(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    await onboard(service, sam)
    await service.handle(said(sam, "/apology"))
    await service.handle(said(sam, CALM["what"]))
    replies = await service.handle(said(sam, DISCLOSURE))
    assert keys.SAFETY_ACK_PARTNER_HARM in keys_of(replies)
    assert not any(r.key.startswith("apology.ask") for r in replies)
    assert list(await notes_of(sqlite_db, sam)) == ["apology.what"]
    assert await state_of(sqlite_db, sam) == FlowState("apology", "hurt")


async def test_safety_mode_opens_with_a_reminder_that_no_apology_is_owed(
    service: CoachService, content: Content
) -> None:
    sam = person()
    await onboard(service, sam)
    await service.handle(said(sam, DISCLOSURE))
    replies = await service.handle(said(sam, "/apology"))
    assert keys_of(replies) == ["apology.safety_note", "apology.intro", "apology.ask_what"]


async def test_apology_needs_set_up_and_a_private_chat(service: CoachService) -> None:
    replies = await service.handle(said(person("2002", "Ana"), "/apology"))
    assert keys_of(replies) == [NEEDS_START]
    sam = person()
    await onboard(service, sam)
    replies = await service.handle(said(sam, "/apology", group_chat()))
    assert keys_of(replies) == [keys.PRIVATE_ONLY]


async def test_an_over_long_answer_is_asked_again_not_cut(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    await onboard(service, sam)
    await service.handle(said(sam, "/apology"))
    replies = await service.handle(said(sam, "word " * 120))
    assert keys_of(replies) == ["apology.invalid"]
    assert await notes_of(sqlite_db, sam) == {}
    assert await state_of(sqlite_db, sam) == FlowState("apology", "what")


async def test_answers_lost_midway_get_a_kind_restart(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    await onboard(service, sam)
    await service.handle(said(sam, "/apology"))
    for name in ("what", "hurt", "part"):
        await service.handle(said(sam, CALM[name]))
    await sqlite_db.run(lambda c: ProgramNotes(c, TEST_CIPHER).clear(sam, "apology.hurt"))
    replies = await service.handle(said(sam, CALM["change"]))
    assert keys_of(replies) == ["apology.done", MISSING]
    assert await notes_of(sqlite_db, sam) == {}


async def test_export_and_delete_reach_answers_in_progress(
    service: CoachService, sqlite_db: Database, clock: FakeClock
) -> None:
    sam = person()
    await onboard(service, sam)
    await service.handle(said(sam, "/apology"))
    await service.handle(said(sam, CALM["what"]))
    exported = await sqlite_db.run(lambda c: export_person(c, sam, TEST_CIPHER, clock.now()))
    assert CALM["what"].encode() in exported
    await sqlite_db.run(lambda c: delete_person(c, sam))
    rows = await sqlite_db.run(lambda c: list(c.execute(select(program_notes.c.id)).scalars()))
    assert rows == []


async def test_notes_of_one_person_and_one_builder_stay_apart(
    content: Content, database: Database, clock: FakeClock
) -> None:
    """On SQLite and PostgreSQL: notes replace by name, and clear only one prefix."""
    service = CoachService(content, database, clock, cipher=TEST_CIPHER, default_timezone="UTC")
    sam, ana = person("1001", "Sam"), person("2002", "Ana")
    await onboard(service, sam)
    await onboard(service, ana)
    now: datetime = clock.now()

    def plant(connection: Connection) -> None:
        notes = ProgramNotes(connection, TEST_CIPHER)
        notes.save(sam, "apology.what", "sam's", now)
        notes.save(sam, "apology.what", "sam's again", now)  # replaces
        notes.save(sam, "journal.win", "a win", now)
        notes.save(ana, "apology.what", "ana's", now)

    await database.run(plant)
    assert await notes_of(database, sam) == {"apology.what": "sam's again"}
    assert await notes_of(database, ana) == {"apology.what": "ana's"}
    cleared = await database.run(lambda c: ProgramNotes(c, TEST_CIPHER).clear(sam, "apology."))
    assert cleared == 1
    journal = await database.run(lambda c: ProgramNotes(c, TEST_CIPHER).get_all(sam, "journal."))
    assert journal == {"journal.win": "a win"}
    assert await notes_of(database, ana) == {"apology.what": "ana's"}


@pytest.mark.parametrize(
    ("answer", "stem", "kept"),
    [
        ("forgetting the tickets.", "I'm sorry for", "forgetting the tickets"),
        ("I’m sorry for forgetting the tickets!", "I'm sorry for", "forgetting the tickets"),
        ("i'm SORRY FOR: the tickets", "I'm sorry for", "the tickets"),
        ("From now on I'll  check\nthe dates", "From now on I'll", "check the dates"),
        ("made you feel alone…", "I can see it", "made you feel alone"),
        ("I'm sorry for.", "I'm sorry for", "I'm sorry for."),
    ],
)
def test_tidy_drops_a_repeated_lead_in_and_the_final_stop(
    answer: str, stem: str, kept: str
) -> None:
    assert tidy(answer, stem) == kept


async def test_answers_left_half_way_can_be_forgotten_after_a_day(
    service: CoachService, sqlite_db: Database, clock: FakeClock
) -> None:
    sam, ana = person("1001", "Sam"), person("2002", "Ana")
    await onboard(service, sam)
    await onboard(service, ana)
    await service.handle(said(sam, "/apology"))
    await service.handle(said(sam, CALM["what"]))
    await service.handle(said(sam, "/cancel"))
    clock.advance(hours=20)
    await service.handle(said(ana, "/apology"))
    await service.handle(said(ana, CALM["what"]))
    cutoff = clock.now() - timedelta(days=1)
    assert await sqlite_db.run(lambda c: forget_stale(c, cutoff)) == 0
    clock.advance(hours=5)
    cutoff = clock.now() - timedelta(days=1)
    assert await sqlite_db.run(lambda c: forget_stale(c, cutoff)) == 1
    assert await notes_of(sqlite_db, sam) == {}
    assert list(await notes_of(sqlite_db, ana)) == ["apology.what"]
