"""Safety screen cost: ``screen()`` against the text cleaning every message already gets.

Run from the project root::

    .venv/bin/python bench/screen_bench.py [--rounds 20]

Every typed message is cleaned (``core.text_input.clean_text``) and then screened, so the
baseline is the cleaning of the same texts, measured in the same run, interleaved round by
round. The texts are the labelled evaluation sets under ``tests/data``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from core.safety import screen
from core.text_input import clean_text

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def texts() -> list[str]:
    """Every example text of every evaluation set."""
    found: list[str] = []
    for path in sorted(DATA.glob("safety_*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        groups = [data["examples"]] if "examples" in data else list(data.values())
        for group in groups:
            found += [e if isinstance(e, str) else e["text"] for e in group]
    return found


def per_call(work: Callable[[str], object], corpus: list[str]) -> float:
    """Seconds per call of ``work`` over ``corpus`` once."""
    start = time.perf_counter()
    for text in corpus:
        work(text)
    return (time.perf_counter() - start) / len(corpus)


def main() -> None:
    """Print the screen's cost per message as a ratio of the cleaning's."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    corpus = texts()
    screened: list[float] = []
    cleaned: list[float] = []
    for _ in range(args.rounds):
        cleaned.append(per_call(clean_text, corpus))
        screened.append(per_call(screen, corpus))
    base, cost = statistics.median(cleaned), statistics.median(screened)
    print(f"{len(corpus)} texts, {args.rounds} interleaved rounds (medians)")
    print(f"baseline clean_text: {base * 1e6:.1f} µs per message")
    print(f"screen:              {cost * 1e6:.1f} µs per message")
    print(f"ratio screen / clean_text: {cost / base:.1f}")


if __name__ == "__main__":
    main()
