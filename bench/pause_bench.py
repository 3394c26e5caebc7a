"""Benchmark ``/pause`` through the core on a SQLite file with 10,000 couples, against ``/help``.

Run from the project root::

    .venv/bin/python bench/pause_bench.py            # 10,000 couples, 3,000 pauses
    .venv/bin/python bench/pause_bench.py --quick    # 2,000 couples, 600 pauses

What it measures (issue 7, "Must show": ``/pause`` reply latency, p99 <= 20 ms):

* **set-up** (untimed): a fresh, migrated SQLite file holding N couples: 2N onboarded
  Telegram people, written by the real repositories in large transactions (a profile
  saved as onboarding saves it, the morning subscription that follows it, the pair, the
  linked group, a code word for every other couple, and one ended break a week earlier
  for each couple, so the break tables are not empty). A third of the couples live in
  different time zones, so their notices show both partners' clocks.
* **pause** (timed): ``build_core`` on the file (with ``settle_heap`` as ``mend run``
  does), then ``/pause`` from a random partner of a random couple, alternately in the
  couple's linked group and in the caller's private chat, through the real
  ``CoachService.handle``. The clock moves 25 minutes after every pause, so the previous
  break of any couple drawn again has run out and every call starts a real break (group
  notice, both partners' calming steps, the break-end timer); a caller who would pass the
  cap of 3 pauses in 24 hours is not drawn. Every answer is checked: it must start with
  the group notice.
* **baseline** (timed): the same number of ``/help`` commands from random people in
  private, through the same ``CoachService.handle`` on the same database.
* Both are warmed up first, then run in interleaved blocks (help, pause, pause, help, ...)
  so noise on a shared machine hits both alike. ``time.perf_counter`` brackets each
  single ``await``.

This is a measurement, not a test: a missed target is reported, not an error. The exit
status is non-zero only when something goes wrong (an answer that is not a break).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import math
import os
import platform
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

from sqlalchemy import Connection

from bots.app import build_core, settle_heap
from core.profile import Profile, Situation
from core.service import CoachService
from core.service.breaks import NOTICE
from core.settings import Settings
from core.storage import Database, UserRepository
from core.storage.breaks import BreakRepository
from core.storage.couples import CoupleRepository
from core.storage.subscriptions import SubscriptionRepository
from core.text_input import event_from_text
from core.types import ChatKind, ChatRef, IncomingEvent, Platform, UserRef

TARGET_P99_MS = 20.0
"""p99 latency of ``/pause`` through ``CoachService.handle``."""
SETUP_AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
"""When the couples set up and paired."""
BENCH_START = SETUP_AT + timedelta(days=7)
"""The clock's start: a week later (their earlier breaks are long over)."""
STEP = timedelta(minutes=25)
"""The clock moves this much after every pause: longer than a default break."""
CAP = 3
"""Pauses one person may call in 24 hours before the cap's reflection (the default)."""
ZONES = ("Europe/Berlin", "Europe/London", "America/New_York", "Asia/Kolkata", "UTC")
SETUP_COUPLES = 500
"""Couples per set-up transaction."""
BLOCK = 250
"""Events per timed block."""
WARMUP = 100
"""Untimed events of each kind before the blocks."""
FIRST_ID = 50_000_000
"""Platform user ids of the people start here; groups are ``-<couple number>``."""


@dataclass
class Town:
    """Who is in the database: each couple's two people and their linked group."""

    couples: list[tuple[UserRef, UserRef, ChatRef]] = field(default_factory=list)


class StepClock:
    """A clock the benchmark moves by hand."""

    def __init__(self, current: datetime) -> None:
        self.current = current

    def now(self) -> datetime:
        """The instant the clock stands at."""
        return self.current


