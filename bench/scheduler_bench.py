"""Benchmark the scheduler: 100,000 morning nudges due at once, against a bare claim loop.

Run from the project root::

    .venv/bin/python bench/scheduler_bench.py            # 100,000 people, 750 paced sends
    .venv/bin/python bench/scheduler_bench.py --quick    # 10,000 people, 250 paced sends
    .venv/bin/python bench/scheduler_bench.py --tick-batch 200 --send-batch 100   # what-if

What it measures (issue 6, "Benchmark"):

* **set-up** (untimed): a fresh, migrated SQLite file holding N onboarded Telegram people,
  each with a morning subscription. Users and subscriptions are bulk-inserted with
  SQLAlchemy Core, but every ``next_due_at`` comes from the real computation
  (``core.schedule.local_time.next_due`` with the person's spread offset and the default
  quiet hours) for 07:30 local in ten zones that share UTC+2 in June. The default quiet
  hours (22:00-08:00) push 07:30 and its spread to 08:00 local, so all N are due at the
  same instant, 06:00 UTC. Each timed run gets its own copy of this file.
* **burst** (timed, in a fresh process so its peak RSS is its own): ``build_core`` on the
  copy, a ``Scheduler`` with the core's real ``NudgeDesk`` as renderer and the
  ``Sender`` that ``Scheduler.attach`` builds, on a ``RecordingOutbox`` behind
  ``SendGate(UNLIMITED)``, the clock fixed one second after the due instant.
  The sender runs as in ``mend run`` (``Sender.run``, held while the tick queues on
  SQLite, see ``Scheduler.tick``) while ``Scheduler.tick()`` queues every due
  subscription (``TICK_BATCH`` per transaction); the run ends when the tick has returned
  and the sender is idle (``Sender.idle``): every item claimed, rendered, recorded to
  the file and settled. items/s = N / the time from the tick's start to then. Meanwhile
  a probe task sleeps 5 ms in a loop and records how late it wakes (how long the event
  loop was blocked; the same probe first runs 1 s on the idle loop, as the machine's
  floor), every garbage collection is timed, and every 20 ms a private "hi" from a
  random onboarded person goes through the real ``CoachService.handle`` on the same
  database.
* **baseline** (timed, fresh process, own copy): a bare ``sqlite3`` loop with the same
  PRAGMAs that selects the due subscription ids (``WHERE active AND next_due_at <= now
  ORDER BY next_due_at LIMIT batch``) and moves them a day on (``UPDATE ... WHERE id IN
  (...)``), one transaction per batch of the tick's size, until none remain.
* **sql floor** (timed, fresh process, own copy): the statements ``queue_due``, ``claim``
  and ``settle`` execute, compiled from the same SQLAlchemy objects and run bare with
  ``sqlite3`` in the same transactions and batches, with constant values: what the
  design costs in the database alone, with no Python logic, rendering or sending.
* Baseline, floor, burst, floor, baseline run in that order; the baseline and floor
  figures are the means of their two runs. Then, as an extra labelled figure only, the
  burst once more without the injected interactive events ("quiet"): the targets are
  judged on the burst with them.
* **pacing**: a smaller run (750 people) through
  ``SendGate(PlatformLimits(overall_per_s=30, bulk_per_s=25))`` on the real monotonic
  clock; messages/s from the first send to the last, and its deviation from 25/s.

This is a measurement, not a test: a missed target is reported, not an error. The exit
status is non-zero only when something goes wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import math
import os
import platform
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.dialects import sqlite

from bots.app import build_core, settle_heap
from content import CONTENT_DIR
from core.content import load_content
from core.program.plan import EMPTY_PLAN, Catalogue, Person, build_plan, encode_plan
from core.schedule.local_time import DEFAULT_QUIET, next_due, spread_offset
from core.service.nudges import NudgeDesk
from core.settings import Settings
from core.storage import Database
from core.storage.database import SQLITE_BUSY_TIMEOUT_MS

# The statements the tick and the sender execute, for the bare SQL floor.
from core.storage.deliveries import _CLAIM, _MARK
from core.storage.subscriptions import _ADVANCE, _DUE, _INSERT_DELIVERY, person_key
from core.storage.tables import deliveries, subscriptions, users
from core.text_input import event_from_text
from core.timezones import resolve_timezone
from core.types import ChatKind, ChatRef, Platform, Reply, UserRef
from scheduler.clockwork import TICK_BATCH, Scheduler
from scheduler.pacing import UNLIMITED, PlatformLimits, SendGate
from scheduler.recording import RecordingOutbox
from scheduler.sender import UNPACED_BATCH

TARGET_RATE = 10_000.0
"""Claimed-and-delivered items/s in the unpaced burst."""
TARGET_RATIO = 0.5
"""Burst items/s as a share of the baseline's."""
TARGET_RSS_MB = 300.0
"""Peak resident memory of the process running the burst."""
TARGET_BLOCK_MS = 50.0
"""Longest the event loop may be blocked during the burst."""
TARGET_P99_MS = 50.0
"""p99 latency of an interactive event answered during the burst."""
TARGET_PACE = 25.0
"""Bulk messages/s of the simulated limit."""
TARGET_PACE_DEVIATION = 0.03
"""Delivered messages/s must be within this share of the limit."""

