"""People's data in their hands: /privacy, /export, /delete, retention, and canaries.

Canary strings are planted in everything a person types privately; they must never reach a
group, anyone else, a log line, or the database file in plain text.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Connection, Integer, MetaData, Table, select

from bots.app import build_core
from core import keys
from core.content import Content
from core.privacy import HOOKS, purge_expired
from core.service import CoachService
from core.service.safety import SafetyAction, encode_action
from core.settings import Settings
from core.storage import Database
from core.storage.rotation import encrypted_columns
from core.storage.tables import NO_PERSONAL_DATA, metadata, users
from core.types import ChatRef, IncomingEvent, Reply, UserRef
from tests.cli import run_mend
from tests.fakes import TEST_CIPHER, FakeClock, group_chat, person, pressed, said
from tests.test_coach_service import onboard, tap

CANARY = "zebracanary7731"
OTHER_CANARY = "owlcanary5508"
SAM_ID = "731955208"
ROBIN_ID = "946120337"


@pytest.fixture
def both(content: Content, database: Database, clock: FakeClock) -> CoachService:
    """A service on SQLite and, when configured, PostgreSQL."""
    return CoachService(content, database, clock, cipher=TEST_CIPHER, default_timezone="UTC")


async def make_plan(service: CoachService, user: UserRef, secret: str) -> list[Reply]:
    replies = await service.handle(pressed(user, encode_action(SafetyAction.PLAN)))
    assert replies[0].key == "safety.plan.intro"
    for part in ("signs", "coping", "people", "place"):
        replies = await service.handle(said(user, f"{part} {secret}"))
    return replies


def destination(event: IncomingEvent, reply: Reply) -> str:
    if reply.private_to is not None:
        return f"private:{reply.private_to.platform}:{reply.private_to.user_id}"
    chat: ChatRef = reply.chat or event.chat
    return f"{chat.kind}:{chat.platform}:{chat.chat_id}"


def private_of(user: UserRef) -> str:
    return f"private:{user.platform}:{user.user_id}"


def sent_text(reply: Reply) -> str:
    data = reply.attachment.data.decode("utf-8") if reply.attachment else ""
    return reply.text + "".join(b.label + b.payload for b in reply.buttons) + data


async def everything(service: CoachService, content: Content, sam: UserRef) -> list[Any]:
    """Sam does everything Mend offers, planting the canary in every free text."""
    group = group_chat()
    events: list[IncomingEvent] = []
    events += [said(sam, f"hello {CANARY}")]
    events += [said(sam, f"i want to kill myself {CANARY}")]
    events += [said(sam, f"he hits me and i am scared of him {CANARY}")]
    events += [said(sam, f"are you a bot {CANARY}?"), said(sam, f"is he a narcissist {CANARY}?")]
    events += [said(sam, f"i want to kill myself {CANARY}", group, addressed=False)]
    events += [said(sam, f"@mend {CANARY}", group)]
    for command in content.commands:
        if command != "delete":
            events += [said(sam, f"/{command} {CANARY}"), said(sam, f"/{command}", group)]
    events += [pressed(sam, encode_action(action)) for action in SafetyAction]
    log: list[Any] = []
    for event in events:
        log += [(event, r) for r in await service.handle(event)]
    replies = await make_plan(service, sam, CANARY)
    log += [(said(sam, "plan"), r) for r in replies]
    log += [(said(sam, "/safety"), r) for r in await service.handle(said(sam, "/safety"))]
    return log


@pytest.fixture
async def logged_service(
    content: Content,
    migrated_sqlite: Path,
    tmp_path: Path,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> AsyncIterator[CoachService]:
    """A service on a database opened with every log on, SQL statements and parameters too.

    Set before the database opens: its SQLite thread keeps one connection, and SQLAlchemy
    decides whether a connection logs its statements when it opens.
    """
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
    path = tmp_path / "logged.db"
    shutil.copyfile(migrated_sqlite, path)
    database = Database(f"sqlite+aiosqlite:///{path}")
    await database.migrate()
    yield CoachService(content, database, clock, cipher=TEST_CIPHER, default_timezone="UTC")
    await database.close()


async def test_a_private_canary_never_reaches_a_group_another_person_or_a_log(
    logged_service: CoachService, content: Content, caplog: pytest.LogCaptureFixture
) -> None:
    # SQL statements and their parameters are logged too (see ``logged_service``): what
    # reaches the database must already be ciphertext.
    service, sam = logged_service, person(SAM_ID)
    await onboard(service, sam)
    log = await everything(service, content, sam)
    elsewhere = [(e, r) for e, r in log if destination(e, r) != private_of(sam)]
    assert any(r.key == keys.SAFETY_GROUP_NOTICE for _, r in elsewhere), "reached a group"
    assert [r.key for _, r in elsewhere if CANARY in sent_text(r)] == []
    # Sam's own words do come back to Sam, privately: the test would see a leak.
    assert any(CANARY in sent_text(r) for _, r in log)
    logged = [r.getMessage() + str(r.args) for r in caplog.records]
    assert any("INSERT INTO safety_plan_items" in line for line in logged), (
        "the plan's statements were not logged, so the log check would prove nothing"
    )
    assert [line for line in logged if CANARY in line] == []


async def test_the_database_file_holds_no_plaintext_free_text(
    content: Content, tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "canary.db"
    database = Database(f"sqlite+aiosqlite:///{path}")
    await database.migrate()
    try:
        service = CoachService(content, database, clock, cipher=TEST_CIPHER, default_timezone="UTC")
        sam = person(SAM_ID)
        await onboard(service, sam)
        shown = await make_plan(service, sam, CANARY)
        assert any(CANARY in r.text for r in shown)  # it really was stored
    finally:
        await database.close()
    files = sorted(tmp_path.glob("canary.db*"))  # noqa: ASYNC240 - after the database closed
    raw = b"".join(p.read_bytes() for p in files)
    assert SAM_ID.encode() in raw  # the file is readable as bytes: the check is real
    assert CANARY.encode() not in raw


async def test_encrypted_columns_hold_only_ciphertext(
    both: CoachService, database: Database
) -> None:
    sam = person(SAM_ID)
    await onboard(both, sam)
    await make_plan(both, sam, CANARY)
    columns = encrypted_columns()
    assert columns, "the schema has no encrypted column"

    def read(connection: Connection) -> list[str]:
        return [
            value
            for column in columns
            for value in connection.execute(select(column)).scalars()
            if value is not None
        ]

    values = await database.run(read)
    assert len(values) == 4
    assert all(CANARY not in v for v in values)
    assert sorted(TEST_CIPHER.open(v).split()[0] for v in values) == [
        "coping",
        "people",
        "place",
        "signs",
    ]


async def test_privacy_says_what_is_kept_and_for_how_long(
    content: Content, sqlite_db: Database, clock: FakeClock
) -> None:
    service = CoachService(
        content, sqlite_db, clock, cipher=TEST_CIPHER, default_timezone="UTC", retention_days=90
    )
    replies = await service.handle(said(person(), "/privacy"))
    assert [r.key for r in replies] == [keys.PRIVACY_SUMMARY]
    assert "90 days" in replies[0].text
    assert "/export" in replies[0].text and "/delete" in replies[0].text


async def test_export_holds_everything_about_the_person_and_nothing_about_anyone_else(
    both: CoachService,
) -> None:
    sam, robin = person(SAM_ID, "Sam"), person(ROBIN_ID, "Robin")
    await onboard(both, sam, zone="London")
    await onboard(both, robin)
    await make_plan(both, sam, CANARY)
    await make_plan(both, robin, OTHER_CANARY)
    await both.handle(said(robin, "he hits me and i am scared of him"))
    await both.handle(said(robin, "/settings"))
    replies = await both.handle(said(sam, "/export"))
    assert [r.key for r in replies] == [keys.EXPORT_READY]
    attachment = replies[0].attachment
    assert attachment is not None and replies[0].private_to is None  # a private chat already
    assert attachment.filename.endswith(".json")
    raw = attachment.data.decode("utf-8")
    assert ROBIN_ID not in raw and OTHER_CANARY not in raw and "Robin" not in raw
    document = json.loads(raw)
    assert document["person"] == {"platform": "telegram", "user_id": SAM_ID}
    [profile] = document["profile"]
    assert profile["timezone"] == "Europe/London"
    assert profile["safety_mode"] is False
    assert sorted(item["item"] for item in document["safety_plan"]) == [
        "safety_plan.coping",
        "safety_plan.people",
        "safety_plan.place",
        "safety_plan.signs",
    ]
    assert all(CANARY in item["text"] for item in document["safety_plan"])
    assert set(document) >= {hooks.section for hooks in HOOKS}


async def test_export_works_only_in_private(service: CoachService) -> None:
    replies = await service.handle(said(person(), "/export", group_chat()))
    assert [r.key for r in replies] == [keys.PRIVATE_ONLY]
    assert replies[0].attachment is None


def rows_mentioning(connection: Connection, user_id: str, internal_id: int | None) -> list[str]:
    """Every row in every table that holds ``user_id`` or points at ``internal_id``."""
    found: list[str] = []
    for table in metadata.sorted_tables:
        for row in connection.execute(select(table)).mappings():
            for name, value in row.items():
                column = table.c[name]
                points_at_user = any(fk.column is users.c.id for fk in column.foreign_keys)
                if (isinstance(value, str) and user_id in value) or (
                    points_at_user and internal_id is not None and value == internal_id
                ):
                    found.append(f"{table.name}.{name}")
    return found


async def test_delete_asks_then_removes_every_row_about_the_person(
    both: CoachService, database: Database
) -> None:
    sam, robin = person(SAM_ID), person(ROBIN_ID)
    for who, secret in ((sam, CANARY), (robin, OTHER_CANARY)):
        await onboard(both, who)
        await make_plan(both, who, secret)
        await both.handle(said(who, "he hits me and i am scared of him"))
        await both.handle(said(who, "/start", group_chat()))
        await both.handle(said(who, "/settings"))

    def internal_id(connection: Connection) -> int:
        query = select(users.c.id).where(users.c.platform_user_id == SAM_ID)
        return int(connection.execute(query).scalar_one())

    sam_row = await database.run(internal_id)
    before = await database.run(lambda c: rows_mentioning(c, SAM_ID, sam_row))
    assert {"users.platform_user_id", "safety_plan_items.user_id", "conversation_states.key"} <= (
        set(before)
    )
    ask = await both.handle(said(sam, "/delete"))
    assert [r.key for r in ask] == ["delete.ask"]
    assert await database.run(lambda c: rows_mentioning(c, SAM_ID, sam_row)) == before
    done = await tap(both, sam, ask, "yes")
    assert [r.key for r in done] == ["delete.done"]
    assert await database.run(lambda c: rows_mentioning(c, SAM_ID, sam_row)) == []
    robin_rows = await database.run(lambda c: rows_mentioning(c, ROBIN_ID, None))
    assert "users.platform_user_id" in robin_rows
    robin_export = await both.handle(said(robin, "/export"))
    assert robin_export[0].attachment is not None
    assert OTHER_CANARY in robin_export[0].attachment.data.decode("utf-8")
    again = await both.handle(said(sam, "/start"))
    assert again[0].key == "onboarding.intro"


async def test_delete_can_be_called_off(both: CoachService, database: Database) -> None:
    sam = person(SAM_ID)
    await onboard(both, sam)
    ask = await both.handle(said(sam, "/delete"))
    kept = await tap(both, sam, ask, "no")
    assert [r.key for r in kept] == ["delete.kept"]
    assert "users.platform_user_id" in await database.run(
        lambda c: rows_mentioning(c, SAM_ID, None)
    )


def uncovered_tables(schema: MetaData) -> list[str]:
    claimed = [table.name for hooks in HOOKS for table in hooks.tables]
    twice = sorted({name for name in claimed if claimed.count(name) > 1})
    assert twice == [], f"tables claimed by two hooks: {twice}"
    exempt = {table.name for table in NO_PERSONAL_DATA}
    return sorted(set(schema.tables) - set(claimed) - exempt)


def test_every_table_has_a_personal_data_hook() -> None:
    assert uncovered_tables(metadata) == [], (
        "every table must be exported and deleted by a repository's PersonalDataHooks "
        "(core.privacy.data.HOOKS)"
    )


def test_a_new_table_without_a_hook_is_caught() -> None:
    schema = MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(schema)
    Table("future_notes", schema, Column("id", Integer, primary_key=True))
    assert uncovered_tables(schema) == ["future_notes"]


async def test_retention_purges_written_words_after_the_period_and_nothing_else(
    both: CoachService, database: Database, clock: FakeClock
) -> None:
    sam = person(SAM_ID)
    await onboard(both, sam)
    await make_plan(both, sam, CANARY)
    clock.advance(days=100)
    await both.handle(said(sam, "/safety"))  # activity does not extend old text
    clock.advance(days=79, hours=23)
    assert await database.run(lambda c: purge_expired(c, clock.now(), 180)) == 0
    clock.advance(hours=2)
    assert await database.run(lambda c: purge_expired(c, clock.now(), 180)) == 4
    left = await database.run(lambda c: rows_mentioning(c, SAM_ID, None))
    assert "users.platform_user_id" in left and "safety_plan_items.user_id" not in left
    replies = await both.handle(pressed(sam, encode_action(SafetyAction.SEE_PLAN)))
    assert [r.key for r in replies] == [keys.SAFETY_PLAN_EMPTY]


async def test_a_self_harm_answer_inside_the_safety_plan_is_kept_not_interrupted(
    service: CoachService,
) -> None:
    sam = person()
    await onboard(service, sam)
    await service.handle(pressed(sam, encode_action(SafetyAction.PLAN)))
    replies = await service.handle(said(sam, "when i start thinking i want to kill myself"))
    assert [r.key for r in replies] == ["safety.plan.ask_coping"]


async def test_a_safety_plan_answer_must_be_words_of_a_sensible_length(
    service: CoachService,
) -> None:
    sam = person()
    await service.handle(pressed(sam, encode_action(SafetyAction.PLAN)))
    too_long = await service.handle(said(sam, "a" * 501))
    assert [r.key for r in too_long] == ["safety.plan.invalid"]
    fine = await service.handle(said(sam, "a" * 500))
    assert [r.key for r in fine] == ["safety.plan.ask_coping"]


async def test_mend_purges_old_written_words_at_every_start(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'mend.db'}"
    settings = Settings(_env_file=None, database_url=url, mend_retention_days=30)  # type: ignore[call-arg]
    clock = FakeClock()
    sam = person(SAM_ID)
    core = await build_core(settings, clock=clock)
    try:
        await onboard(core.service, sam)
        await make_plan(core.service, sam, CANARY)
    finally:
        await core.database.close()
    for days, expected in ((29, keys.SAFETY_PLAN_SHOWN), (2, keys.SAFETY_PLAN_EMPTY)):
        clock.advance(days=days)
        core = await build_core(settings, clock=clock)
        try:
            seen = await core.service.handle(pressed(sam, encode_action(SafetyAction.SEE_PLAN)))
        finally:
            await core.database.close()
        assert [r.key for r in seen] == [expected]


def test_mend_purge_runs_the_purge_by_hand(tmp_path: Path) -> None:
    done = run_mend(tmp_path, "purge", database=tmp_path / "mend.db")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "deleted 0 stored texts older than 180 days"
