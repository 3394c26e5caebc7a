"""Run every Mend benchmark in turn, each in its own process, and say which finished.

Run from the project root::

    .venv/bin/python bench/all.py            # core, Telegram, Discord, screen and scheduler
    .venv/bin/python bench/all.py --quick    # a smaller run of each, for a smoke check

Each benchmark prints its own figures as ratios against a baseline measured in the same
run; ``bench/RESULTS.md`` records them with the commands. The exit status is non-zero if
any benchmark failed to run (a missed target is a result, not a failure).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = {
    "core_bench.py": ["--events", "2000", "--people", "200", "--warmup", "200"],
    "telegram_bench.py": ["--updates", "1000", "--people", "100", "--warmup", "200"],
    "discord_bench.py": ["--messages", "1000", "--people", "100", "--warmup", "200"],
    "screen_bench.py": ["--rounds", "5"],
    "scheduler_bench.py": ["--quick"],
    "pause_bench.py": ["--quick"],
}
"""Each benchmark with the arguments ``--quick`` gives it."""


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; return 0 if every one ran to the end."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a smoke check")
    args = parser.parse_args(argv)
    failed: list[str] = []
    for name, quick in BENCHMARKS.items():
        print(f"=== {name}", flush=True)
        command = [sys.executable, str(HERE / name), *(quick if args.quick else [])]
        if subprocess.run(command, check=False).returncode != 0:
            failed.append(name)
        print(flush=True)
    print("all benchmarks ran" if not failed else f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