def percentile(ordered: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    return ordered[max(1, math.ceil(len(ordered) * pct / 100)) - 1]


def sqlite_url(path: Path) -> str:
    """The ``DATABASE_URL`` of a SQLite file."""
    return f"sqlite+aiosqlite:///{path}"


# ---------------------------------------------------------------------------------- set-up


def person(number: int, name: str) -> UserRef:
    """The ``number``-th person of the town."""
    return UserRef(Platform.TELEGRAM, str(FIRST_ID + number), display_name=name)


def onboarded(user: UserRef, zone: str, number: int) -> Profile:
    """The profile onboarding would have saved for ``user``."""
    return Profile(
        user=user,
        is_adult=True,
        consented=True,
        timezone=zone,
        daily_time=clock_time(7 + number % 3, 30),
        situation=Situation.TOGETHER_STRUGGLING,
        onboarded_at=SETUP_AT,
    )


def settle_couples(connection: Connection, first: int, last: int, town: Town) -> None:
    """Write couples ``first`` to ``last - 1`` through the real repositories."""
    users, subscriptions = UserRepository(connection), SubscriptionRepository(connection)
    couples, breaks = CoupleRepository(connection), BreakRepository(connection)
    for n in range(first, last):
        zone = ZONES[n % len(ZONES)]
        other_zone = ZONES[(n + 1) % len(ZONES)] if n % 3 == 0 else zone
        sam, alex = person(2 * n, f"Sam{n}"), person(2 * n + 1, f"Alex{n}")
        for user, where in ((sam, zone), (alex, other_zone)):
            users.create(user, SETUP_AT)
            profile = onboarded(user, where, n)
            users.save(profile, SETUP_AT)
            subscriptions.follow(profile, "UTC", SETUP_AT)
        couple = couples.pair(sam, sam.display_name, alex, alex.display_name, SETUP_AT)
        group = ChatRef(Platform.TELEGRAM, f"-{n + 1}", ChatKind.GROUP)
        couples.link(couple.id, group, SETUP_AT)
        if n % 2 == 0:
            couples.propose_codeword(couple.id, f"word{n}", couple.partners[0].member_id)
            couples.confirm_codeword(couple.id)
        earlier = SETUP_AT + timedelta(hours=1)
        caller = couple.partners[n % 2].member_id
        past = breaks.start(couple.id, caller, earlier, earlier + timedelta(minutes=20))
        breaks.end(past.id, earlier + timedelta(minutes=15))
        town.couples.append((sam, alex, group))


async def set_up(path: Path, count: int) -> Town:
    """Create and fill the database file."""
    database = Database(sqlite_url(path))
    town = Town()
    try:
        await database.migrate()
        for first in range(0, count, SETUP_COUPLES):
            last = min(count, first + SETUP_COUPLES)
            await database.run(functools.partial(settle_couples, first=first, last=last, town=town))
    finally:
        await database.close()
    return town


# ---------------------------------------------------------------------------------- timed


@dataclass
class Caller:
    """Picks who pauses next: a random couple and partner not past the cap."""

    town: Town
    rng: random.Random
    calls: dict[str, list[datetime]] = field(default_factory=dict)
    turn: int = 0

    def next(self, now: datetime) -> IncomingEvent:
        """The next ``/pause``: in the group and in private, alternately."""
        while True:
            sam, alex, group = self.rng.choice(self.town.couples)
            user = self.rng.choice((sam, alex))
            recent = [t for t in self.calls.get(user.user_id, []) if t > now - timedelta(hours=24)]
            if len(recent) < CAP:
                break
        self.calls[user.user_id] = [*recent, now]
        self.turn += 1
        private = ChatRef(Platform.TELEGRAM, user.user_id, ChatKind.PRIVATE)
        chat = group if self.turn % 2 else private
        return event_from_text(chat, user, "/pause", now)


def helper(town: Town, rng: random.Random, now: datetime) -> IncomingEvent:
    """A ``/help`` from a random person, in private."""
    user = rng.choice(rng.choice(town.couples)[:2])
    private = ChatRef(Platform.TELEGRAM, user.user_id, ChatKind.PRIVATE)
    return event_from_text(private, user, "/help", now)


@dataclass
class Timings:
    """What the timed part found."""

    pause: list[float] = field(default_factory=list)
    help: list[float] = field(default_factory=list)
    first_keys: Counter[str] = field(default_factory=Counter)
    where: Counter[str] = field(default_factory=Counter)


async def pause_once(
    service: CoachService, caller: Caller, clock: StepClock, timings: Timings | None
) -> None:
    """One timed ``/pause``; the clock then moves past the break's end."""
    event = caller.next(clock.now())
    started = time.perf_counter()
    replies = await service.handle(event)
    spent = time.perf_counter() - started
    clock.current += STEP
    if timings is not None:
        timings.pause.append(spent)
        timings.first_keys[replies[0].key if replies else "(nothing)"] += 1
        timings.where["private" if event.chat.is_private else "group"] += 1


async def help_once(
    service: CoachService, town: Town, rng: random.Random, clock: StepClock, timings: Timings | None
) -> None:
    """One timed ``/help``."""
    event = helper(town, rng, clock.now())
    started = time.perf_counter()
    await service.handle(event)
    if timings is not None:
        timings.help.append(time.perf_counter() - started)


async def measure(path: Path, town: Town, pauses: int, seed: int) -> Timings:
    """Warm up, then interleaved blocks of ``/help`` and ``/pause``."""
    clock = StepClock(BENCH_START)
    core = await build_core(Settings(_env_file=None, database_url=sqlite_url(path)), clock=clock)
    settle_heap()  # as mend run does after start-up
    rng = random.Random(seed)
    caller = Caller(town, random.Random(seed + 1))
    timings = Timings()
    try:
        for _ in range(WARMUP):
            await pause_once(core.service, caller, clock, None)
            await help_once(core.service, town, rng, clock, None)
        blocks = math.ceil(pauses / BLOCK)
        for block in range(blocks):
            size = min(BLOCK, pauses - block * BLOCK)
            order = ("help", "pause") if block % 2 == 0 else ("pause", "help")
            for kind in order:
                for _ in range(size):
                    if kind == "pause":
                        await pause_once(core.service, caller, clock, timings)
                    else:
                        await help_once(core.service, town, rng, clock, timings)
    finally:
        await core.database.close()
    return timings


# ---------------------------------------------------------------------------------- report


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--couples", type=int, default=10_000, help="couples in the database")
    parser.add_argument("--pauses", type=int, default=3_000, help="timed /pause commands")
    parser.add_argument("--quick", action="store_true", help="2,000 couples, 600 pauses")
    parser.add_argument("--seed", type=int, default=20261122, help="who pauses, who asks /help")
    args = parser.parse_args(argv)
    if args.quick:
        args.couples, args.pauses = 2_000, 600
    if args.couples < 10 or args.pauses < 1:
        parser.error("--couples must be at least 10 and --pauses at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Set up, measure, report."""
    args = parse_args(argv)
    print(
        f"Mend pause benchmark: {args.couples:,} couples, {args.pauses:,} pauses, "
        f"python {platform.python_version()} on {os.cpu_count()} cpus, "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="mend-pause-bench-") as folder:
        path = Path(folder) / "couples.db"
        started = time.perf_counter()
        town = asyncio.run(set_up(path, args.couples))
        print(
            f"  set-up: {len(town.couples):,} couples ({2 * len(town.couples):,} people, "
            f"each couple with a linked group) in {time.perf_counter() - started:.1f} s "
            "(untimed)",
            flush=True,
        )
        timings = asyncio.run(measure(path, town, args.pauses, args.seed))
    report(args, timings)
    wrong = problems(args, timings)
    for line in wrong:
        print(f"ERROR: {line}")
    return 1 if wrong else 0


def problems(args: argparse.Namespace, timings: Timings) -> list[str]:
    """What went wrong, as opposed to a missed target: a pause that did not start a break."""
    found = []
    if len(timings.pause) != args.pauses or len(timings.help) != args.pauses:
        found.append(f"timed {len(timings.pause)} pauses and {len(timings.help)} helps")
    other = {k: v for k, v in timings.first_keys.items() if k != NOTICE}
    if other:
        found.append(f"pauses answered without a group notice: {other}")
    return found


def report(args: argparse.Namespace, timings: Timings) -> None:
    """Print the figures and the target."""
    pause, baseline = sorted(timings.pause), sorted(timings.help)
    p50, p99, top = (percentile(pause, 50), percentile(pause, 99), pause[-1])
    b50, b99, btop = (percentile(baseline, 50), percentile(baseline, 99), baseline[-1])
    where = ", ".join(f"{k} {v:,}" for k, v in sorted(timings.where.items()))
    answers = ", ".join(f"{k} {v:,}" for k, v in timings.first_keys.most_common())
    print()
    print(
        f"/pause  p50 {p50 * 1000:6.2f} ms  p99 {p99 * 1000:6.2f} ms  max {top * 1000:6.2f} ms  "
        f"({len(pause):,} calls: {where}; first reply {answers})"
    )
    print(
        f"/help   p50 {b50 * 1000:6.2f} ms  p99 {b99 * 1000:6.2f} ms  max {btop * 1000:6.2f} ms  "
        f"({len(baseline):,} calls, baseline)"
    )
    print(
        "method: set-up untimed through the real repositories; build_core + settle_heap; "
        f"{WARMUP} warm-up calls of each; then blocks of {BLOCK} /help and {BLOCK} /pause, "
        "interleaved (help, pause, pause, help, ...); the clock moves "
        f"{int(STEP.total_seconds() // 60)} minutes after each pause so every pause starts a "
        "real break"
    )
    print()
    print(f"ratio /pause / /help p50: {p50 / b50:.2f}")
    print(f"ratio /pause / /help p99: {p99 / b99:.2f}")
    print(
        f"target /pause p99 <= {TARGET_P99_MS:g} ms: {verdict(p99 * 1000 <= TARGET_P99_MS)} "
        f"({p99 * 1000:.2f} ms)"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


def verdict(met: bool) -> str:
    """How a target came out."""
    return "met" if met else "MISSED"


if __name__ == "__main__":
    sys.exit(main())
