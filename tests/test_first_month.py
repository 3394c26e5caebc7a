"""A month of Mend for one person, replayed in a real ``mend chat`` process from
``examples/first_month.txt``: a step every morning with none repeated, promises asked about
in the evening, the weekly reflection, the builders and quizzes, a phase chosen, and a real
progress chart at the end."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from tests.cli import run_mend

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "first_month.txt"
COMMAND = ["chat", "--as", "Sam", "--clock", "2026-03-02T06:00", "--keys"]
KEY = re.compile(r"^Mend[^:]*: \[([a-z0-9_.]+)\]", re.MULTILINE)
STEP = re.compile(
    r"^Mend: \[nudges\.(?:morning|swapped)\][^\n]*\n\n(.*?)\n  \[1\]", re.MULTILINE | re.DOTALL
)


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    where = tmp_path_factory.mktemp("first_month")
    done = run_mend(
        where, *COMMAND, "--script", str(SCRIPT), database=where / "mend.db", timeout=300
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, where


def test_a_step_arrives_every_morning_and_none_repeats(month: tuple[str, Path]) -> None:
    out, _ = month
    said = KEY.findall(out)
    assert said.count("nudges.morning") == 30
    steps = STEP.findall(out)
    assert len(steps) == 30 + said.count("nudges.swapped")
    assert len(set(steps)) == len(steps), "a daily step came back within the month"


def test_the_month_runs_through_the_programme_in_order(month: tuple[str, Path]) -> None:
    said = KEY.findall(month[0])
    milestones = [
        "onboarding.done",
        "phase.where",
        "draft.found",
        "tracking.ouch.logged",
        "tracking.appreciate.specific",
        "tracking.journal.saved",
        "tracking.promise.made",
        "tracking.promise.evening",
        "tracking.promise.kept",
        "quizzes.worth.intro",
        "tracking.promise.not_kept",
        "quizzes.love.closing",
        "apology.draft",
        "healing.overview",
        "phase.chosen",
        "tracking.progress.totals_line",
    ]
    positions = [said.index(key) for key in milestones]
    assert positions == sorted(positions)
    assert said.count("tracking.journal.saved") == 4
    assert said.count("tracking.promise.evening") == 3
    assert any(key.startswith("quizzes.worth.outcome.") for key in said)


def test_the_month_ends_with_a_real_chart(month: tuple[str, Path]) -> None:
    out, where = month
    chart = where / "exports" / "progress.png"
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(chart) as image:
        image.verify()
    with Image.open(chart) as image:
        assert image.size[0] >= 600 and image.size[1] >= 400
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
        assert colours is not None and len(colours) > 10  # drawn, not blank
    summary = out[out.index("[tracking.progress.totals_line]") :]
    assert "8/10" in summary.splitlines()[0]  # the last weekly score entered
    assert "promises kept 2/3" in summary