SETUP_AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
"""When the people set their daily time: their next 07:30 is the morning after."""
LOCAL_TIME = "07:30"
ZONES = (
    "Europe/Berlin",
    "Europe/Paris",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Amsterdam",
    "Europe/Stockholm",
    "Europe/Warsaw",
    "Europe/Vienna",
    "Africa/Johannesburg",
    "Africa/Maputo",
)
"""Ten zones on UTC+2 in June: 07:30 local (08:00 after quiet hours) is one UTC instant."""
PROBE_S = 0.005
"""The probe task sleeps this long in a loop; how late it wakes is the loop's blocking."""
IDLE_PROBE_S = 1.0
"""The probe first runs this long on an idle loop: the machine's own scheduling noise."""
INTERACTIVE_EVERY_S = 0.020
"""An interactive event is injected this often during the burst."""
SETUP_ROWS = 10_000
"""Rows per set-up transaction."""


def sqlite_url(path: Path) -> str:
    """The ``DATABASE_URL`` of a SQLite file."""
    return f"sqlite+aiosqlite:///{path}"


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident memory of this process in MB.

    On Linux from ``/proc/self/status`` (``VmRSS``, ``VmHWM``): the peak belongs to this
    program alone. ``ru_maxrss`` is only the fallback, because Linux carries it across
    ``execve``: a child would report its parent's high-water mark from before the fork.
    """
    status = Path("/proc/self/status")
    if status.exists():
        fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
        return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux
    return peak, peak


def percentile(ordered: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    return ordered[max(1, math.ceil(len(ordered) * pct / 100)) - 1]


# ---------------------------------------------------------------------------------- set-up


PLANS = 64
"""Distinct stored plans the bench's people share (building 100,000 would take minutes)."""


def stored_plans() -> list[str]:
    """Daily-step plans as people carry them (``Profile.plan``, about 760 bytes each), so
    the claim reads and the morning render decodes what it does for real people."""
    catalogue = Catalogue(load_content(CONTENT_DIR).program.actions)
    first = SETUP_AT.date().toordinal()
    return [
        encode_plan(build_plan(Person(f"bench{n}", first), first, catalogue, EMPTY_PLAN, ())[0])
        for n in range(PLANS)
    ]


async def set_up(path: Path, people: int) -> datetime:
    """Create and fill the database file; return the instant every subscription is due."""
    database = Database(sqlite_url(path))
    try:
        await database.migrate()
        zones = {name: resolve_timezone(name) for name in ZONES}
        at = datetime.strptime(LOCAL_TIME, "%H:%M").time()
        latest = SETUP_AT
        plans = stored_plans()
        for first in range(0, people, SETUP_ROWS):
            user_rows: list[dict[str, Any]] = []
            sub_rows: list[dict[str, Any]] = []
            for n in range(first, min(people, first + SETUP_ROWS)):
                user_id = n + 1
                zone_name = ZONES[n % len(ZONES)]
                user = UserRef(Platform.TELEGRAM, str(user_id))
                due = next_due(  # as SubscriptionRepository.follow computes it
                    zones[zone_name],
                    at,
                    SETUP_AT,
                    offset=spread_offset(person_key(user)),
                    quiet=DEFAULT_QUIET,  # nobody chose their own quiet hours
                )
                latest = max(latest, due)
                user_rows.append(
                    {
                        "id": user_id,
                        "platform": user.platform.value,
                        "platform_user_id": user.user_id,
                        "is_adult": True,
                        "consented": True,
                        "timezone": zone_name,
                        "daily_time": LOCAL_TIME,
                        "situation": "together_struggling",
                        "onboarded_at": SETUP_AT,
                        "plan": plans[n % len(plans)],
                        "safety_mode": False,
                        "nudges_stopped": False,
                        "created_at": SETUP_AT,
                        "updated_at": SETUP_AT,
                    }
                )
                sub_rows.append(
                    {
                        "user_id": user_id,
                        "kind": "morning",
                        "platform": user.platform.value,
                        "timezone": zone_name,
                        "local_time": LOCAL_TIME,
                        "active": True,
                        "next_due_at": due,
                        "created_at": SETUP_AT,
                        "updated_at": SETUP_AT,
                    }
                )

            def write(
                connection: Connection,
                user_rows: list[dict[str, Any]] = user_rows,
                sub_rows: list[dict[str, Any]] = sub_rows,
            ) -> None:
                connection.execute(insert(users), user_rows)
                connection.execute(insert(subscriptions), sub_rows)

            await database.run(write)
        return latest
    finally:
        await database.close()  # the last connection closing checkpoints the WAL


