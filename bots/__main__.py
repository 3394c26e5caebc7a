"""The ``mend`` command: console chat, bots, migrations, key rotation.

``mend`` with no platform tokens starts the console chat; with tokens it runs the bots.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TextIO

from bots.app import Core, build_core
from bots.console import ConsoleChat
from bots.console.outbox import ConsoleOutbox
from bots.logs import configure_logging
from bots.runner import run_adapters, run_recording
from core.clock import ShiftedClock, SystemClock
from core.content import ContentError
from core.crypto import CipherError
from core.privacy import purge_expired_text
from core.safety import screen
from core.settings import Settings, SettingsError, load_settings
from core.storage import Database
from core.storage.keyring import resolve_cipher
from core.storage.migrate import current_revision
from core.storage.rotation import rotate_all
from core.types import Platform
from scheduler.clockwork import Scheduler
from scheduler.pacing import UNLIMITED, SendGate
from scheduler.status import read_status

log = logging.getLogger("mend")


def _version() -> str:
    try:
        return version("mend-bot")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mend", description="Mend, an AI relationship-repair coach."
    )
    parser.add_argument("--version", action="version", version=f"mend {_version()}")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the scheduler and every bot whose token is set")
    run.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="run the scheduler alone and append each send to FILE as a JSON line (no text)",
    )
    run.add_argument(
        "--pace",
        type=float,
        metavar="N",
        help="with --record: send at most N scheduled messages a second",
    )
    scheduler = sub.add_parser("scheduler", help="look at the schedule")
    scheduler.add_argument("action", choices=["status"], help="status: due, backlog, today")
    sub.add_parser("migrate", help="bring the database schema up to date")
    sub.add_parser(
        "rotate-keys",
        help="re-encrypt stored text under the first encryption key",
        description=(
            "Re-encrypt every stored text under the first encryption key, in one transaction. "
            "To rotate: put a new key first (MEND_ENCRYPTION_KEYS=new,old; or, with the key "
            "file beside a SQLite database such as data/mend.db.key, a new first line in it), "
            "run this, then remove the old key."
        ),
    )
    sub.add_parser("purge", help="delete people's written words older than MEND_RETENTION_DAYS now")
    sub.add_parser(
        "screen", help="safety-screen lines from standard input, one JSON object per line"
    )
    chat = sub.add_parser("chat", help="talk to Mend in the terminal")
    chat.add_argument("--as", dest="speaker", default=None, metavar="NAME", help="who is speaking")
    chat.add_argument(
        "--couple", nargs=2, metavar=("A", "B"), help="simulate a couple's shared group"
    )
    chat.add_argument(
        "--script", type=Path, metavar="FILE", help="replay FILE's lines, print the transcript"
    )
    chat.add_argument("--keys", action="store_true", help="show each reply's content key")
    chat.add_argument(
        "--clock",
        type=_instant,
        metavar="ISO",
        help=(
            "start the chat's clock at this UTC instant, e.g. 2026-06-05T18:40, with "
            "repeatable pairing codes (for scripted demos)"
        ),
    )
    return parser


def _instant(text: str) -> datetime:
    """An ISO 8601 instant for ``--clock``; without an offset it is UTC."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date and time: {text!r}") from exc
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


WAIT_STEP = timedelta(minutes=30)
"""The longest the console's clock jumps between two scheduler ticks during ``/wait``
(shorter than every grace window, so nothing due in a wait is skipped as stale)."""


def _read_line() -> str | None:
    try:
        return input("> ")
    except EOFError:
        return None


