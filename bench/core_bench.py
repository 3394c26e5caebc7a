"""Benchmark ``CoachService.handle`` against a bare aiosqlite transaction per event.

Run from the project root::

    .venv/bin/python bench/core_bench.py            # 20,000 events from 2,000 people
    .venv/bin/python bench/core_bench.py --events 4000 --people 400   # quicker

What it measures:

* **core**: simulated people talk to the real ``CoachService`` (real content, a fresh,
  migrated SQLite file, ``SystemClock``) in Telegram private chats. Each person reacts to
  the replies they were actually given: they press the buttons they were shown (mostly the
  onboarding happy path), type a time zone or a time when asked (sometimes wrongly), and
  now and then send ``/help``, free text, ``/settings``, ``/cancel`` or an old button.
* **baseline**: per event, one bare aiosqlite transaction (explicit ``BEGIN``, one
  ``SELECT``, one ``UPDATE``, ``COMMIT``) on a SQLite file with the same PRAGMAs as
  ``core/storage/database.py`` and a table shaped like ``conversation_states`` holding one
  row per simulated person (2,000 by default).

Events run one at a time; ``time.perf_counter`` brackets each single ``await``, so the
simulation's own bookkeeping is not counted. Both sides are warmed up first, then run in
interleaved blocks (baseline, core, core, baseline, ...) so that noise from a shared
machine hits both alike. events/s is events divided by the summed per-event time.

This is a measurement, not a test: missing a target is reported, not an error. The exit
status is non-zero only when something goes wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar

import aiosqlite

from content import CONTENT_DIR
from core.clock import SystemClock
from core.content import load_content
from core.crypto import Cipher, generate_key
from core.service import CoachService
from core.storage import Database
from core.storage.database import SQLITE_BUSY_TIMEOUT_MS
from core.text_input import event_from_text
from core.types import (
    Button,
    ChatKind,
    ChatRef,
    EventKind,
    IncomingEvent,
    Platform,
    Reply,
    UserRef,
)

TARGET_RATIO = 0.3
"""Core events/s must be at least this share of the baseline's."""
TARGET_P99_MS = 15.0
"""Core p99 latency per event must not exceed this."""

WARMUP_USER_OFFSET = 900_000_000
"""Warm-up people get ids far from the measured ones, so they never share state."""

# What the simulated people type when asked for a time zone or a time.
TIMEZONES = ("Berlin", "London", "new york", "Tokyo", "UTC+2", "Europe/Madrid", "Chicago")
TIMES = ("7:30", "8", "07:00", "7.30pm", "21:15", "6am", "19h")
BAD_INPUT = ("asdf", "somewhere nice", "later", "??", "25:99")
FREE_TEXT = (
    "hi",
    "We had a fight last night and I don't know what to do",
    "can you help me talk to my partner?",
    "thanks",
    "I feel like we keep having the same argument 😞",
    "what should I say to her tonight?",
)

# Reply keys after which a person knows they are being asked to type something.
ASKS_TIMEZONE = frozenset(
    {
        "onboarding.ask_timezone",
        "settings.ask_timezone",
        "input.retype_timezone",
        "input.timezone_invalid",
    }
)
ASKS_TIME = frozenset({"onboarding.ask_time", "settings.ask_time", "input.time_invalid"})

# How strongly a person prefers each button choice (unlisted choices weigh 1), so most
# people take the onboarding happy path and a few go astray.
CHOICE_WEIGHTS = {"adult": 19.0, "agree": 14.0, "yes": 9.0}


@dataclass
class Person:
    """One simulated person: what they have been shown, so they can react to it."""

    user: UserRef
    chat: ChatRef
    started: bool = False
    onboarded: bool = False
    buttons: tuple[Button, ...] = ()
    old_buttons: tuple[Button, ...] = ()
    awaiting: str | None = None  # "timezone", "time" or None

    def remember(self, replies: Sequence[Reply], was_help: bool) -> None:
        """Update what this person believes is on screen after ``replies``."""
        keys = {reply.key for reply in replies}
        if "onboarding.done" in keys:
            self.onboarded = True
        if "onboarding.declined" in keys or "onboarding.under_age" in keys:
            self.onboarded = False
        offered = next((r.buttons for r in reversed(replies) if r.buttons), ())
        if offered:
            self.old_buttons = self.buttons or self.old_buttons
            self.buttons, self.awaiting = offered, None
        elif keys & ASKS_TIMEZONE:
            self.buttons, self.awaiting = (), "timezone"
        elif keys & ASKS_TIME:
            self.buttons, self.awaiting = (), "time"
        elif not was_help:  # /help changes nothing; anything else without a question ends
            if self.buttons:
                self.old_buttons = self.buttons
            self.buttons, self.awaiting = (), None