def copy_database(source: Path, target: Path) -> Path:
    """An identical copy of a closed SQLite file (its WAL checkpointed and gone)."""
    wal = source.with_name(source.name + "-wal")
    if wal.exists() and wal.stat().st_size:
        raise RuntimeError(f"{wal} is not empty: copying {source} alone would lose rows")
    shutil.copyfile(source, target)
    return target


# ---------------------------------------------------------------------------------- baseline


def stored(moment: datetime) -> str:
    """A UTC instant as SQLAlchemy stores ``DateTime`` on SQLite."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def bare_connection(path: Path) -> sqlite3.Connection:
    """A plain ``sqlite3`` connection with ``core.storage.database``'s PRAGMAs, autocommit."""
    connection = sqlite3.connect(path, isolation_level=None)
    for pragma in (
        "PRAGMA journal_mode=WAL",
        f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
        "PRAGMA synchronous=NORMAL",
        "PRAGMA foreign_keys=ON",
    ):
        connection.execute(pragma)
    return connection


def run_baseline(path: Path, now: datetime, batch: int) -> dict[str, Any]:
    """Select the due ids and move them a day on, a batch per transaction, until none remain."""
    connection = bare_connection(path)
    due, later = stored(now), stored(now + timedelta(days=1))
    done = 0
    cpu, started = time.process_time(), time.perf_counter()
    while True:
        connection.execute("BEGIN IMMEDIATE")
        ids = [
            row[0]
            for row in connection.execute(
                "SELECT id FROM subscriptions WHERE active = 1 AND next_due_at <= ? "
                "ORDER BY next_due_at LIMIT ?",
                (due, batch),
            )
        ]
        if ids:
            marks = ",".join("?" * len(ids))
            connection.execute(
                f"UPDATE subscriptions SET next_due_at = ? WHERE id IN ({marks})",
                (later, *ids),
            )
        connection.execute("COMMIT")
        done += len(ids)
        if len(ids) < batch:
            break
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    connection.close()
    return {"items": done, "seconds": seconds, "cpu_seconds": cpu, "rss_mb": rss_mb()[1]}


