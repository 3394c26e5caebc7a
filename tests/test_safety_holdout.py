"""The whole safety screen (cues, then the learned model) on sets nobody tuned it against.

``safety_examples.yaml`` holds the issue's targets (recall >= 0.97, false positives <= 0.05;
``test_safety_screen.py``). The sets here were written by people who never saw the cues,
the model or the other sets, and are never trained on (``core.safety.training`` lists what
is): they show how the screen does on messages it has never met. The floors are regression
guards at the level measured when the sets were added (printed under ``pytest -s``).

- ``safety_holdout3.yaml``: danger in many wordings, and hard negatives (figures of speech,
  games, films, a past that is over).
- ``safety_everyday_holdout.yaml``: ordinary messages a coach receives; only false alarms
  can be measured on it.
"""

from __future__ import annotations

from pathlib import Path

from core.safety import Category, screen
from core.safety.training import TRAINING_SETS, load_examples

DATA = Path(__file__).parent / "data"
HARD = "safety_holdout3.yaml"
RECALL_FLOOR = 0.85
HARD_FALSE_CEILING = 0.08
EVERYDAY_FALSE_CEILING = 0.06
EVERYDAY = "safety_everyday_holdout.yaml"


def test_held_out_sets_are_never_trained_on() -> None:
    assert HARD not in TRAINING_SETS and EVERYDAY not in TRAINING_SETS
    trained = {text for name in TRAINING_SETS for text, _ in load_examples(DATA / name)}
    for name in (HARD, EVERYDAY):
        assert trained.isdisjoint(text for text, _ in load_examples(DATA / name)), name


def test_held_out_danger_and_hard_negatives() -> None:
    examples = load_examples(DATA / HARD)
    positives = [(text, label) for text, label in examples if label is not Category.NONE]
    negatives = [text for text, label in examples if label is Category.NONE]
    verdicts = [(screen(text).category, label) for text, label in positives]
    recall = sum(found is not Category.NONE for found, _ in verdicts) / len(positives)
    accuracy = sum(found is label for found, label in verdicts) / len(positives)
    false = sum(screen(text).is_hit for text in negatives) / len(negatives)
    print(
        f"\nheld-out {HARD}: {len(positives)} positives, {len(negatives)} hard negatives: "
        f"recall {recall:.3f}, false-positive rate {false:.3f}, category accuracy {accuracy:.3f}"
    )
    assert recall >= RECALL_FLOOR
    assert false <= HARD_FALSE_CEILING


def test_held_out_everyday_messages_rarely_raise_an_alarm() -> None:
    texts = [text for text, _ in load_examples(DATA / EVERYDAY)]
    false = sum(screen(text).is_hit for text in texts) / len(texts)
    print(f"\nheld-out {EVERYDAY}: {len(texts)} everyday messages: false-alarm rate {false:.3f}")
    assert false <= EVERYDAY_FALSE_CEILING
