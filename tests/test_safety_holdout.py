"""The safety screen on held-out sets nobody tuned the cues against.

``safety_examples.yaml`` is the tuning set: the issue's targets (recall >= 0.97, false
positives <= 0.05) are asserted on it in ``test_safety_screen.py``. The held-out sets were
written separately, by people who never saw the cues or the tuning set, so they show how the
screen does on messages it has never met. Their floors are regression guards at the level
measured when they were added (printed under ``pytest -s``), not the targets.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from core.safety import Category, screen

DATA = Path(__file__).parent / "data"

FLOORS = {
    # file: (minimum recall, maximum false-positive rate).
    # safety_holdout.yaml: the themes of its misses (never its sentences) were described to
    # the second tuning round, so it is no longer fully clean. safety_holdout2.yaml is clean:
    # never read while tuning. Once anyone tunes against it, replace it with a fresh set.
    "safety_holdout.yaml": (0.90, 0.03),
    "safety_holdout2.yaml": (0.62, 0.05),
}


def figures(path: Path) -> tuple[float, float, float, int, int]:
    examples = yaml.safe_load(path.read_text(encoding="utf-8"))["examples"]
    positives = [e for e in examples if e["label"] != "none"]
    negatives = [e for e in examples if e["label"] == "none"]
    verdicts = {e["text"]: screen(e["text"]).category for e in examples}
    hits = sum(verdicts[e["text"]] is not Category.NONE for e in positives)
    false = sum(verdicts[e["text"]] is not Category.NONE for e in negatives)
    right = sum(verdicts[e["text"]] == Category(e["label"]) for e in positives)
    return (
        hits / len(positives),
        false / len(negatives),
        right / len(positives),
        len(positives),
        len(negatives),
    )


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_held_out_figures(name: str) -> None:
    recall, fpr, accuracy, positives, negatives = figures(DATA / name)
    print(
        f"\nheld-out {name}: {positives} positives, {negatives} hard negatives: "
        f"recall {recall:.3f}, false-positive rate {fpr:.3f}, category accuracy {accuracy:.3f}"
    )
    least_recall, most_fpr = FLOORS[name]
    assert recall >= least_recall
    assert fpr <= most_fpr