def run_sql_floor(path: Path, now: datetime, tick_batch: int, send_batch: int) -> dict[str, Any]:
    """The scheduler's own SQL statements, bare: no rendering, no sending, no per-row logic.

    The statements are compiled from the ones ``queue_due``, ``claim`` and ``settle``
    execute, run in the same transactions and batch sizes with constant values (the
    insert's ``local_date`` and ``deliver_by``, the next due time). The gap between this
    and the baseline is the database work the design adds; the gap between this and the
    burst is Python.
    """
    dialect = sqlite.dialect()
    due_sql = str(_DUE.compile(dialect=dialect))
    claim = _CLAIM.compile(dialect=dialect)
    claim_sql = str(claim)
    advance, mark = _ADVANCE.compile(dialect=dialect), _MARK.compile(dialect=dialect)
    now_s, later = stored(now), stored(now + timedelta(days=1))
    by = stored(now + timedelta(hours=4))
    insert_values = {
        "item": "",
        "local_date": now.date().isoformat(),
        "kind": "morning",
        "priority": 3,
        "platform": "telegram",
        "user_id": 0,
        "chat_id": None,
        "chat_kind": None,
        "thread_id": None,
        "payload": None,
        "status": "queued",
        "reason": None,
        "attempts": 0,
        "due_at": "",
        "not_before": "",
        "deliver_by": by,
        "claimed_at": None,
        "settled_at": None,
    }
    insert = _INSERT_DELIVERY["sqlite"].compile(dialect=dialect, column_keys=list(insert_values))
    insert_order = insert.positiontup or []
    connection = bare_connection(path)
    connection.row_factory = sqlite3.Row

    def marks(rows: list[sqlite3.Row], status: str, settled: str | None) -> list[tuple[Any, ...]]:
        values = {
            "new_status": status,
            "new_reason": None,
            "new_claimed_at": now_s,
            "new_settled_at": settled,
            "new_not_before": now_s,
        }
        order = mark.positiontup or []
        return [
            tuple(
                {**values, "new_attempts": row["attempts"], "row_id": row["id"]}[k] for k in order
            )
            for row in rows
        ]

    done = 0
    cpu, started = time.process_time(), time.perf_counter()
    while True:  # the tick: queue_due in batches
        connection.execute("BEGIN IMMEDIATE")
        rows = connection.execute(due_sql, (now_s, tick_batch, 0)).fetchall()
        if rows:
            inserts = []
            for row in rows:
                values = {
                    **insert_values,
                    "item": f"sub:{row['id']}",
                    "user_id": row["user_id"],
                    "due_at": row["next_due_at"],
                    "not_before": row["next_due_at"],
                }
                inserts.append(tuple(values[k] for k in insert_order))
            connection.executemany(str(insert), inserts)
            order = advance.positiontup or []
            connection.executemany(
                str(advance),
                [tuple({"next_at": later, "sub_id": row["id"]}[k] for k in order) for row in rows],
            )
        connection.execute("COMMIT")
        if len(rows) < tick_batch:
            break
    while True:  # the sender: claim a batch, then settle it
        connection.execute("BEGIN IMMEDIATE")
        values = {**claim.params, "platform": "telegram", "now": now_s, "limit": send_batch}
        claim_args = [values[name] for name in claim.positiontup or []]
        rows = connection.execute(claim_sql, claim_args).fetchall()
        if rows:
            connection.executemany(str(mark), marks(rows, "sending", None))
        connection.execute("COMMIT")
        if not rows:
            break
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(str(mark), marks(rows, "sent", now_s))
        connection.execute("COMMIT")
        done += len(rows)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    connection.close()
    return {"items": done, "seconds": seconds, "cpu_seconds": cpu, "rss_mb": rss_mb()[1]}


# ---------------------------------------------------------------------------------- burst


class FixedClock:
    """A clock standing still at one instant (the minute everything is due)."""

    def __init__(self, current: datetime) -> None:
        self.current = current

    def now(self) -> datetime:
        """The instant the clock stands at."""
        return self.current


@dataclass
class Responsiveness:
    """What the probe and the interactive events saw while the burst ran."""

    lateness: list[float]
    latencies: list[float]
    replies: Counter[str] = field(default_factory=Counter)
    errors: int = 0


class GcWatch:
    """Times every garbage collection (a pause of the whole process) by generation."""

    def __init__(self) -> None:
        self.pauses: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses[info["generation"]].append(time.perf_counter() - self._started)


async def probe(stop: asyncio.Event, lateness: list[float]) -> None:
    """Sleep ``PROBE_S`` in a loop; record how much later than asked each wake-up came."""
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(PROBE_S)
        lateness.append(time.perf_counter() - started - PROBE_S)


async def interactive(
    service: Any, people: int, seed: int, stop: asyncio.Event, seen: Responsiveness
) -> None:
    """Every ``INTERACTIVE_EVERY_S`` a private "hi" from an onboarded person, timed."""
    rng = random.Random(seed)
    pending: set[asyncio.Task[None]] = set()

    async def one(user_id: int) -> None:
        user = UserRef(Platform.TELEGRAM, str(user_id))
        chat = ChatRef(Platform.TELEGRAM, user.user_id, ChatKind.PRIVATE)
        event = event_from_text(chat, user, "hi", datetime.now(UTC))
        started = time.perf_counter()
        try:
            replies = await service.handle(event)
        except Exception:
            seen.errors += 1
            return
        seen.latencies.append(time.perf_counter() - started)
        seen.replies.update(reply.key for reply in replies)

    while not stop.is_set():
        await asyncio.sleep(INTERACTIVE_EVERY_S)
        task = asyncio.create_task(one(rng.randint(1, people)))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)


