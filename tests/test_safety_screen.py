"""The safety screen's building blocks, the ``mend screen`` command, and its evaluation set.

The classifier does not yet meet issue 5's targets on ``tests/data/safety_examples.yaml``
(an evaluation set written independently of the cues); ``test_figures_on_the_evaluation_set``
prints where it stands so every run shows the gap, and asserts only what already holds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from core.safety import Category, screen
from core.safety.cues import CueError, load_cues
from core.safety.normalize import normalize

EXAMPLES = Path(__file__).parent / "data" / "safety_examples.yaml"
DANGER = ("self_harm", "partner_harm", "emergency")


@pytest.mark.parametrize(
    ("typed", "normal"),
    [
        ("I DON'T want to live anymore!!!", "i do not want to live any more"),
        ("dont wanna be here", "do not want to be here"),
        ("im sooooo tired", "i am soo tired"),
        ("I\u2019m scared of him", "i am scared of him"),
        ("Caf\u00e9 na\u00efve", "cafe naive"),
        ("thinking about sucide", "thinking about suicide"),
        ("", ""),
    ],
)
def test_normalize_mends_typing(typed: str, normal: str) -> None:
    assert normalize(typed) == normal


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("I would never hurt myself", Category.NONE),
        ("I don't want to live anymore", Category.SELF_HARM),
        ("this argument is killing me", Category.NONE),
        ("I could murder a pizza", Category.NONE),
        ("we fight about money", Category.NONE),
        ("he hit me last night", Category.PARTNER_HARM),
        ("he's breaking down the door", Category.EMERGENCY),
        ("not suicidal, just tired", Category.NONE),
    ],
)
def test_screen_reads_negation_and_figures_of_speech(text: str, category: Category) -> None:
    assert screen(text).category is category


def test_screening_names_cues_never_text() -> None:
    result = screen("he hit me and I want to die")
    assert result.categories == {Category.PARTNER_HARM, Category.SELF_HARM}
    assert result.category is Category.SELF_HARM
    assert all(" " not in cue for cue in result.cues)


def test_a_malformed_cue_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "cues.yaml"
    bad.write_text(
        "groups: {}\ncues:\n  - name: broken\n    category: self_harm\n    patterns: ['(']\n",
        encoding="utf-8",
    )
    with pytest.raises(CueError, match="broken"):
        load_cues(bad)


def test_mend_screen_prints_one_json_object_per_line_without_the_text() -> None:
    lines = "I would never hurt myself\nhe choked me\nCANARY-7731 we fight about money\n"
    done = subprocess.run(
        [sys.executable, "-m", "bots", "screen"],
        input=lines,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["category"] for r in results] == ["none", "partner_harm", "none"]
    assert "CANARY-7731" not in done.stdout + done.stderr


def test_figures_on_the_evaluation_set() -> None:
    examples = yaml.safe_load(EXAMPLES.read_text(encoding="utf-8"))
    positives = [text for label in DANGER for text in examples[label]]
    negatives = examples["none"]
    assert len(positives) >= 150 and len(negatives) >= 150
    assert len(set(positives + negatives)) == len(positives) + len(negatives)
    recall = sum(screen(t).is_hit for t in positives) / len(positives)
    false_positives = sum(screen(t).is_hit for t in negatives) / len(negatives)
    print(
        f"\nsafety screen on {len(positives)} positives and {len(negatives)} hard negatives: "
        f"recall {recall:.3f} (target 0.97), false-positive rate {false_positives:.3f} "
        "(target 0.05)"
    )