@dataclass
class Simulation:
    """Decides, with a seeded random generator, what each person does next."""

    rng: random.Random
    mix: Counter[str] = field(default_factory=Counter)

    def next_event(self, person: Person) -> IncomingEvent:
        """Return what ``person`` does now, given what they were last shown."""
        rng = self.rng
        roll = rng.random()
        if not person.started:
            person.started = True
            if roll < 0.9:
                return self._typed(person, "/start")
            return self._typed(person, rng.choice(FREE_TEXT), "free text")
        if person.buttons:
            if roll < 0.84:
                return self._press(person, self._pick(person.buttons))
            if roll < 0.90:
                return self._typed(person, "/help")
            if roll < 0.94:
                return self._typed(person, rng.choice(FREE_TEXT), "free text")
            if roll < 0.97 and person.old_buttons:
                return self._press(person, rng.choice(person.old_buttons), "old button")
            return self._typed(person, "/cancel")
        if person.awaiting is not None:
            if roll < 0.85:
                answers = TIMEZONES if person.awaiting == "timezone" else TIMES
                return self._typed(person, rng.choice(answers), "typed answer")
            if roll < 0.92:
                return self._typed(person, rng.choice(BAD_INPUT), "unclear answer")
            return self._typed(person, "/help" if roll < 0.96 else "/cancel")
        if person.onboarded:
            if roll < 0.45:
                return self._typed(person, rng.choice(FREE_TEXT), "free text")
            if roll < 0.65:
                return self._typed(person, "/help")
            if roll < 0.90:
                return self._typed(person, "/settings")
            return self._typed(person, "/start" if roll < 0.95 else "/cancel")
        if roll < 0.55:
            return self._typed(person, "/start")
        if roll < 0.80:
            return self._typed(person, rng.choice(FREE_TEXT), "free text")
        return self._typed(person, "/help" if roll < 0.92 else "/settings")

    def _pick(self, buttons: tuple[Button, ...]) -> Button:
        weights = [CHOICE_WEIGHTS.get(b.payload.rsplit(":", 1)[-1], 1.0) for b in buttons]
        return self.rng.choices(buttons, weights=weights)[0]

    def _typed(self, person: Person, text: str, kind: str | None = None) -> IncomingEvent:
        self.mix[kind or text] += 1
        return event_from_text(person.chat, person.user, text, datetime.now(UTC))

    def _press(self, person: Person, button: Button, kind: str = "button") -> IncomingEvent:
        self.mix[kind] += 1
        return IncomingEvent(
            kind=EventKind.BUTTON,
            chat=person.chat,
            user=person.user,
            at=datetime.now(UTC),
            payload=button.payload,
        )


def make_people(count: int, first_id: int) -> list[Person]:
    """Return ``count`` Telegram people, each in their own private chat."""
    people = []
    for n in range(count):
        user = UserRef(Platform.TELEGRAM, str(first_id + n), display_name=f"Person {n}")
        people.append(Person(user, ChatRef(Platform.TELEGRAM, user.user_id, ChatKind.PRIVATE)))
    return people


def turn_order(events: int, people: int, rng: random.Random) -> list[int]:
    """Return which person acts at each event: everyone equally often, interleaved."""
    order = [n % people for n in range(events)]
    rng.shuffle(order)
    return order


class CoreSide:
    """The real service on a fresh SQLite file, driven by simulated people."""

    def __init__(self, service: CoachService, people: list[Person], seed: int) -> None:
        self._service = service
        self._people = people
        self._simulation = Simulation(random.Random(seed))
        self.replies: Counter[str] = Counter()

    @property
    def mix(self) -> Counter[str]:
        """How many events of each kind were sent so far."""
        return self._simulation.mix

    async def run(self, turns: Sequence[int]) -> list[float]:
        """Play ``turns`` (person indexes) one event at a time; return seconds per event."""
        timings: list[float] = []
        for index in turns:
            person = self._people[index]
            event = self._simulation.next_event(person)
            started = time.perf_counter()
            replies = await self._service.handle(event)
            timings.append(time.perf_counter() - started)
            self.replies.update(reply.key for reply in replies)
            person.remember(replies, was_help=event.command == "help")
        return timings


