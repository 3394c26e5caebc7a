"""``/progress``: a real PNG from stored data, and a two-line summary whose numbers match.

The chart is drawn by Pillow; these tests decode what was sent, check its size, and look
at its pixels. Data is seeded through the real commands over several weeks of a fake
clock (daily steps marked done are written straight to ``action_log``, as the daily-step
desk does).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from PIL import Image, ImageChops
from sqlalchemy import Connection, select

from core.content import Content
from core.program import chart
from core.program.chart import ChartLabels, render_progress
from core.program.tracking import WeekPoint, progress_series, recent_weeks
from core.service import CoachService
from core.service import tracking_desk as td
from core.storage import Database
from core.storage.tables import action_log, users
from core.types import Reply, UserRef
from tests.fakes import TEST_CIPHER, FakeClock, person, pressed, said

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LABELS = ChartLabels(
    "Your last 12 weeks", "Score", "Follow-through", "Kept", "Steps", "Moments", "Good", "Hard", "-"
)
SCORE_BLUE = (0, 114, 178)
GOOD_GREEN = (0, 158, 115)
STEPS_ORANGE = (230, 159, 0)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def decoded(data: bytes) -> Image.Image:
    assert data.startswith(PNG_SIGNATURE)
    Image.open(io.BytesIO(data)).verify()  # raises on a broken file
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def pixels_of(image: Image.Image, colour: tuple[int, int, int]) -> int:
    counts = image.convert("RGB").getcolors(maxcolors=image.width * image.height) or []
    return sum(count for count, found in counts if found == colour)


def series(scores: list[int | None], good: int = 0) -> tuple[WeekPoint, ...]:
    weeks = recent_weeks(date(2026, 5, 20), len(scores))
    return tuple(
        WeekPoint(
            week,
            score=score,
            promises_kept=1,
            promises_answered=2,
            steps_done=n % 7,
            good=good + n,
            hard=n % 3,
        )
        for n, (week, score) in enumerate(zip(weeks, scores, strict=True))
    )


# --------------------------------------------------------------------------- the drawing


def test_the_chart_is_a_png_of_the_promised_size() -> None:
    image = decoded(render_progress(series([5, 6, None, 7] * 3), LABELS))
    assert image.format == "PNG"
    assert image.size == (chart.WIDTH, chart.HEIGHT) == (800, 600)


def test_rendering_is_deterministic() -> None:
    points = series([3, 4, 5, 6, 7, 8, None, 2, 9, 10, 1, 5])
    assert render_progress(points, LABELS) == render_progress(points, LABELS)


def test_different_data_draws_different_pixels() -> None:
    one = decoded(render_progress(series([5] * 12), LABELS)).convert("RGB")
    other = decoded(render_progress(series([8] * 12), LABELS)).convert("RGB")
    assert ImageChops.difference(one, other).getbbox() is not None


def test_the_score_line_is_drawn_only_when_there_are_scores() -> None:
    with_scores = decoded(render_progress(series([5, 6, 7] * 4), LABELS))
    without = decoded(render_progress(series([None] * 12), LABELS))
    assert pixels_of(with_scores, SCORE_BLUE) > 500
    assert pixels_of(without, SCORE_BLUE) == 0


def test_more_good_moments_means_more_green() -> None:
    few = decoded(render_progress(series([5] * 12, good=0), LABELS))
    many = decoded(render_progress(series([5] * 12, good=3), LABELS))
    assert pixels_of(few, GOOD_GREEN) > 0
    # Bars are scaled to the highest week: 0..11 of 12 against 3..14 of 16.
    assert pixels_of(many, GOOD_GREEN) > pixels_of(few, GOOD_GREEN)


def test_an_empty_series_still_draws_without_error() -> None:
    image = decoded(render_progress(series([None] * 12, good=0)[:0], LABELS))
    assert image.size == (800, 600)


def test_the_current_week_counts_only_its_days_so_far() -> None:
    tuesday = date(2026, 5, 19)
    weeks = recent_weeks(tuesday, 2)
    done = ["2026-05-11", "2026-05-12", "2026-05-18", "2026-05-19"]  # two last week, two now
    last, this = progress_series(weeks, {}, [], done, [], today=tuesday)
    assert (last.days, last.steps_done, last.steps_share) == (7, 2, 2 / 7)
    assert (this.days, this.steps_done, this.steps_share) == (2, 2, 1.0), "two of two days"
    assert WeekPoint("2026-W21").steps_share is None  # nothing done: no bar at all


def test_a_full_bar_for_a_young_week_done_so_far_is_taller_than_a_whole_weeks_share() -> None:
    weeks = recent_weeks(date(2026, 5, 19), 2)
    young = (WeekPoint(weeks[0], steps_done=1), WeekPoint(weeks[1], steps_done=2, days=2))
    whole = (WeekPoint(weeks[0], steps_done=1), WeekPoint(weeks[1], steps_done=2))
    full = decoded(render_progress(young, LABELS))
    partial = decoded(render_progress(whole, LABELS))
    assert pixels_of(full, STEPS_ORANGE) > pixels_of(partial, STEPS_ORANGE)


# --------------------------------------------------------------------------- end to end


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(utc("2026-03-02T09:00"))  # Monday, 10:00 in Berlin


@pytest.fixture
def service(content: Content, database: Database, clock: FakeClock) -> CoachService:
    return CoachService(content, database, clock, cipher=TEST_CIPHER, default_timezone="UTC")


async def tap(service: CoachService, user: UserRef, last: list[Reply], choice: str) -> list[Reply]:
    buttons = next(r.buttons for r in reversed(last) if r.buttons)
    payload = next(b.payload for b in buttons if b.payload.endswith(f":{choice}"))
    return await service.handle(pressed(user, payload))


async def onboard(service: CoachService, user: UserRef) -> None:
    replies = await service.handle(said(user, "/start"))
    replies = await tap(service, user, replies, "adult")
    replies = await tap(service, user, replies, "agree")
    replies = await service.handle(said(user, "Berlin"))
    replies = await tap(service, user, replies, "yes")
    replies = await service.handle(said(user, "9:15"))
    await tap(service, user, replies, "struggling")


async def mark_done(database: Database, user: UserRef, day: date) -> None:
    def work(connection: Connection) -> None:
        user_id = connection.execute(
            select(users.c.id).where(users.c.platform_user_id == user.user_id)
        ).scalar_one()
        connection.execute(
            action_log.insert(),
            {
                "user_id": user_id,
                "local_date": day.isoformat(),
                "action": "no_defend",
                "outcome": "done",
                "at": datetime.combine(day, datetime.min.time(), UTC),
            },
        )

    await database.run(work)


@dataclass(frozen=True)
class Week:
    score: int
    kept: tuple[bool, ...]
    good: int
    hard: int
    steps: int


WEEKS = [
    # score, promises kept (of those answered), appreciations, hurts, days with a step done
    Week(5, (True, False, True), good=2, hard=1, steps=2),
    Week(6, (True, True), good=3, hard=0, steps=4),
    Week(4, (False,), good=1, hard=2, steps=0),
    Week(9, (True, True, True), good=5, hard=1, steps=5),
]


async def seed(service: CoachService, database: Database, clock: FakeClock, sam: UserRef) -> None:
    """Four weeks through the real commands, the clock moving day by day."""
    monday = date(2026, 3, 2)
    for number, week in enumerate(WEEKS):
        start = monday + timedelta(weeks=number)
        clock.current = datetime.combine(start, datetime.min.time(), UTC) + timedelta(hours=9)
        for offset, kept in enumerate(week.kept):
            day = start + timedelta(days=offset)
            clock.current = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=9)
            await service.handle(said(sam, f"/promise step {number}-{offset}"))
            verb = "kept" if kept else "not"
            await service.handle(pressed(sam, f"pr:{verb}:{day.isoformat()}"))
        for n in range(week.good):
            await service.handle(said(sam, f"/appreciate tea in bed on day {n}"))
        for n in range(week.hard):
            await service.handle(said(sam, f"/ouch a sharp reply about chores {n}"))
        for n in range(week.steps):
            await mark_done(database, sam, start + timedelta(days=n))
        await service.handle(said(sam, "/journal"))
        await service.handle(pressed(sam, f"j:score:{week.score}"))
        for answer in ("a kind word", "skip", "listen more"):
            await service.handle(said(sam, answer))


async def test_progress_sends_a_png_of_stored_data_with_a_matching_summary(
    service: CoachService, database: Database, clock: FakeClock
) -> None:
    sam = person("4001")
    await onboard(service, sam)
    await seed(service, database, clock, sam)
    [reply] = await service.handle(said(sam, "/progress"))
    assert reply.key == td.PROGRESS_SUMMARY and reply.chat is None and reply.private_to is None
    attachment = reply.attachment
    assert attachment is not None
    assert (attachment.filename, attachment.mime) == ("progress.png", "image/png")
    image = decoded(attachment.data)
    assert image.size == (800, 600)
    assert pixels_of(image, SCORE_BLUE) > 500  # the score line is there
    lines = reply.text.split("\n")
    assert len(lines) == 2
    # 5, 6, 4, 9: the latest is 9 (week 13), the average 6 over four weeks.
    assert "9/10" in lines[0] and "2026-W13" in lines[0]
    assert "6 on average (weeks scored: 4)" in lines[0]
    kept = sum(sum(w.kept) for w in WEEKS)
    answered = sum(len(w.kept) for w in WEEKS)
    steps = sum(w.steps for w in WEEKS)
    good = sum(w.good for w in WEEKS)
    hard = sum(w.hard for w in WEEKS)
    assert (kept, answered, steps, good, hard) == (7, 9, 11, 11, 4)
    assert f"promises kept {kept}/{answered}" in lines[1]
    assert f"days with a step done: {steps}" in lines[1]
    assert f"good moments {good}, hard {hard}" in lines[1]
    # More data, a different picture.
    await service.handle(said(sam, "/appreciate the note on the fridge this morning"))
    [again] = await service.handle(said(sam, "/progress"))
    assert again.attachment is not None
    after = decoded(again.attachment.data).convert("RGB")
    assert ImageChops.difference(image.convert("RGB"), after).getbbox() is not None
    assert f"good moments {good + 1}," in again.text.split("\n")[1]


async def test_progress_without_data_explains_what_fills_it(service: CoachService) -> None:
    sam = person("4002")
    await onboard(service, sam)
    [reply] = await service.handle(said(sam, "/progress"))
    assert reply.key == td.PROGRESS_EMPTY and reply.attachment is None
    assert "/journal" in reply.text and "/promise" in reply.text


async def test_progress_without_a_score_says_how_to_add_one(
    service: CoachService, database: Database
) -> None:
    sam = person("4003")
    await onboard(service, sam)
    await service.handle(said(sam, "/ouch a slammed door"))
    [reply] = await service.handle(said(sam, "/progress"))
    assert reply.attachment is not None
    first, second = reply.text.split("\n")
    assert "/journal" in first
    assert "good moments 0, hard 1" in second
    image = decoded(reply.attachment.data)
    assert pixels_of(image, SCORE_BLUE) == 0


async def test_the_progress_button_after_a_reflection(service: CoachService) -> None:
    sam = person("4004")
    await onboard(service, sam)
    await service.handle(said(sam, "/journal"))
    await service.handle(pressed(sam, "j:score:7"))
    for answer in ("a walk", "a row", "sleep earlier"):
        saved = await service.handle(said(sam, answer))
    assert any(td.PROGRESS_PAYLOAD in [b.payload for b in r.buttons] for r in saved)
    [reply] = await service.handle(pressed(sam, td.PROGRESS_PAYLOAD))
    assert reply.attachment is not None and "7/10" in reply.text
