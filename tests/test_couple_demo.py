"""The couple demo in ``examples/`` replays in a real ``mend chat`` process, and the README
shows exactly what it prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli import run_mend

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "couple_pause.txt"
COMMAND = ["chat", "--couple", "Alice", "Bob", "--clock", "2026-06-05T17:40"]
KEY = re.compile(r"^Mend[^:]*: \[([a-z0-9_.]+)\]", re.MULTILINE)
TRANSCRIPT = re.compile(
    r"<!-- couple_pause transcript: begin -->\n```text\n(.*?)\n```\n"
    r"<!-- couple_pause transcript: end -->",
    re.DOTALL,
)


def replay(tmp_path: Path, *extra: str) -> str:
    database = tmp_path / f"mend{len(extra)}.db"
    done = run_mend(tmp_path, *COMMAND, *extra, "--script", str(SCRIPT), database=database)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_demo_pauses_mid_argument_and_comes_back(tmp_path: Path) -> None:
    said = KEY.findall(replay(tmp_path, "--keys"))
    after_link = said[said.index("pairing.linked") :]
    assert after_link == [
        "pairing.linked",
        "pause.notice",  # the group, at once, naming no one
        "pause.calm",  # Alice, privately
        "pause.calm",  # Bob, privately
        "pause.ready_noted",  # Bob is calmer first: only he hears it
        "pause.way_back",  # twenty minutes later, from the scheduler, in the group
        "pause.both_here",  # Alice is ready too
    ]
    assert "pairing.consent" in said and "pairing.paired_inviter" in said


def test_the_readme_shows_the_demo_as_it_runs_today(tmp_path: Path) -> None:
    found = TRANSCRIPT.search((ROOT / "README.md").read_text(encoding="utf-8"))
    assert found is not None, "README.md lost the couple_pause transcript markers"
    assert found.group(1) == replay(tmp_path).rstrip("\n"), (
        "the README transcript is stale: replay examples/couple_pause.txt and paste it"
    )