async def burst(
    path: Path,
    people: int,
    due: datetime,
    seed: int,
    tick_batch: int,
    send_batch: int | None,
    *,
    chats: bool = True,
) -> dict[str, Any]:
    """The real scheduler on ``path``: tick, then drain the sender until the queue is empty.

    ``chats`` False leaves out the injected interactive events (the extra, labelled run).
    """
    clock = FixedClock(due + timedelta(seconds=1))
    settings = Settings(_env_file=None, database_url=sqlite_url(path))
    core = await build_core(settings, clock=clock)
    settle_heap()  # as mend run does after start-up
    outbox = RecordingOutbox(path.with_suffix(".sent.jsonl"))
    scheduler = Scheduler(
        core.database, core.nudges, clock, retention_days=180, tick_batch=tick_batch
    )
    sender = scheduler.attach(Platform.TELEGRAM, outbox, SendGate(UNLIMITED), batch=send_batch)

    # Untimed warm-up: one interactive turn, so lazy imports and caches are not in the burst.
    warm = UserRef(Platform.TELEGRAM, "1")
    chat = ChatRef(Platform.TELEGRAM, warm.user_id, ChatKind.PRIVATE)
    await core.service.handle(event_from_text(chat, warm, "hi", datetime.now(UTC)))
    before_rss, before_peak = rss_mb()

    # The machine's own floor: the same probe on an idle loop, just before the burst.
    idle: list[float] = []
    idle_stop = asyncio.Event()
    idle_probe = asyncio.create_task(probe(idle_stop, idle))
    await asyncio.sleep(IDLE_PROBE_S)
    idle_stop.set()
    await idle_probe

    stop = asyncio.Event()
    seen = Responsiveness([], [])
    collections = GcWatch()
    gc.callbacks.append(collections)
    watchers = [
        asyncio.create_task(probe(stop, seen.lateness)),
    ]
    if chats:
        watchers.append(asyncio.create_task(interactive(core.service, people, seed, stop, seen)))
    halt = asyncio.Event()
    sending = asyncio.create_task(sender.run(halt))
    await sender.idle()  # its first look: nothing is queued before the tick
    await asyncio.sleep(0.05)  # let the watchers start
    cpu, started = time.process_time(), time.perf_counter()
    report = await scheduler.tick()
    ticked = time.perf_counter()
    await sender.idle()
    finished, cpu = time.perf_counter(), time.process_time() - cpu
    sent = sender.tally.sent
    batches = math.ceil(sent / sender.batch) if sent else 0
    halt.set()
    sender.wake()
    stop.set()
    await asyncio.gather(sending, *watchers)
    gc.callbacks.remove(collections)
    after_rss, after_peak = rss_mb()

    def count(connection: Connection) -> dict[str, int]:
        rows = connection.execute(
            select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
        ).all()
        left = connection.execute(
            select(func.count())
            .select_from(subscriptions)
            .where(subscriptions.c.next_due_at <= clock.now())
        ).scalar_one()
        return {**{str(status): int(n) for status, n in rows}, "still_due": int(left)}

    statuses = await core.database.run(count)
    outbox.close()
    await core.database.close()
    return {
        "items": people,
        "queued": report.queued,
        "seconds": finished - started,
        "cpu_seconds": cpu,
        "tick_seconds": ticked - started,
        "drain_seconds": finished - ticked,
        "send_batches": batches,
        "recorded": outbox.count,
        "sent": sender.tally.sent,
        "skipped": sender.tally.skipped,
        "statuses": statuses,
        "rss_before_mb": before_rss,
        "peak_before_mb": before_peak,
        "rss_after_mb": after_rss,
        "peak_mb": after_peak,
        "idle_lateness": idle,
        "gc_pauses": collections.pauses,
        "lateness": seen.lateness,
        "latencies": seen.latencies,
        "replies": dict(seen.replies),
        "errors": seen.errors,
    }


# ---------------------------------------------------------------------------------- pacing