class BaselineSide:
    """One bare aiosqlite transaction per event on a table like ``conversation_states``."""

    def __init__(self, connection: aiosqlite.Connection, keys: Sequence[str]) -> None:
        self._connection = connection
        self._keys = keys

    @classmethod
    async def open(cls, path: Path, rows: int) -> BaselineSide:
        """Create the file with core's PRAGMAs and ``rows`` rows, and connect to it."""
        connection = await aiosqlite.connect(path, isolation_level=None)
        for pragma in (
            "PRAGMA journal_mode=WAL",
            f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA foreign_keys=ON",
        ):
            await connection.execute(pragma)
        await connection.execute(
            "CREATE TABLE states (key VARCHAR(200) PRIMARY KEY, flow VARCHAR(64), "
            "step VARCHAR(64), version INTEGER NOT NULL, updated_at DATETIME NOT NULL)"
        )
        keys = [f"u:telegram:{n}" for n in range(rows)]
        now = datetime.now(UTC).isoformat(" ")
        await connection.execute("BEGIN")
        await connection.executemany(
            "INSERT INTO states VALUES (?, 'onboarding', 'intro', 1, ?)",
            [(key, now) for key in keys],
        )
        await connection.execute("COMMIT")
        return cls(connection, keys)

    async def transaction(self, key: str) -> None:
        """Read one row and bump its version, in one transaction."""
        connection = self._connection
        await connection.execute("BEGIN")
        async with connection.execute(
            "SELECT flow, step, version FROM states WHERE key = ?", (key,)
        ) as cursor:
            row = await cursor.fetchone()
        if row is None:
            raise RuntimeError(f"baseline row {key} is missing")
        await connection.execute(
            "UPDATE states SET version = ?, updated_at = ? WHERE key = ? AND version = ?",
            (row[2] + 1, datetime.now(UTC).isoformat(" "), key, row[2]),
        )
        await connection.execute("COMMIT")

    async def run(self, turns: Sequence[int]) -> list[float]:
        """One transaction per turn on that person's row; return seconds per event."""
        timings: list[float] = []
        for index in turns:
            key = self._keys[index % len(self._keys)]
            started = time.perf_counter()
            await self.transaction(key)
            timings.append(time.perf_counter() - started)
        return timings

    async def close(self) -> None:
        """Close the connection."""
        await self._connection.close()


@dataclass(frozen=True, slots=True)
class Figures:
    """Throughput and latency of one side over a set of events."""

    events: int
    per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float

    @classmethod
    def of(cls, timings: Sequence[float]) -> Figures:
        """Summarise per-event timings (seconds)."""
        ordered = sorted(timings)
        return cls(
            events=len(ordered),
            per_s=len(ordered) / sum(ordered),
            p50_ms=percentile(ordered, 50) * 1000,
            p99_ms=percentile(ordered, 99) * 1000,
            max_ms=ordered[-1] * 1000,
        )

    def line(self, name: str) -> str:
        """One aligned line of output."""
        return (
            f"{name:<9} {self.events:>7,} events  {self.per_s:>8,.0f} events/s  "
            f"p50 {self.p50_ms:6.2f} ms  p99 {self.p99_ms:6.2f} ms  max {self.max_ms:7.2f} ms"
        )


