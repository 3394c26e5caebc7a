"""Count the CPU instructions the scheduler spends per nudge: a figure a busy VM cannot blur.

Run from the project root (needs ``valgrind``, on every machine of this kind)::

    .venv/bin/python bench/scheduler_instructions.py            # 1,000 and 4,000 people
    .venv/bin/python bench/scheduler_instructions.py --root ../other-checkout   # compare

Wall-clock figures of ``scheduler_bench.py`` moved by ±30% between runs of the same code
on the shared VM. ``valgrind --tool=callgrind`` counts instructions instead, which repeat
to within about 1% whatever else the machine does. Each size runs in its own process:
set-up of a fresh SQLite copy, ``build_core``, then ``Scheduler.tick()`` and
``Sender.drain()`` (recording outbox, no pace, no injected chats), exactly the quiet burst
of ``scheduler_bench.py``. The difference between the two runs, divided by the difference
in people, is the cost of one more nudge: start-up and imports cancel out.

``--root`` runs another checkout's code (``git worktree add ../old <commit>``) on the
same database files, so two versions compare in one sitting.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent


def child(db: Path, due: datetime) -> None:
    """The measured part, in this process: tick and drain every due nudge."""
    from bots.app import build_core, settle_heap
    from core.settings import Settings
    from core.types import Platform
    from scheduler.clockwork import Scheduler
    from scheduler.pacing import UNLIMITED, SendGate
    from scheduler.recording import RecordingOutbox
    from scheduler.sender import Sender

    class Standing:
        """The clock one second after everything fell due, as in ``scheduler_bench``."""

        def now(self) -> datetime:
            return due + timedelta(seconds=1)

    async def run() -> None:
        clock = Standing()
        settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{db}")
        core = await build_core(settings, clock=clock)
        settle_heap()
        outbox = RecordingOutbox(db.with_suffix(".sent.jsonl"))
        scheduler = Scheduler(core.database, core.nudges, clock, retention_days=180)
        sender = Sender(
            Platform.TELEGRAM, core.database, outbox, SendGate(UNLIMITED), core.nudges, clock
        )
        await scheduler.tick()
        sent = await sender.drain()
        await core.database.close()
        print(f"sent {sent}")

    asyncio.run(run())


def instructions(root: Path, base: Path, due: datetime, work: Path) -> int:
    """Instructions of one child run on a copy of ``base``."""
    import scheduler_bench as sb

    db = sb.copy_database(base, work / f"run-{base.stem}.sqlite")
    env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{root / 'bench'}"}
    done = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={work / 'callgrind.out'}",
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            str(db),
            due.isoformat(),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    for path in work.glob(f"run-{base.stem}.*"):
        path.unlink()
    found = re.search(r"Collected : (\d+)", done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from valgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> int:
    """Set up two sizes, count each, print instructions per nudge."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=HERE.parent, help="checkout to measure")
    parser.add_argument("--small", type=int, default=1_000, help="people in the smaller run")
    parser.add_argument("--large", type=int, default=4_000, help="people in the larger run")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(Path(args.child[0]), datetime.fromisoformat(args.child[1]))
        return 0
    sys.path[:0] = [str(HERE.parent), str(HERE)]
    import scheduler_bench as sb

    with tempfile.TemporaryDirectory(prefix="mend-instructions-") as folder:
        work = Path(folder)
        counts = {}
        for people in (args.small, args.large):
            base = work / f"base{people}.sqlite"
            due = asyncio.run(sb.set_up(base, people))
            counts[people] = instructions(args.root.resolve(), base, due, work)
            print(f"  {people:>6,} people: {counts[people]:,} instructions (whole process)")
    per_item = (counts[args.large] - counts[args.small]) / (args.large - args.small)
    print(f"code: {args.root.resolve()}")
    print(f"instructions per nudge (tick + drain, quiet): {per_item:,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