class TimedOutbox(RecordingOutbox):
    """A ``RecordingOutbox`` that also notes when each send happened (monotonic)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.times: list[float] = []

    async def send(self, chat: ChatRef, reply: Reply, *, nonce: str | None = None) -> None:
        """Note the time, then record the send."""
        self.times.append(time.monotonic())
        await super().send(chat, reply, nonce=nonce)


async def paced(path: Path, people: int, due: datetime) -> dict[str, Any]:
    """The real scheduler through a 25/s bulk limit on the real clock."""
    clock = FixedClock(due + timedelta(seconds=1))
    database = Database(sqlite_url(path))
    nudges = NudgeDesk(load_content(CONTENT_DIR), "UTC")
    outbox = TimedOutbox(path.with_suffix(".sent.jsonl"))
    scheduler = Scheduler(database, nudges, clock, retention_days=180)
    gate = SendGate(PlatformLimits(overall_per_s=30, bulk_per_s=TARGET_PACE))
    sender = scheduler.attach(Platform.TELEGRAM, outbox, gate)
    started = time.perf_counter()
    await scheduler.tick()
    await sender.drain()
    finished = time.perf_counter()
    outbox.close()
    await database.close()
    times = outbox.times
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    return {
        "items": people,
        "sent": len(times),
        "seconds": finished - started,
        "span": span,
        "per_s": (len(times) - 1) / span if span else 0.0,
    }


# ---------------------------------------------------------------------------------- driver


def child(args: argparse.Namespace) -> int:
    """Run one measured part in this (fresh) process; print its figures as JSON."""
    path, due = Path(args.db), datetime.fromisoformat(args.due)
    now = due + timedelta(seconds=1)
    result: dict[str, Any]
    if args.child == "baseline":
        result = run_baseline(path, now, args.tick_batch)
    elif args.child == "floor":
        result = run_sql_floor(path, now, args.tick_batch, args.send_batch or UNPACED_BATCH)
    elif args.child in ("burst", "quiet"):
        result = asyncio.run(
            burst(
                path,
                args.people,
                due,
                args.seed,
                args.tick_batch,
                args.send_batch,
                chats=args.child == "burst",
            )
        )
    else:
        result = asyncio.run(paced(path, args.paced, due))
    print(json.dumps(result))
    return 0


def in_subprocess(part: str, db: Path, due: datetime, args: argparse.Namespace) -> dict[str, Any]:
    """Run ``part`` in a fresh interpreter and return its figures."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        *("--child", part, "--db", str(db), "--due", due.isoformat()),
        *("--people", str(args.people), "--paced", str(args.paced), "--seed", str(args.seed)),
        *("--tick-batch", str(args.tick_batch)),
        *(("--send-batch", str(args.send_batch)) if args.send_batch else ()),
    ]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{part} failed:\n{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--people", type=int, default=100_000, help="subscriptions due at once")
    parser.add_argument("--paced", type=int, default=750, help="sends in the paced run")
    parser.add_argument("--quick", action="store_true", help="10,000 people, 250 paced sends")
    parser.add_argument("--seed", type=int, default=20261121, help="who writes during the burst")
    parser.add_argument(
        "--tick-batch",
        type=int,
        default=TICK_BATCH,
        help=f"subscriptions per tick transaction, and the baselines' (default {TICK_BATCH})",
    )
    parser.add_argument(
        "--send-batch",
        type=int,
        help=f"rows per sender batch (default: the sender's own, {UNPACED_BATCH} unpaced)",
    )
    parser.add_argument(
        "--child", choices=("baseline", "floor", "burst", "quiet", "paced"), help=argparse.SUPPRESS
    )
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument("--due", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.people, args.paced = 10_000, 250
    if args.people < 1 or args.paced < 2 or args.tick_batch < 1 or (args.send_batch or 1) < 1:
        parser.error("--people, --tick-batch and --send-batch must be at least 1, --paced 2")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Set up; baseline, floor, burst, floor, baseline on identical copies; pacing; report."""
    args = parse_args(argv)
    if args.child:
        return child(args)
    print(
        f"Mend scheduler benchmark: {args.people:,} morning nudges due at once, "
        f"python {platform.python_version()} on {os.cpu_count()} cpus, "
        f"load average {os.getloadavg()[0]:.2f}",
        flush=True,
    )
    runs: dict[str, list[dict[str, Any]]] = {
        "baseline": [],
        "floor": [],
        "burst": [],
        "quiet": [],
    }
    with tempfile.TemporaryDirectory(prefix="mend-scheduler-bench-") as folder:
        root = Path(folder)
        started = time.perf_counter()
        due = asyncio.run(set_up(root / "master.db", args.people))
        paced_due = asyncio.run(set_up(root / "paced.db", args.paced))
        print(
            f"  set-up: {args.people:,} people in {time.perf_counter() - started:.1f} s "
            f"(untimed); every subscription due at {due.isoformat()}",
            flush=True,
        )
        parts = ("baseline", "floor", "burst", "floor", "baseline", "quiet")
        for n, part in enumerate(parts):
            copy = copy_database(root / "master.db", root / f"run{n}.db")
            result = in_subprocess(part, copy, due, args)
            runs[part].append(result)
            print(
                f"  {part:<8} {result['items'] / result['seconds']:>9,.0f} items/s "
                f"({result['seconds']:.2f} s, {result['cpu_seconds']:.2f} s cpu)",
                flush=True,
            )
        pace = in_subprocess("paced", root / "paced.db", paced_due, args)
        print(f"  paced    {pace['per_s']:>9.2f} messages/s", flush=True)
    report(args, runs, pace)
    wrong = problems(args, runs, pace)
    for line in wrong:
        print(f"ERROR: {line}")
    return 1 if wrong else 0


def problems(
    args: argparse.Namespace, runs: dict[str, list[dict[str, Any]]], pace: dict[str, Any]
) -> list[str]:
    """What went wrong, as opposed to a missed target: items lost, errors raised."""
    found = [
        f"{part} handled {r['items']:,} of {args.people:,} items"
        for part in ("baseline", "floor")
        for r in runs[part]
        if r["items"] != args.people
    ]
    for part in ("burst", "quiet"):
        ours = runs[part][0]
        if ours["recorded"] != args.people or ours["statuses"] != {
            "sent": args.people,
            "still_due": 0,
        }:
            found.append(f"{part} recorded {ours['recorded']:,}; delivery rows {ours['statuses']}")
    ours = runs["burst"][0]
    if ours["errors"]:
        found.append(f"{ours['errors']} interactive events raised")
    if pace["sent"] != args.paced:
        found.append(f"paced run sent {pace['sent']:,} of {args.paced:,}")
    return found


def rate_of(results: list[dict[str, Any]]) -> float:
    """Mean items/s over runs."""
    return sum(float(r["items"] / r["seconds"]) for r in results) / len(results)


def cpu_us(results: list[dict[str, Any]]) -> float:
    """Mean process CPU time per item, in µs."""
    return sum(float(r["cpu_seconds"] / r["items"]) for r in results) / len(results) * 1e6


def report(
    args: argparse.Namespace, runs: dict[str, list[dict[str, Any]]], pace: dict[str, Any]
) -> None:
    """Print the figures, the targets and how they were measured."""
    ours = runs["burst"][0]
    rate, base_rate, floor_rate = (rate_of(runs[k]) for k in ("burst", "baseline", "floor"))
    ratio = rate / base_rate
    # A burst shorter than one probe or injection interval would leave these empty.
    lateness = sorted(ours["lateness"]) or [0.0]
    idle = sorted(ours["idle_lateness"]) or [0.0]
    latencies = sorted(ours["latencies"]) or [math.nan]
    block_ms = lateness[-1] * 1000
    p50, p99 = (percentile(latencies, p) * 1000 for p in (50, 99))
    full_gcs = ours["gc_pauses"]["2"]
    deviation = abs(pace["per_s"] - TARGET_PACE) / TARGET_PACE
    statuses = ", ".join(f"{k} {v:,}" for k, v in sorted(ours["statuses"].items()))
    replies = ", ".join(f"{k} {v:,}" for k, v in Counter(ours["replies"]).most_common())
    send_batch = args.send_batch or UNPACED_BATCH
    print()
    print(
        f"burst: {ours['items']:,} items in {ours['seconds']:.2f} s: Scheduler.tick() "
        f"returned after {ours['tick_seconds']:.2f} s ({args.tick_batch} per transaction; "
        f"on SQLite the sender waits for the last), the sender idle "
        f"{ours['drain_seconds']:.2f} s later ({ours['send_batches']} batches of {send_batch}); "
        f"cpu {cpu_us(runs['burst']):.0f} µs per item"
    )
    print(
        f"checks: recorded {ours['recorded']:,}, sent {ours['sent']:,}, skipped "
        f"{ours['skipped']:,}; delivery rows: {statuses}"
    )
    print(
        f"memory: burst process {ours['rss_before_mb']:.0f} MB resident before the burst "
        f"(after imports, build_core and one warm-up turn), peak {ours['peak_mb']:.0f} MB "
        f"(VmHWM); baseline process peak {max(r['rss_mb'] for r in runs['baseline']):.0f} MB"
    )
    print(
        f"event loop: {len(ours['lateness']):,} wake-ups of a {PROBE_S * 1000:g} ms sleep, late by "
        f"p50 {percentile(lateness, 50) * 1000:.2f} ms, p99 {percentile(lateness, 99) * 1000:.2f} "
        f"ms, max {block_ms:.2f} ms (idle loop just before: max {idle[-1] * 1000:.2f} ms); "
        f"{len(full_gcs)} full garbage collections, longest "
        f"{max(full_gcs, default=0.0) * 1000:.0f} ms"
    )
    print(
        f"interactive: {len(ours['latencies']):,} private 'hi' through CoachService.handle, "
        f"one every {INTERACTIVE_EVERY_S * 1000:g} ms during the burst: p50 {p50:.2f} ms, "
        f"p99 {p99:.2f} ms, max {latencies[-1] * 1000:.2f} ms; replies {replies}; "
        f"{ours['errors']} errors"
    )
    print(
        f"paced: {pace['sent']:,} sends in {pace['span']:.2f} s from first to last = "
        f"{pace['per_s']:.2f} messages/s against a {TARGET_PACE:g}/s bulk limit "
        f"(deviation {deviation * 100:.2f}%)"
    )
    print(
        f"sql floor: the scheduler's own statements, bare sqlite3, same batches: "
        f"{floor_rate:,.0f} items/s, {cpu_us(runs['floor']):.0f} µs cpu per item; "
        f"ratio floor/baseline {floor_rate / base_rate:.3f} is the most any implementation "
        "of this design could reach"
    )
    print(
        "method: set-up untimed; each timed run in a fresh process on an identical copy of "
        "the file, in the order baseline, floor, burst, floor, baseline, quiet (baseline and floor "
        "are the means of their two runs); burst = Sender.run beside Scheduler.tick() "
        "(held until its last batch on SQLite), until the sender is idle, with the probe and "
        "the interactive events running; baseline = bare "
        f"sqlite3 SELECT id ... LIMIT {args.tick_batch} / UPDATE ... WHERE id IN (...), one "
        "transaction per batch"
    )
    print()
    print(f"scheduler {rate:>9,.0f} items/s  {cpu_us(runs['burst']):>5.0f} µs cpu per item")
    print(
        f"baseline  {base_rate:>9,.0f} items/s  {cpu_us(runs['baseline']):>5.0f} µs cpu per item "
        f"(runs {', '.join(f'{rate_of([r]):,.0f}' for r in runs['baseline'])})"
    )
    quiet = runs["quiet"][0]
    print(
        f"extra, not the target figure: scheduler without the injected chats "
        f"{rate_of([quiet]):,.0f} items/s, {cpu_us([quiet]):.0f} µs cpu per item "
        f"(tick returned after {quiet['tick_seconds']:.2f} s, idle "
        f"{quiet['drain_seconds']:.2f} s later, run last)"
    )
    print()
    print(f"ratio scheduler/baseline items/s: {ratio:.3f}")
    print(f"ratio scheduler/sql floor items/s: {rate / floor_rate:.3f}")
    print(f"target items/s >= {TARGET_RATE:,.0f}: {verdict(rate >= TARGET_RATE)} ({rate:,.0f})")
    print(f"target ratio >= {TARGET_RATIO}: {verdict(ratio >= TARGET_RATIO)} ({ratio:.3f})")
    print(
        f"target peak RSS <= {TARGET_RSS_MB:g} MB: "
        f"{verdict(ours['peak_mb'] <= TARGET_RSS_MB)} ({ours['peak_mb']:.0f} MB)"
    )
    print(
        f"target event loop blocked <= {TARGET_BLOCK_MS:g} ms: "
        f"{verdict(block_ms <= TARGET_BLOCK_MS)} ({block_ms:.2f} ms)"
    )
    print(
        f"target interactive p99 <= {TARGET_P99_MS:g} ms: "
        f"{verdict(p99 <= TARGET_P99_MS)} ({p99:.2f} ms)"
    )
    print(
        f"target pace within {TARGET_PACE_DEVIATION * 100:g}% of {TARGET_PACE:g}/s: "
        f"{verdict(deviation <= TARGET_PACE_DEVIATION)} ({pace['per_s']:.2f}/s)"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


def verdict(met: bool) -> str:
    """How a target came out."""
    return "met" if met else "MISSED"


if __name__ == "__main__":
    sys.exit(main())