def percentile(ordered: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    return ordered[max(1, math.ceil(len(ordered) * pct / 100)) - 1]


T = TypeVar("T")


def blocks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """Split ``items`` into consecutive blocks of ``size`` (the last may be shorter)."""
    return [items[start : start + size] for start in range(0, len(items), size)]


def parse_bench_args(
    argv: Sequence[str] | None, description: str, *, unit: str, count: int, people: int, block: int
) -> argparse.Namespace:
    """Read a benchmark's command line: ``--{unit}``, people, block size, warm-up and seed."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(f"--{unit}", type=int, default=count, help=f"timed {unit} per side")
    parser.add_argument("--people", type=int, default=people, help="simulated people")
    parser.add_argument(
        "--block-size", type=int, default=block, help=f"{unit} per side per interleaved block"
    )
    parser.add_argument("--warmup", type=int, default=500, help=f"untimed {unit} per side")
    parser.add_argument("--seed", type=int, default=20261121, help="mix seed")
    args = parser.parse_args(argv)
    for name in (unit, "people", "block_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    return args


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the command line."""
    description = (__doc__ or "").split("\n\n")[0]
    return parse_bench_args(argv, description, unit="events", count=20_000, people=2_000, block=100)


T_contra = TypeVar("T_contra", contravariant=True)


@dataclass
class Run:
    """Per-item timings of the measured side and its baseline, and each block's ratio."""

    subject: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    block_ratios: list[float] = field(default_factory=list)


class TimedSide(Protocol[T_contra]):
    """Anything that runs a block of items and returns seconds per item."""

    async def run(self, chunk: Sequence[T_contra]) -> list[float]: ...


async def interleave(
    subject: TimedSide[T_contra],
    baseline: TimedSide[T_contra],
    chunks: Sequence[Sequence[T_contra]],
    *,
    names: tuple[str, str] = ("core", "baseline"),
    unit: str = "events",
) -> Run:
    """Run each block on both sides, alternating which goes first; print progress by tenths."""
    run = Run()
    tenth = max(1, len(chunks) // 10)
    for n, chunk in enumerate(chunks):
        if n % 2 == 0:
            base_times = await baseline.run(chunk)
            subject_times = await subject.run(chunk)
        else:
            subject_times = await subject.run(chunk)
            base_times = await baseline.run(chunk)
        run.subject += subject_times
        run.baseline += base_times
        run.block_ratios.append(sum(base_times) / sum(subject_times))
        if (n + 1) % tenth == 0 or n + 1 == len(chunks):
            done = len(run.subject)
            since = sum(len(c) for c in chunks[max(0, n + 1 - tenth) : n + 1])
            part = Figures.of(run.subject[done - since :])
            base = Figures.of(run.baseline[done - since :])
            print(
                f"  {unit} {done - since + 1:>6,}-{done:<6,} {names[0]} {part.per_s:>6,.0f}/s "
                f"p99 {part.p99_ms:5.2f} ms | {names[1]} {base.per_s:>6,.0f}/s "
                f"p99 {base.p99_ms:5.2f} ms | ratio {part.per_s / base.per_s:.3f}",
                flush=True,
            )
    return run


async def bench(args: argparse.Namespace) -> None:
    """Set both sides up, warm them, run the interleaved blocks and print the figures."""
    rng = random.Random(args.seed)
    turns = turn_order(args.events, args.people, rng)
    warm_people = max(1, min(args.people, args.warmup // 10))
    warm_turns = turn_order(args.warmup, warm_people, rng)
    print(
        f"Mend core benchmark: {args.events:,} events from {args.people:,} people "
        f"(seed {args.seed}), python {platform.python_version()} on {os.cpu_count()} cpus"
    )

    with tempfile.TemporaryDirectory(prefix="mend-bench-") as folder:
        database = Database(f"sqlite+aiosqlite:///{Path(folder) / 'mend.db'}")
        baseline = await BaselineSide.open(Path(folder) / "baseline.db", args.people)
        try:
            await database.migrate()
            service = CoachService(
                load_content(CONTENT_DIR),
                database,
                SystemClock(),
                cipher=Cipher([generate_key()]),
                default_timezone="UTC",
            )
            core = CoreSide(service, make_people(args.people, first_id=1), seed=args.seed)
            warm_core = CoreSide(
                service, make_people(warm_people, WARMUP_USER_OFFSET), seed=args.seed + 1
            )
            await warm_core.run(warm_turns)
            await baseline.run(warm_turns)
            run = await interleave(core, baseline, blocks(turns, args.block_size))
        finally:
            await baseline.close()
            await database.close()

    report(args, run, core)


def report(args: argparse.Namespace, run: Run, core_side: CoreSide) -> None:
    """Print the figures, the targets and how they were measured."""
    core, base = Figures.of(run.subject), Figures.of(run.baseline)
    ratio = core.per_s / base.per_s
    quartiles = statistics.quantiles(run.block_ratios, n=4) if len(run.block_ratios) > 1 else []
    mix = ", ".join(f"{name} {count:,}" for name, count in core_side.mix.most_common())
    print()
    print(f"event mix: {mix}")
    print(
        f"replies: {sum(core_side.replies.values()):,}; finished onboarding: "
        f"{core_side.replies['onboarding.done']:,}; stale buttons: "
        f"{core_side.replies['common.stale_button']:,}"
    )
    print(
        f"method: one event at a time, perf_counter around each await; {args.warmup} untimed "
        f"warm-up events per side; {len(run.block_ratios)} interleaved blocks of "
        f"{args.block_size} events per side, alternating which side goes first; "
        "events/s = events / summed per-event time"
    )
    print()
    print(core.line("core"))
    print(base.line("baseline"))
    print()
    spread = (
        f" (per-block median {statistics.median(run.block_ratios):.3f}, "
        f"quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f})"
        if quartiles
        else ""
    )
    print(f"ratio core/baseline events/s: {ratio:.3f}{spread}")
    verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
    print(f"target ratio >= {TARGET_RATIO}: {verdict} ({ratio:.3f})")
    verdict = "met" if core.p99_ms <= TARGET_P99_MS else "MISSED"
    print(f"target core p99 <= {TARGET_P99_MS:g} ms: {verdict} ({core.p99_ms:.2f} ms)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    args = parse_args(argv)
    asyncio.run(bench(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
