"""Self-assessments (/assess) and lens quizzes (/lenses): content checks, pure scoring, and
whole quizzes walked through buttons on a real SQLite file with a fake clock.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import func, select

from content import CONTENT_DIR
from core.content import Content, ContentError, load_content
from core.program.names import HEALING_BUTTON
from core.program.quizzes import (
    FORGED,
    MIXED,
    Answer,
    QuizSpec,
    SafetyPick,
    Start,
    decode,
    option_payload,
    outcome_for,
    score_bounds,
    start_payload,
    start_tally,
)
from core.service import CoachService
from core.service.safety import SafetyAction, encode_action
from core.storage import Database, UserRepository
from core.storage.quiz_results import QuizResultRepository
from core.storage.tables import quiz_results
from core.types import Reply, UserRef
from tests.fakes import TEST_CIPHER, FakeClock, group_chat, person, pressed, said

ASSESSMENTS = ("worth", "blame", "ready", "letgo")
LENSES = ("love", "attach")

Choose = Callable[[QuizSpec, int], int]
"""Which option (index) to press for question ``i`` of a quiz."""


def keys_of(replies: list[Reply]) -> list[str]:
    return [r.key for r in replies]


def quizzes_of(content: Content) -> dict[str, QuizSpec]:
    return {q.id: q for q in content.program.quizzes}


# ------------------------------------------------------------------ choosing answers


def counted(quiz: QuizSpec, i: int) -> list[tuple[int, int]]:
    """(option index, points) of the non-safety answers to question ``i``."""
    return [(n, o.points or 0) for n, o in enumerate(quiz.questions[i].options) if not o.safety]


def lowest(quiz: QuizSpec, i: int) -> int:
    return min(counted(quiz, i), key=lambda pair: pair[1])[0]


def highest(quiz: QuizSpec, i: int) -> int:
    return max(counted(quiz, i), key=lambda pair: pair[1])[0]


def one_point(quiz: QuizSpec, i: int) -> int:
    return next(n for n, points in counted(quiz, i) if points == 1)


def dimension(*per_question: str) -> Choose:
    """Press the answer of the given dimension for each question in turn."""

    def choose(quiz: QuizSpec, i: int) -> int:
        wanted = per_question[i % len(per_question)]
        return next(n for n, o in enumerate(quiz.questions[i].options) if o.dimension == wanted)

    return choose


def safety_option(quiz: QuizSpec) -> tuple[int, int]:
    """The first (question, option) marked as a safety answer."""
    return next(
        (q, n)
        for q, question in enumerate(quiz.questions)
        for n, option in enumerate(question.options)
        if option.safety
    )


# ------------------------------------------------------------------ walking through buttons


async def walk(service: CoachService, user: UserRef, quiz: QuizSpec, choose: Choose) -> list[Reply]:
    """Open the quiz from its list and press one answer per question; the last replies."""
    command = "/assess" if quiz.kind == "assessment" else "/lenses"
    listed = await service.handle(said(user, command))
    start = next(b.payload for b in listed[-1].buttons if b.payload == start_payload(quiz))
    replies = await service.handle(pressed(user, start))
    assert replies[0].key == quiz.intro
    for i, question in enumerate(quiz.questions):
        shown = replies[-1]
        assert shown.key == question.text
        assert f"{i + 1} of {len(quiz.questions)}" in shown.text
        assert len(shown.buttons) == len(question.options)
        replies = await service.handle(pressed(user, shown.buttons[choose(quiz, i)].payload))
    return replies


async def tap(service: CoachService, user: UserRef, last: list[Reply], choice: str) -> list[Reply]:
    """Press the button whose payload ends with ``choice`` on the last reply with buttons."""
    buttons = next(r.buttons for r in reversed(last) if r.buttons)
    payload = next(b.payload for b in buttons if b.payload.endswith(f":{choice}"))
    return await service.handle(pressed(user, payload))


async def onboard(service: CoachService, user: UserRef) -> list[Reply]:
    """Finish set-up the way a person does: age, consent, zone, time, situation."""
    replies = await service.handle(said(user, "/start"))
    replies = await tap(service, user, replies, "adult")
    replies = await tap(service, user, replies, "agree")
    replies = await service.handle(said(user, "Berlin"))
    replies = await tap(service, user, replies, "yes")
    replies = await service.handle(said(user, "9:15"))
    return await tap(service, user, replies, "struggling")


async def ready_person(service: CoachService, user_id: str) -> UserRef:
    user = person(user_id)
    done = await onboard(service, user)
    assert done[-1].key == "onboarding.done"
    return user


async def results_of(database: Database, user: UserRef, quiz: str) -> str | None:
    found = await database.run(lambda c: QuizResultRepository(c).latest(user, quiz))
    return found.outcome if found else None


async def result_rows(database: Database) -> int:
    return int(
        await database.run(
            lambda c: c.execute(select(func.count()).select_from(quiz_results)).scalar_one()
        )
    )


# ------------------------------------------------------------------ content


def test_every_quiz_loads_with_its_shape(content: Content) -> None:
    quizzes = content.program.quizzes
    assert [q.id for q in quizzes if q.kind == "assessment"] == list(ASSESSMENTS)
    assert [q.id for q in quizzes if q.kind == "lens"] == list(LENSES)
    texts = content.texts.by_key
    titles = [texts[q.title] for q in quizzes if q.kind == "assessment"]
    assert titles == [
        "Is this relationship worth the work?",
        "Are we stuck in a blame loop?",
        "Am I ready for the hard part?",
        "Push forward or let go?",
    ]
    for quiz in quizzes:
        assert 5 <= len(quiz.questions) <= 8
        if quiz.kind == "lens":
            assert 6 <= len(quiz.questions) <= 8
        for question in quiz.questions:
            assert 2 <= len(question.options) <= 5
            assert all(len(texts[o.label]) <= 80 for o in question.options)


@pytest.mark.parametrize("quiz_id", ["worth", "letgo"])
def test_staying_assessments_offer_a_fear_answer(content: Content, quiz_id: str) -> None:
    quiz = quizzes_of(content)[quiz_id]
    fear = [content.texts.by_key[o.label] for q in quiz.questions for o in q.options if o.safety]
    assert fear, f"{quiz_id} has no safety answer"
    assert any("afraid" in f.lower() or "fear" in f.lower() for f in fear)


@pytest.mark.parametrize("quiz_id", ASSESSMENTS)
def test_each_assessment_can_conclude_ending_with_respect(content: Content, quiz_id: str) -> None:
    quiz = quizzes_of(content)[quiz_id]
    texts = content.texts.by_key
    said_so = [o.id for o in quiz.outcomes if "with respect" in texts[o.text]]
    assert said_so, f"no outcome of {quiz_id} says ending with respect can be healthy"
    for outcome in quiz.outcomes:
        words = texts[outcome.text].lower()
        assert "will work" not in words.replace("promise it will work", "")
        assert "save your relationship" not in words


def test_attachment_texts_never_label_a_person(content: Content) -> None:
    texts = content.texts.by_key
    attach = {k: v.lower() for k, v in texts.items() if k.startswith("quizzes.attach.")}
    assert attach
    for key, text in attach.items():
        for label in ("anxious", "avoidant", "disorganised", "disorganized", "you are a"):
            assert label not in text, f"{key} uses {label!r}"
    assert "diagnosis" in attach["quizzes.attach.intro"]
    assert "tendenc" in attach["quizzes.attach.intro"]
    for outcome in ("reach", "space", "steady", "mixed"):
        assert "one idea" in attach[f"quizzes.attach.outcome.{outcome}"]


def test_love_lens_is_framed_as_lenses_and_asks_the_partner(content: Content) -> None:
    texts = content.texts.by_key
    assert "lenses, not labels" in texts["quizzes.love.intro"]
    assert "ask them" in texts["quizzes.love.closing"]
    quiz = quizzes_of(content)["love"]
    assert set(quiz.dimensions) == {"words", "time", "help", "gifts", "touch"}


# ------------------------------------------------------------------ broken quiz files


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A private, editable copy of the real content tree (YAML only)."""
    root = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    return root


