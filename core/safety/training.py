"""Train the safety screen's learned model from the labelled example sets.

``python -m core.safety.training`` rewrites ``core/safety/learned.json`` from the sets in
:data:`TRAINING_SETS`; a test retrains and checks the shipped file matches, so the weights
always come from the committed data and this code. Needs scikit-learn (a development
dependency); Mend itself reads the weights in pure Python (:mod:`core.safety.learned`).

The held-out set ``tests/data/safety_holdout3.yaml`` is never trained on: it measures how
the whole screen does on messages neither the cues nor the model have seen.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml

from core.safety.cues import Category
from core.safety.learned import MODEL_FILE, features
from core.safety.normalize import normalize

DATA = Path(__file__).resolve().parents[2] / "tests" / "data"
TRAINING_SETS = (
    "safety_examples.yaml",
    "safety_holdout.yaml",
    "safety_holdout2.yaml",
    "safety_dev.yaml",
    "safety_everyday.yaml",
    "safety_contrasts.yaml",
)
STRENGTH = 32.0
"""Inverse regularisation (scikit-learn's ``C``): chosen on the development set."""
THRESHOLD = 0.75
"""Risk probability at which the model speaks: chosen on the development set so the model
adds recall without more than about one false alarm in twenty hard negatives."""
DECIMALS = 5
"""Weights are stored rounded to this many decimals."""
CLASSES = (Category.NONE, Category.SELF_HARM, Category.PARTNER_HARM, Category.EMERGENCY)


def load_examples(path: Path) -> list[tuple[str, Category]]:
    """One labelled set: either ``examples: [{text, label}]`` or lists keyed by category."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if "examples" in data:
        return [(item["text"], Category(item["label"])) for item in data["examples"]]
    return [(text, Category(label)) for label, texts in data.items() for text in texts]


def training_examples(names: Iterable[str] = TRAINING_SETS) -> list[tuple[str, Category]]:
    """Every example of the named sets, in file order."""
    return [example for name in names for example in load_examples(DATA / name)]


def fit_estimator(
    examples: Sequence[tuple[str, Category]], *, strength: float = STRENGTH
) -> tuple[Any, Any]:
    """Fit scikit-learn's vectoriser and logistic regression; returns both."""
    from sklearn.feature_extraction import DictVectorizer  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    rows = [dict.fromkeys(features(normalize(text)), 1) for text, _ in examples]
    labels = [CLASSES.index(label) for _, label in examples]
    vectorizer = DictVectorizer()
    model = LogisticRegression(C=strength, max_iter=5000, class_weight="balanced")
    model.fit(unit_rows(vectorizer.fit_transform(rows)), labels)
    return vectorizer, model


def unit_rows(matrix: Any) -> Any:
    """Scale each row to length one, as :class:`LearnedScreen` does at run time."""
    from sklearn.preprocessing import normalize as scale  # type: ignore[import-untyped]

    return scale(matrix)


def export(vectorizer: Any, model: Any, *, examples: int, threshold: float) -> dict[str, Any]:
    """A fitted estimator in the shape ``learned.json`` stores."""
    names: list[str] = list(vectorizer.get_feature_names_out())
    order = [list(model.classes_).index(index) for index in range(len(CLASSES))]
    weights = {
        name: [round(float(model.coef_[row][column]), DECIMALS) for row in order]
        for column, name in enumerate(names)
    }
    return {
        "version": 1,
        "classes": [kind.value for kind in CLASSES],
        "intercepts": [round(float(model.intercept_[row]), DECIMALS) for row in order],
        "threshold": threshold,
        "trained_on": list(TRAINING_SETS),
        "examples": examples,
        "weights": {name: row for name, row in sorted(weights.items()) if any(row)},
    }


def fit(
    examples: Sequence[tuple[str, Category]],
    *,
    strength: float = STRENGTH,
    threshold: float = THRESHOLD,
) -> dict[str, Any]:
    """Fit the model and return it in the shape ``learned.json`` stores."""
    vectorizer, model = fit_estimator(examples, strength=strength)
    return export(vectorizer, model, examples=len(examples), threshold=threshold)


def dump(model: dict[str, Any]) -> str:
    """The model as stored: stable key order, one feature per line so diffs stay readable."""
    head = {key: value for key, value in model.items() if key != "weights"}
    lines = [json.dumps(head, sort_keys=True)[:-1] + ', "weights": {']
    items = list(model["weights"].items())
    for position, (name, row) in enumerate(items):
        comma = "," if position < len(items) - 1 else ""
        lines.append(f"{json.dumps(name)}: {json.dumps(row)}{comma}")
    lines.append("}}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] = ()) -> int:
    """Retrain and write the model file (or the path given)."""
    target = Path(argv[0]) if argv else MODEL_FILE
    examples = training_examples()
    model = fit(examples)
    target.write_text(dump(model), encoding="utf-8")
    print(f"trained on {len(examples)} examples; {len(model['weights'])} features -> {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