async def _chat(
    core: Core, settings: Settings, clock: ShiftedClock, args: argparse.Namespace, out: TextIO
) -> int:
    scheduler = Scheduler(
        core.database, core.nudges, clock, retention_days=settings.mend_retention_days
    )

    async def pass_time(by: timedelta) -> None:
        """Let ``by`` pass, delivering what the scheduler would have sent meanwhile.

        Time moves in steps of at most :data:`WAIT_STEP`, each with a tick, so a long
        wait delivers each day's items in their own window (a morning step at 08:00, not
        skipped as stale because the wait ended after noon).
        """
        left = by
        while left > timedelta(0):
            step = min(left, WAIT_STEP)
            clock.advance(step)
            left -= step
            await scheduler.tick()
            while await sender.drain_once():
                pass

    console = ConsoleChat(
        core.service,
        core.content.texts,
        clock,
        out,
        speaker=args.speaker,
        couple=tuple(args.couple) if args.couple else None,
        show_keys=args.keys,
        echo=args.script is not None,
        pass_time=pass_time,
    )
    sender = scheduler.attach(Platform.CONSOLE, ConsoleOutbox(console), SendGate(UNLIMITED))
    if args.script is not None:
        try:
            lines = args.script.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            print(
                f"mend: cannot read script {args.script}: {exc.__class__.__name__}", file=sys.stderr
            )
            return 2
        await console.run(lines)
        return 0
    console.intro()
    loop = asyncio.get_running_loop()
    await console.interact(lambda: loop.run_in_executor(None, _read_line))
    return 0


async def _main(args: argparse.Namespace, settings: Settings) -> int:
    start = getattr(args, "clock", None)
    clock = ShiftedClock(start)
    # A demo with a fixed clock also gets repeatable pairing codes (console only).
    seed = start.isoformat() if start is not None and args.command == "chat" else None
    core = await build_core(settings, clock=clock, demo_seed=seed)
    try:
        if args.command == "migrate":
            print(f"database is at revision {await core.database.run(current_revision)}")
            return 0
        if args.command == "purge":
            days = settings.mend_retention_days
            count = await purge_expired_text(core.database, SystemClock().now(), days)
            print(f"deleted {count} stored texts older than {days} days")
            return 0
        if args.command == "scheduler":
            now = SystemClock().now()
            status = await core.database.run(lambda connection: read_status(connection, now))
            print("\n".join(status.lines(now)))
            return 0
        if args.command == "run" and args.record is not None:
            return await run_recording(core, settings, args.record, pace=args.pace)
        if args.command == "run" or (args.command is None and settings.has_platform_token):
            return await run_adapters(core, settings)
        if args.command is None:
            args = _parser().parse_args(["chat"])
        return await _chat(core, settings, clock, args, sys.stdout)
    finally:
        await core.database.close()


async def _rotate_keys(settings: Settings, out: TextIO) -> int:
    """Migrate, then re-encrypt every encrypted value under the first key in one transaction."""
    cipher = resolve_cipher(settings)
    database = Database(settings.database_url)
    try:
        await database.migrate()
        count = await database.run(lambda connection: rotate_all(connection, cipher))
    finally:
        await database.close()
    noun = "value" if count == 1 else "values"
    out.write(f"re-encrypted {count} {noun} under the first key; ")
    out.write("keys after the first can now be removed\n")
    return 0


def _screen(lines: TextIO, out: TextIO) -> int:
    """Print ``{"category", "cues", "tentative"}`` for each input line, never the text.

    ``tentative`` is true when only the learned model saw a risk (no cue matched).
    """
    for line in lines:
        result = screen(line.rstrip("\n"))
        verdict = {
            "category": str(result.category),
            "cues": list(result.cues),
            "tentative": result.tentative,
        }
        out.write(json.dumps(verdict))
        out.write("\n")
        out.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mend`` console script."""
    args = _parser().parse_args(argv)
    if args.command == "screen":  # needs no settings, database or content
        return _screen(sys.stdin, sys.stdout)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"mend: {exc}", file=sys.stderr)
        return 2
    interactive = args.command == "chat" or (
        args.command is None and not settings.has_platform_token
    )
    configure_logging(settings, quiet=interactive)
    try:
        if args.command == "rotate-keys":
            return asyncio.run(_rotate_keys(settings, sys.stdout))
        return asyncio.run(_main(args, settings))
    except (ContentError, SettingsError, CipherError) as exc:
        print(f"mend: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