def edit_yaml(path: Path, change: Callable[[Any], None]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


def problems_of(root: Path) -> list[str]:
    with pytest.raises(ContentError) as caught:
        load_content(root)
    return caught.value.problems


def assert_mentions(problems: list[str], *fragments: str) -> None:
    assert any(all(f in p for f in fragments) for p in problems), (
        f"no problem mentions all of {fragments!r}; got {problems!r}"
    )


def test_unedited_copy_loads(tree: Path) -> None:
    assert [q.id for q in load_content(tree).program.quizzes][:1] == ["worth"]


def test_a_gap_in_score_ranges_fails_the_load(tree: Path) -> None:
    edit_yaml(tree / "program/quizzes/worth.yaml", lambda d: d["outcomes"][1].update(min=6))
    assert_mentions(problems_of(tree), "worth.yaml", "total of 5", "gap")


def test_overlapping_score_ranges_fail_the_load(tree: Path) -> None:
    edit_yaml(tree / "program/quizzes/blame.yaml", lambda d: d["outcomes"][2].update(min=9))
    assert_mentions(problems_of(tree), "blame.yaml", "total of 9", "overlap")


def test_a_range_past_the_highest_total_fails_the_load(tree: Path) -> None:
    edit_yaml(
        tree / "program/quizzes/letgo.yaml",
        lambda d: d["outcomes"].append({"id": "never", "min": 13, "max": 20, "text": d["intro"]}),
    )
    assert_mentions(problems_of(tree), "letgo.yaml", "'never'", "never be reached")


def test_a_missing_text_key_fails_the_load(tree: Path) -> None:
    edit_yaml(tree / "locales/en/quizzes.yaml", lambda d: d["quizzes"]["worth"]["q2"].pop("b"))
    assert_mentions(problems_of(tree), "worth.yaml", "quizzes.worth.q2.b", "missing")


def test_an_unknown_key_fails_the_load(tree: Path) -> None:
    edit_yaml(tree / "program/quizzes/ready.yaml", lambda d: d["questions"][0].update(colour=1))
    assert_mentions(problems_of(tree), "ready.yaml", "questions.0.colour", "Extra inputs")


@pytest.mark.parametrize(
    ("quiz", "change", "fragment"),
    [
        ("worth", {"dimension": "words"}, "needs points and no dimension"),
        ("love", {"points": 1}, "a lens answer needs"),
        ("love", {"dimension": "hugs"}, "a lens answer needs"),
    ],
)
def test_a_bad_option_fails_the_load(
    tree: Path, quiz: str, change: dict[str, Any], fragment: str
) -> None:
    edit_yaml(
        tree / f"program/quizzes/{quiz}.yaml",
        lambda d: d["questions"][1]["options"][0].update(change),
    )
    assert_mentions(problems_of(tree), f"{quiz}.yaml", "question 2 option 1", fragment)


def test_a_safety_option_with_points_fails_the_load(tree: Path) -> None:
    edit_yaml(
        tree / "program/quizzes/worth.yaml",
        lambda d: d["questions"][0]["options"][3].update(points=1),
    )
    assert_mentions(problems_of(tree), "worth.yaml", "question 1 option 4", "safety answer")


def test_an_option_with_points_out_of_range_fails_the_load(tree: Path) -> None:
    edit_yaml(
        tree / "program/quizzes/worth.yaml",
        lambda d: d["questions"][0]["options"][0].update(points=12),
    )
    assert_mentions(problems_of(tree), "worth.yaml", "questions.0.options.0.points")


def test_too_many_options_or_too_few_questions_fail_the_load(tree: Path) -> None:
    def crowd(d: dict[str, Any]) -> None:
        d["questions"][0]["options"] *= 2

    edit_yaml(tree / "program/quizzes/love.yaml", crowd)
    edit_yaml(tree / "program/quizzes/letgo.yaml", lambda d: d.update(questions=d["questions"][:4]))
    problems = problems_of(tree)
    assert_mentions(problems, "love.yaml", "questions.0.options")
    assert_mentions(problems, "letgo.yaml", "questions")


def test_a_lens_without_its_mixed_outcome_fails_the_load(tree: Path) -> None:
    edit_yaml(tree / "program/quizzes/attach.yaml", lambda d: d["outcomes"].pop())
    assert_mentions(problems_of(tree), "attach.yaml", "plus 'mixed'")


def test_a_quiz_named_unlike_its_file_fails_the_load(tree: Path) -> None:
    edit_yaml(tree / "program/quizzes/ready.yaml", lambda d: d.update(id="steady"))
    assert_mentions(problems_of(tree), "ready.yaml", "differs from the file name")


def test_an_over_long_label_fails_the_load(tree: Path) -> None:
    edit_yaml(
        tree / "locales/en/quizzes.yaml",
        lambda d: d["quizzes"]["letgo"]["q1"].update(a="x" * 81),
    )
    assert_mentions(problems_of(tree), "letgo.yaml", "quizzes.letgo.q1.a", "too long")


# ------------------------------------------------------------------ pure scoring


def test_payloads_round_trip_and_stay_short(content: Content) -> None:
    quizzes = quizzes_of(content)
    for quiz in quizzes.values():
        assert decode(start_payload(quiz), quizzes) == Start(quiz)
        tally = start_tally(quiz)
        for i, question in enumerate(quiz.questions):
            for n, option in enumerate(question.options):
                payload = option_payload(quiz, i, n, tally)
                assert len(payload.encode()) <= 64
                decoded = decode(payload, quizzes)
                if option.safety:
                    assert decoded == SafetyPick(quiz, i, n)
                else:
                    assert isinstance(decoded, Answer)
                    assert decoded.answered == i + 1
            next_payload = option_payload(
                quiz, i, highest(quiz, i) if quiz.kind == "assessment" else 0, tally
            )
            step = decode(next_payload, quizzes)
            assert isinstance(step, Answer)
            tally = step.tally


@pytest.mark.parametrize(
    "payload",
    [
        "q",
        "q:",
        "q:nope",
        "q:nope:1:0",
        "q:worth:",
        "q:worth:1",
        "q:worth:0:0",
        "q:worth:7:0",
        "q:worth:99:0",
        "q:worth:1:3",
        "q:worth:2:5",
        "q:worth:01:0",
        "q:worth:1:-1",
        "q:worth:1:00",
        "q:worth:x:y",
        "q:worth:1:1:1",
        "q:worth:1:s0",
        "q:worth:0:s0",
        "q:worth:0:s9",
        "q:worth:6:s0",
        "q:blame:1:s0",
        "q:love:3:11111",
        "q:love:2:2",
        "q:love:1:1000a",
        "q:attach:8:800",
        "q:attach:2:200:",
        "q:worth:1:١",
    ],
)
def test_forged_payloads_are_recognised(content: Content, payload: str) -> None:
    assert decode(payload, quizzes_of(content)) is FORGED


def test_other_desks_payloads_are_not_ours(content: Content) -> None:
    for payload in ("hl:open", "f:onboarding:age:adult", "qq:worth", "", "ph:2"):
        assert decode(payload, quizzes_of(content)) is None


def test_tally_bounds_follow_the_questions_answered(content: Content) -> None:
    worth = quizzes_of(content)["worth"]
    assert score_bounds(worth, 0) == (0, 0)
    assert score_bounds(worth, 3) == (0, 6)
    assert score_bounds(worth, 6) == (0, 12)
    quizzes = quizzes_of(content)
    assert isinstance(decode("q:worth:3:6", quizzes), Answer)
    assert decode("q:worth:3:7", quizzes) is FORGED


def test_outcomes_cover_every_total_of_every_assessment(content: Content) -> None:
    for quiz in quizzes_of(content).values():
        if quiz.kind != "assessment":
            continue
        low, high = score_bounds(quiz, len(quiz.questions))
        reached = {outcome_for(quiz, (total,)).id for total in range(low, high + 1)}
        assert reached == {o.id for o in quiz.outcomes}


def test_a_lens_tie_is_mixed(content: Content) -> None:
    love = quizzes_of(content)["love"]
    assert outcome_for(love, (2, 2, 1, 1, 1)).id == MIXED
    assert outcome_for(love, (3, 2, 1, 1, 0)).id == "words"
    assert outcome_for(love, (0, 0, 0, 0, 7)).id == "touch"


# ------------------------------------------------------------------ walking through buttons

EXPECTED: dict[str, dict[str, str]] = {
    "worth": {"low": "let_go", "middle": "mixed", "high": "foundations"},
    "blame": {"low": "clear", "middle": "some", "high": "stuck"},
    "ready": {"low": "not_yet", "middle": "partly", "high": "ready"},
    "letgo": {"low": "let_go", "middle": "crossroads", "high": "push"},
}
CHOOSERS: dict[str, Choose] = {"low": lowest, "middle": one_point, "high": highest}


@pytest.mark.parametrize("quiz_id", ASSESSMENTS)
@pytest.mark.parametrize("total", ["low", "middle", "high"])
async def test_walking_an_assessment_reaches_the_right_outcome(
    service: CoachService, content: Content, sqlite_db: Database, quiz_id: str, total: str
) -> None:
    user = await ready_person(service, "3001")
    quiz = quizzes_of(content)[quiz_id]
    replies = await walk(service, user, quiz, CHOOSERS[total])
    wanted = EXPECTED[quiz_id][total]
    assert keys_of(replies) == [f"quizzes.{quiz_id}.outcome.{wanted}"]
    assert await results_of(sqlite_db, user, quiz_id) == wanted
    assert await result_rows(sqlite_db) == 1


async def test_the_let_go_outcome_says_so_and_offers_the_healing_stages(
    service: CoachService, content: Content
) -> None:
    user = await ready_person(service, "3002")
    replies = await walk(service, user, quizzes_of(content)["letgo"], lowest)
    outcome = replies[-1]
    assert outcome.key == "quizzes.letgo.outcome.let_go"
    assert "ending a relationship with respect" in outcome.text.lower()
    assert "healthy choice" in outcome.text
    assert [b.payload for b in outcome.buttons] == [HEALING_BUTTON[1]]
    healing = await service.handle(pressed(user, outcome.buttons[0].payload))
    assert keys_of(healing) == ["healing.overview"]


async def test_only_the_outcome_is_stored_never_the_answers(
    service: CoachService, content: Content, sqlite_db: Database, clock: FakeClock
) -> None:
    user = await ready_person(service, "3003")
    quiz = quizzes_of(content)["blame"]
    await walk(service, user, quiz, lowest)
    clock.advance(days=3)
    await walk(service, user, quiz, highest)
    rows = await sqlite_db.run(lambda c: c.execute(select(quiz_results)).mappings().all())
    assert {tuple(sorted(r)) for r in rows} == {("at", "id", "outcome", "quiz", "user_id")}
    assert [r["outcome"] for r in rows] == ["clear", "stuck"]
    assert await results_of(sqlite_db, user, "blame") == "stuck"


async def test_a_double_tap_on_the_last_answer_records_the_outcome_once(
    service: CoachService, content: Content, sqlite_db: Database, clock: FakeClock
) -> None:
    user = await ready_person(service, "3010")
    quiz = quizzes_of(content)["blame"]
    last = quiz.questions[-1].options[lowest(quiz, len(quiz.questions) - 1)]
    assert not last.safety
    # The same last button again, a second later: the outcome is said again, kept once.
    payload = next(
        b.payload
        for b in (await walk_to_last(service, user, quiz)).buttons
        if b.label == content.texts.render(last.label)
    )
    first = await service.handle(pressed(user, payload))
    clock.advance(seconds=1)
    again = await service.handle(pressed(user, payload))
    assert keys_of(again) == keys_of(first) == ["quizzes.blame.outcome.clear"]
    assert await result_rows(sqlite_db) == 1
    # The same outcome reached on another day is a new result.
    clock.advance(days=2)
    await walk(service, user, quiz, lowest)
    assert await result_rows(sqlite_db) == 2


async def walk_to_last(service: CoachService, user: UserRef, quiz: QuizSpec) -> Reply:
    """Answer all but the last question with the lowest answers; the last question."""
    replies = await service.handle(pressed(user, start_payload(quiz)))
    for i in range(len(quiz.questions) - 1):
        replies = await service.handle(pressed(user, replies[-1].buttons[lowest(quiz, i)].payload))
    return replies[-1]


@pytest.mark.parametrize("quiz_id", ["worth", "letgo", "ready", "attach"])
async def test_a_fear_answer_ends_the_quiz_and_switches_safety_mode_on(
    service: CoachService, content: Content, sqlite_db: Database, quiz_id: str
) -> None:
    user = await ready_person(service, "3004")
    quiz = quizzes_of(content)[quiz_id]
    at_question, option = safety_option(quiz)

    def choose(spec: QuizSpec, i: int) -> int:
        if i == at_question:
            return option
        return 0 if spec.kind == "lens" else lowest(spec, i)

    command = "/assess" if quiz.kind == "assessment" else "/lenses"
    await service.handle(said(user, command))
    replies = await service.handle(pressed(user, start_payload(quiz)))
    for i in range(at_question + 1):
        replies = await service.handle(pressed(user, replies[-1].buttons[choose(quiz, i)].payload))
    assert keys_of(replies) == [
        "quizzes.safety_answer",
        "safety.resources.header_country",
        "safety.mode.entered",
        "safety.check",
    ]
    assert any(r.buttons for r in replies[-1:])
    stored = await sqlite_db.run(lambda c: UserRepository(c).find(user))
    assert stored is not None and stored.safety_mode and stored.safety_since is not None
    assert await result_rows(sqlite_db) == 0
    status = await service.handle(said(user, "/safety"))
    assert "safety.mode.on" in keys_of(status)
    again = await service.handle(said(user, "/assess"))
    assert keys_of(again) == ["quizzes.safety_first"]
    assert "/safety" in again[0].text
    assert not again[0].buttons


async def test_in_safety_mode_quizzes_are_set_aside_for_a_self_care_note(
    service: CoachService, content: Content, sqlite_db: Database
) -> None:
    user = await ready_person(service, "3005")
    quizzes = quizzes_of(content)
    worth = quizzes["worth"]
    old_button = option_payload(worth, 0, 0, start_tally(worth))
    started = await service.handle(pressed(user, encode_action(SafetyAction.MODE_START)))
    assert "safety.mode.started" in keys_of(started)
    stored = await sqlite_db.run(lambda c: UserRepository(c).find(user))
    assert stored is not None and stored.safety_mode
    for event in (
        said(user, "/assess"),
        said(user, "/lenses"),
        pressed(user, start_payload(worth)),
        pressed(user, old_button),
        pressed(user, "q:worth:6:12"),
    ):
        assert keys_of(await service.handle(event)) == ["quizzes.safety_first"]
    assert await result_rows(sqlite_db) == 0


@pytest.mark.parametrize(
    "payload",
    [
        "q:nope",
        "q:worth:99:0",
        "q:worth:1:3",
        "q:love:3:11111",
        "q:worth:0:s0",
        "q:",
        "q:worth:1:x",
    ],
)
async def test_forged_presses_get_a_kind_answer(
    service: CoachService, sqlite_db: Database, payload: str
) -> None:
    user = await ready_person(service, "3006")
    replies = await service.handle(pressed(user, payload))
    assert keys_of(replies) == ["quizzes.stale"]
    assert "/assess" in replies[0].text
    stored = await sqlite_db.run(lambda c: UserRepository(c).find(user))
    assert stored is not None and not stored.safety_mode
    assert await result_rows(sqlite_db) == 0


async def test_a_quiz_survives_a_restart_from_its_old_buttons(
    content: Content, sqlite_db: Database, clock: FakeClock
) -> None:
    first = CoachService(content, sqlite_db, clock, cipher=TEST_CIPHER, default_timezone="UTC")
    user = await ready_person(first, "3007")
    quiz = quizzes_of(content)["ready"]
    replies = await first.handle(pressed(user, start_payload(quiz)))
    for i in range(3):
        replies = await first.handle(pressed(user, replies[-1].buttons[highest(quiz, i)].payload))
    waiting = replies[-1].buttons
    second = CoachService(content, sqlite_db, clock, cipher=TEST_CIPHER, default_timezone="UTC")
    replies = await second.handle(pressed(user, waiting[highest(quiz, 3)].payload))
    for i in range(4, len(quiz.questions)):
        replies = await second.handle(pressed(user, replies[-1].buttons[highest(quiz, i)].payload))
    assert keys_of(replies) == ["quizzes.ready.outcome.ready"]


async def test_quizzes_never_answer_in_a_group(service: CoachService, content: Content) -> None:
    user = await ready_person(service, "3008")
    group = group_chat("-900")
    refused = await service.handle(said(user, "/assess", group))
    assert keys_of(refused) == ["common.private_only"]
    assert keys_of(await service.handle(said(user, "/lenses", group))) == ["common.private_only"]
    quiz = quizzes_of(content)["worth"]
    replies = await service.handle(pressed(user, start_payload(quiz), group))
    for i in range(len(quiz.questions)):
        assert replies and all(r.private_to == user for r in replies)
        replies = await service.handle(
            pressed(user, replies[-1].buttons[lowest(quiz, i)].payload, group)
        )
    assert keys_of(replies) == ["quizzes.worth.outcome.let_go"]
    assert all(r.private_to == user for r in replies)
    forged = await service.handle(pressed(user, "q:worth:9:9", group))
    assert keys_of(forged) == ["quizzes.stale"] and forged[0].private_to == user


async def test_a_person_not_set_up_is_asked_to_start(
    service: CoachService, content: Content
) -> None:
    user = person("3009")
    for event in (
        said(user, "/assess"),
        said(user, "/lenses"),
        pressed(user, "q:worth"),
        pressed(user, "q:worth:1:2"),
    ):
        replies = await service.handle(event)
        assert keys_of(replies) == ["quizzes.needs_start"]
        assert "/start" in replies[0].text


async def test_the_lists_offer_every_quiz_in_order(service: CoachService, content: Content) -> None:
    user = await ready_person(service, "3010")
    assess = await service.handle(said(user, "/assess"))
    assert keys_of(assess) == ["quizzes.assess_menu"]
    assert [b.payload for b in assess[0].buttons] == [f"q:{q}" for q in ASSESSMENTS]
    assert assess[0].buttons[3].label == "Push forward or let go?"
    lenses = await service.handle(said(user, "/lenses"))
    assert [b.payload for b in lenses[0].buttons] == [f"q:{q}" for q in LENSES]


# ------------------------------------------------------------------ lenses


@pytest.mark.parametrize(
    ("quiz_id", "answers", "wanted"),
    [
        *(("love", (d,), d) for d in ("words", "time", "help", "gifts", "touch")),
        ("love", ("words", "time", "help", "gifts", "touch", "words", "time"), "mixed"),
        *(("attach", (d,), d) for d in ("reach", "space", "steady")),
        ("attach", ("reach", "space", "reach", "space", "steady", "space", "reach"), "mixed"),
    ],
)
async def test_a_lens_reaches_each_outcome(
    service: CoachService,
    content: Content,
    sqlite_db: Database,
    quiz_id: str,
    answers: tuple[str, ...],
    wanted: str,
) -> None:
    user = await ready_person(service, "3011")
    quiz = quizzes_of(content)[quiz_id]
    replies = await walk(service, user, quiz, dimension(*answers))
    assert keys_of(replies) == [f"quizzes.{quiz_id}.outcome.{wanted}", f"quizzes.{quiz_id}.closing"]
    assert await results_of(sqlite_db, user, quiz_id) == wanted
