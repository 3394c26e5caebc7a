"""The safety screen's learned model: shipped weights come from the committed data, the pure
Python scorer agrees with scikit-learn, and the model never overrules a cue that ruled a
message out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from core.safety import Category, Screening, screen
from core.safety.cues import BENIGN, CUES, CueError, load_benign
from core.safety.learned import LEARNED, MODEL_FILE, features, load_learned
from core.safety.normalize import normalize
from core.safety.training import (
    CLASSES,
    THRESHOLD,
    TRAINING_SETS,
    dump,
    export,
    fit_estimator,
    training_examples,
    unit_rows,
)

SAMPLES = (
    "i keep thinking everyone would manage fine without me",
    "he went through my bag again looking for receipts",
    "we had a lovely weekend away, first in ages",
    "she is outside banging on the door and screaming",
    "my mother in law keeps dropping by unannounced",
    "ok",
)


@pytest.fixture(scope="module")
def fitted() -> tuple[Any, Any]:
    """Training's vectoriser and model, fitted once for the tests below (about 3 s)."""
    return fit_estimator(training_examples())


@pytest.fixture(scope="module")
def retrained(fitted: tuple[Any, Any]) -> dict[str, Any]:
    """The model file training would write now, read back as stored."""
    vectorizer, model = fitted
    examples = len(training_examples())
    loaded: dict[str, Any] = json.loads(
        dump(export(vectorizer, model, examples=examples, threshold=THRESHOLD))
    )
    return loaded


def test_shipped_weights_are_what_training_on_the_committed_sets_makes(
    retrained: dict[str, Any],
) -> None:
    shipped = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    assert shipped["trained_on"] == list(TRAINING_SETS) == retrained["trained_on"]
    assert "safety_holdout3.yaml" not in shipped["trained_on"]
    assert shipped["threshold"] == retrained["threshold"] == THRESHOLD
    assert shipped["examples"] == retrained["examples"]
    fresh = retrained["weights"]
    assert isinstance(fresh, dict)
    assert set(shipped["weights"]) == set(fresh)
    worst = max(
        abs(a - b)
        for name, row in shipped["weights"].items()
        for a, b in zip(row, fresh[name], strict=True)
    )
    assert worst < 1e-3, "learned.json is stale: run python -m core.safety.training"


def test_run_time_scorer_agrees_with_scikit_learn(fitted: tuple[Any, Any]) -> None:
    vectorizer, model = fitted
    ours = load_learned()
    rows = [dict.fromkeys(features(normalize(text)), 1) for text in SAMPLES]
    theirs = model.predict_proba(unit_rows(vectorizer.transform(rows)))
    for text, row in zip(SAMPLES, theirs, strict=True):
        mine = ours.probabilities(normalize(text))
        for index, kind in enumerate(CLASSES):
            column = list(model.classes_).index(index)
            assert mine[kind] == pytest.approx(float(row[column]), abs=1e-3), (text, kind)


def test_word_pairs_never_cross_a_clause_boundary() -> None:
    found = features(normalize("I'm not. Okay fine"))
    assert "b:i am" in found and "b:am not" in found and "b:okay fine" in found
    assert "b:not okay" not in found
    assert "c: not" in found and "w:fine" in found


def test_a_wording_no_cue_covers_is_caught_by_the_model_and_named_not_quoted() -> None:
    wording = "i keep thinking everyone would manage fine without me"
    normal = normalize(wording)
    assert not any(cue.pattern.search(normal) for cue in CUES)
    assert LEARNED.judge(normal) is Category.SELF_HARM
    assert screen(wording) == Screening(Category.SELF_HARM, ("learned_self_harm",))


@pytest.mark.parametrize(
    "text",
    [
        "no, I'm not thinking of hurting myself",
        "I would never kill myself, I just need to vent",
        "I self harmed years ago when I was a teenager, I'm safe now",
    ],
)
def test_model_does_not_overrule_a_cue_that_ruled_the_message_out(text: str) -> None:
    assert screen(text).category is Category.NONE


def test_a_malformed_model_file_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "learned.json"
    bad.write_text(
        json.dumps(
            {
                "classes": ["none", "self_harm"],
                "intercepts": [0.0, 0.0],
                "threshold": 0.5,
                "weights": {"w:x": [1.0]},
            }
        ),
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="malformed"):
        load_learned(bad)


def test_a_known_harmless_wording_keeps_the_model_quiet_but_never_a_cue() -> None:
    harmless = "he threatened to leave me"
    assert LEARNED.judge(normalize(harmless)) is not Category.NONE
    assert BENIGN.search(normalize(harmless))
    assert screen(harmless).category is Category.NONE
    worse = "he threatened to leave me and said he will kill me"
    assert BENIGN.search(normalize(worse))
    assert screen(worse).category is Category.PARTNER_HARM
    assert not screen(worse).tentative


def test_a_cue_file_without_a_benign_section_is_refused(tmp_path: Path) -> None:
    bare = tmp_path / "cues.yaml"
    bare.write_text("groups: {}\ncues: []\n", encoding="utf-8")
    with pytest.raises(CueError, match="benign"):
        load_benign(bare)
