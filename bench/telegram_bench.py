"""Benchmark the Telegram adapter plus the core against a PTB echo bot, update for update.

Run from the project root::

    .venv/bin/python bench/telegram_bench.py            # 5,000 updates from 500 people
    .venv/bin/python bench/telegram_bench.py --updates 1000 --people 100   # quicker

What it measures:

* **full**: ``build_telegram(core, settings, request=OfflineRequest(), polling=False)`` on
  the real core (``bots.app.build_core``: real content, ``SystemClock``, a fresh, migrated
  SQLite file). Updates go through the real PTB ``Application``: handler dispatch, the
  adapter's mapping, ``CoachService.handle``, and every Bot API call the adapter makes
  (``sendMessage``, ``answerCallbackQuery``, ``editMessageReplyMarkup``) through PTB's
  ``ExtBot``, the ``AIORateLimiter`` and an offline request class that answers like
  Telegram would, encoding each request's parameters and parsing each JSON answer as PTB
  does over HTTP, but never touching the network.
* **echo**: an ``Application`` from the same ``bots.telegram.factory.build_application``
  (same token, base URL, rate limiter, update processor and request class) whose only
  handler is a ``TypeHandler`` that sends a message's text back with ``bot.send_message``
  and answers a button press with ``CallbackQuery.answer()``.

The updates: ~500 simulated people in private chats, driven by ``core_bench``'s simulation
(``/start``, the buttons they were actually shown, typed time zones and times, ``/help``,
free text, ``/settings``, ``/cancel``, wrong answers, old buttons), plus about 2% group
messages ``/help@<bot>`` in a few supergroups. A person reads what the bot sent them from
the recorded Bot API calls: the ``callback_data`` of the inline keyboard in the last
``sendMessage`` (a press carries that message, ``message_id`` and keyboard included) and,
by matching the text against content, whether a time zone or a time was asked for.

Because the echo bot cannot lead anyone through onboarding, the update sequence is first
recorded by playing the people against a full stack on a scratch SQLite file (untimed).
Both timed sides then consume exactly those update dicts. The timed full side runs on its
own fresh file and is checked to make the same Bot API calls as the recording pass.

Timing: each dict becomes a ``telegram.Update`` with ``Update.de_json(data, app.bot)``
before its block starts (outside the timed region, for both sides alike); then each update
is fed with ``await application.process_update(update)`` one at a time, with
``time.perf_counter`` around that single await. ``process_update`` is PTB's own entry point
below the update processor, so ``ChatOrderedUpdateProcessor`` (identical on both sides) is
not on the timed path. Both sides are warmed up with the same untimed updates from other
people, then run in interleaved blocks (echo, full, full, echo, ...) as ``core_bench.py``
does, so noise from a shared machine hits both alike. updates/s is updates divided by the
summed per-update time. The full side's adapter is built on a thin wrapper that adds up the
time spent in ``CoachService.handle``, so the report also splits a full update into the
core's turn and the rest (PTB, the adapter and its Bot API calls).

Telegram's flood limits (30 messages/s overall, 20 a minute per group) would make the
``AIORateLimiter`` sleep within a second of this benchmark. Both sides' limiters therefore
get unreachably high rates after they are built: they still do all their bookkeeping on
every call, but never wait.

This is a measurement, not a test: missing the target is reported, not an error. The exit
status is non-zero only when something goes wrong (an exception, or an error logged while
handling an update). ``core_bench`` is imported from this file's folder, which is on
``sys.path`` when the file is run as a script.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import itertools
import json
import logging
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
from pathlib import Path
from typing import Any, TypeVar, cast

from aiolimiter import AsyncLimiter
from core_bench import (
    ASKS_TIME,
    ASKS_TIMEZONE,
    WARMUP_USER_OFFSET,
    Figures,
    Person,
    Run,
    Simulation,
    blocks,
    interleave,
    make_people,
    parse_bench_args,
    turn_order,
)
from telegram import Update
from telegram.ext import AIORateLimiter, ContextTypes, TypeHandler
from telegram.request import BaseRequest, RequestData

from bots.app import Core, build_core
from bots.telegram import build_application, build_telegram
from bots.telegram.adapter import TelegramApp
from core.content import Content
from core.service import CoachService
from core.settings import Settings
from core.types import Button, EventKind, IncomingEvent, Reply

TARGET_RATIO = 0.5
"""Full-stack updates/s must be at least this share of the echo bot's."""

BOT_ID = 777000
BOT_USERNAME = "MendBenchBot"
TOKEN = "777000:BENCH-token-not-real-abcdefghijklmnopqrst"
MESSAGE_DATE = 1_795_219_200  # 2026-11-21 00:00 UTC: every update carries this date
GROUP_SHARE = 0.02
"""Share of turns in which the person writes ``/help@<bot>`` in a group instead."""
GROUPS = 5
UNTHROTTLED = 1e12
"""Rate given to the ``AIORateLimiter``: never reached, so it never sleeps."""

# Reply keys a person must recognise, by the text they were sent, to react like in core_bench.
WATCHED_KEYS = (
    ASKS_TIMEZONE
    | ASKS_TIME
    | {
        "onboarding.done",
        "onboarding.declined",
        "onboarding.under_age",
        "common.stale_button",
    }
)
OTHER_KEY = "other"

BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "Mend", "username": BOT_USERNAME}

JSON = dict[str, Any]
T = TypeVar("T")


# --- an offline Bot API -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    """One Bot API call as the bot made it (parameters as encoded for HTTP)."""

    method: str
    params: dict[str, str]
    message_id: int | None = None

    def signature(self) -> tuple[object, ...]:
        """What must match between the recording pass and the timed full side."""
        return (self.method, self.message_id, *sorted(self.params.items()))


class OfflineRequest(BaseRequest):
    """Answers Bot API methods like Telegram would and records each call; never networks.

    Parameters are encoded with ``RequestData.json_parameters`` (what PTB's HTTPX request
    posts) and answers are returned as JSON bytes for PTB to parse, so both sides pay the
    encoding and decoding a real request would. Sending or editing a message is answered
    with the message, keyboard included (an edited message's text is not kept, so it reads
    "…"); message ids count per chat, as in Telegram.
    """

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._message_ids: dict[int, itertools.count[int]] = {}

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    @property
    def read_timeout(self) -> float | None:
        """Unused offline; PTB asks for it."""
        return 1.0

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        """Record the call and answer it."""
        api_method = url.rpartition("/")[2]
        params = request_data.json_parameters if request_data is not None else {}
        result: object = True
        message_id = None
        if api_method == "getMe":
            result = BOT_USER
        elif api_method in ("sendMessage", "sendPhoto"):
            chat_id = int(params["chat_id"])
            counter = self._message_ids.setdefault(chat_id, itertools.count(1))
            message_id = next(counter)
            result = message_json(chat_id, message_id, params)
        elif api_method == "editMessageReplyMarkup" and "chat_id" in params:
            # Telegram answers an edit of a chat message with the edited message.
            result = message_json(int(params["chat_id"]), int(params["message_id"]), params)
        self.calls.append(Call(api_method, params, message_id))
        return 200, json.dumps({"ok": True, "result": result}).encode()


def message_json(chat_id: int, message_id: int, params: dict[str, str]) -> JSON:
    """The bot's message as Telegram returns it (text and keyboard as sent)."""
    message: JSON = {
        "message_id": message_id,
        "date": MESSAGE_DATE,
        "chat": private_chat(chat_id) if chat_id > 0 else group_chat(chat_id),
        "from": BOT_USER,
        "text": params.get("text", "…"),
    }
    if "reply_markup" in params:
        message["reply_markup"] = json.loads(params["reply_markup"])
    return message


def unthrottle(application: TelegramApp) -> None:
    """Give the application's ``AIORateLimiter`` rates it never reaches (see docstring)."""
    limiter = application.bot.rate_limiter
    if not isinstance(limiter, AIORateLimiter):
        raise RuntimeError("expected the factory to install an AIORateLimiter")
    limiter._base_limiter = AsyncLimiter(UNTHROTTLED, 1)
    limiter._group_max_rate = UNTHROTTLED
    limiter._group_limiters.clear()


# --- Telegram update JSON -----------------------------------------------------------------


def user_json(user_id: int) -> JSON:
    """A person as Telegram describes them."""
    return {"id": user_id, "is_bot": False, "first_name": f"P{user_id}", "language_code": "en"}


def private_chat(user_id: int) -> JSON:
    """A person's private chat with the bot."""
    return {"id": user_id, "type": "private", "first_name": f"P{user_id}"}


def group_chat(chat_id: int) -> JSON:
    """A supergroup."""
    return {"id": chat_id, "type": "supergroup", "title": f"Group {-chat_id}"}


@dataclass
class UpdateMaker:
    """Builds update dicts as Telegram sends them, with increasing update and message ids."""

    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _message_ids: dict[int, itertools.count[int]] = field(default_factory=dict)

    def message(self, sender: JSON, chat: JSON, text: str) -> JSON:
        """A text message; a command gets its ``bot_command`` entity."""
        ids = self._message_ids.setdefault(chat["id"], itertools.count(10_000))
        message: JSON = {
            "message_id": next(ids),
            "date": MESSAGE_DATE,
            "chat": chat,
            "from": sender,
            "text": text,
        }
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return {"update_id": next(self._update_ids), "message": message}

    def press(self, sender: JSON, data: str, message: JSON) -> JSON:
        """A callback query: ``sender`` pressed the button with ``data`` under ``message``."""
        update_id = next(self._update_ids)
        return {
            "update_id": update_id,
            "callback_query": {
                "id": f"{sender['id']}-{update_id}",
                "from": sender,
                "chat_instance": f"ci-{sender['id']}",
                "data": data,
                "message": message,
            },
        }


# --- simulated people reading the Bot API calls -------------------------------------------


class Recogniser:
    """Tells which watched content key a sent text came from, by its fixed opening."""

    def __init__(self, content: Content) -> None:
        openings = [(content.texts.by_key[key].split("$", 1)[0], key) for key in WATCHED_KEYS]
        short = [key for opening, key in openings if len(opening) < 12]
        if short:
            raise RuntimeError(f"texts too short to recognise: {short}")
        self._openings = sorted(openings, key=lambda pair: len(pair[0]), reverse=True)

    def key(self, text: str) -> str:
        """The watched key whose text ``text`` starts with, or ``OTHER_KEY``."""
        for opening, key in self._openings:
            if text.startswith(opening):
                return key
        return OTHER_KEY


@dataclass
class Player:
    """Plays simulated people against a full stack and records the updates they send."""

    application: TelegramApp
    request: OfflineRequest
    people: list[Person]
    recogniser: Recogniser
    seed: int
    group_ids: Sequence[int]
    updates: list[JSON] = field(default_factory=list)
    replies: Counter[str] = field(default_factory=Counter)
    maker: UpdateMaker = field(default_factory=UpdateMaker)
    _shown: dict[str, dict[str, JSON]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.simulation = Simulation(random.Random(self.seed))
        self._group_rng = random.Random(self.seed + 2)

    @property
    def mix(self) -> Counter[str]:
        """How many updates of each kind were sent so far."""
        return self.simulation.mix

    async def play(self, turns: Sequence[int]) -> None:
        """Let the person at each turn act, feed the update, and let them read the answer."""
        bot = self.application.bot
        for index in turns:
            person = self.people[index]
            data, was_help = self._next_update(person)
            self.updates.append(data)
            first_call = len(self.request.calls)
            await self.application.process_update(Update.de_json(data, bot))
            if data.get("message", {}).get("chat", {}).get("type") != "supergroup":
                self._read(person, self.request.calls[first_call:], was_help)

    def _next_update(self, person: Person) -> tuple[JSON, bool]:
        sender = user_json(int(person.user.user_id))
        if person.started and self._group_rng.random() < GROUP_SHARE:
            self.mix["group /help@bot"] += 1
            chat = group_chat(self._group_rng.choice(self.group_ids))
            return self.maker.message(sender, chat, f"/help@{BOT_USERNAME}"), False
        event = self.simulation.next_event(person)
        if event.kind is EventKind.BUTTON and event.payload is not None:
            shown = self._shown.get(person.user.user_id, {})
            message = shown.get(event.payload)
            if message is None:
                raise RuntimeError(f"{event.payload!r} was never shown to {person.user}")
            return self.maker.press(sender, event.payload, message), False
        chat = private_chat(int(person.chat.chat_id))
        return self.maker.message(sender, chat, event.text), event.command == "help"

    def _read(self, person: Person, calls: Sequence[Call], was_help: bool) -> None:
        """Turn what the bot sent this person back into replies, as ``Person`` expects."""
        replies: list[Reply] = []
        shown = self._shown.setdefault(person.user.user_id, {})
        for call in calls:
            params = call.params
            if call.method == "sendMessage" and params["chat_id"] == person.chat.chat_id:
                text = html.unescape(params["text"])
                buttons: tuple[Button, ...] = ()
                if "reply_markup" in params:
                    markup = json.loads(params["reply_markup"])
                    buttons = tuple(
                        Button(b["text"], b["callback_data"])
                        for row in markup["inline_keyboard"]
                        for b in row
                    )
                    message = {
                        "message_id": call.message_id,
                        "date": MESSAGE_DATE,
                        "chat": private_chat(int(person.chat.chat_id)),
                        "from": BOT_USER,
                        "text": text,
                        "reply_markup": markup,
                    }
                    shown.update((button.payload, message) for button in buttons)
                replies.append(Reply(text, self.recogniser.key(text), buttons))
            elif call.method == "answerCallbackQuery" and "text" in params:
                text = params["text"]
                replies.append(Reply(text, self.recogniser.key(text), toast=True))
        self.replies.update(reply.key for reply in replies)
        person.remember(replies, was_help)


# --- the two timed sides ------------------------------------------------------------------


class TimedService:
    """Forwards ``handle`` to the real service and adds up the time spent in it.

    The full side's adapter is built on this, so the report can split each update into
    the core's turn and everything around it (PTB, the adapter, the Bot API calls).
    """

    def __init__(self, service: CoachService) -> None:
        self._service = service
        self.seconds = 0.0

    async def handle(self, event: IncomingEvent) -> list[Reply]:
        """The real ``CoachService.handle``, timed."""
        started = time.perf_counter()
        try:
            return await self._service.handle(event)
        finally:
            self.seconds += time.perf_counter() - started


async def echo(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """The echo bot: send a message's text back; answer a button press."""
    if not isinstance(update, Update):
        return
    if update.callback_query is not None:
        await update.callback_query.answer()
    elif update.message is not None and update.message.text:
        await context.bot.send_message(update.message.chat_id, update.message.text)


@dataclass
class Side:
    """One application fed pre-recorded update dicts, one at a time."""

    application: TelegramApp
    request: OfflineRequest

    async def run(self, updates: Sequence[JSON]) -> list[float]:
        """Feed ``updates`` one by one; return seconds per update (de_json untimed)."""
        application = self.application
        parsed = [Update.de_json(data, application.bot) for data in updates]
        timings: list[float] = []
        for update in parsed:
            started = time.perf_counter()
            await application.process_update(update)
            timings.append(time.perf_counter() - started)
        return timings


# --- wiring -------------------------------------------------------------------------------


class ErrorCounter(logging.Handler):
    """Counts records at ERROR or above, so the exit status can report them."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        """Count one record."""
        self.count += 1


def settings_for(database: Path) -> Settings:
    """Settings for an offline bot on the SQLite file ``database``."""
    return Settings(
        _env_file=None,
        telegram_bot_token=TOKEN,
        database_url=f"sqlite+aiosqlite:///{database}",
        mend_default_timezone="UTC",
    )


@dataclass
class FullStack:
    """The core on a fresh SQLite file and the real Telegram adapter on it."""

    core: Core
    application: TelegramApp
    request: OfflineRequest
    service: TimedService

    @classmethod
    async def open(cls, database: Path) -> FullStack:
        """Build the core on ``database`` and the adapter on it, and initialise PTB."""
        settings = settings_for(database)
        core = await build_core(settings)
        service = TimedService(core.service)
        timed_core = Core(cast(CoachService, service), core.content, core.database, core.nudges)
        request = OfflineRequest()
        adapter = build_telegram(timed_core, settings, request=request, polling=False)
        unthrottle(adapter.application)
        await adapter.application.initialize()
        return cls(core, adapter.application, request, service)

    async def close(self) -> None:
        """Shut PTB down and close the database."""
        await self.application.shutdown()
        await self.core.database.close()


async def echo_stack(database: Path) -> tuple[TelegramApp, OfflineRequest]:
    """The echo bot, built by the same factory, initialised."""
    request = OfflineRequest()
    application = build_application(settings_for(database), request=request, polling=False)
    application.add_handler(TypeHandler(Update, echo))
    unthrottle(application)
    await application.initialize()
    return application, request


@dataclass
class Outcome:
    """Everything ``report`` prints."""

    run: Run
    recording: Player
    full_calls: Counter[str]
    echo_calls: Counter[str]
    replay_matches: bool
    replay_detail: str
    core_seconds: float


async def bench(args: argparse.Namespace) -> Outcome:
    """Record the updates, set both sides up, warm them, and run the interleaved blocks."""
    rng = random.Random(args.seed)
    turns = turn_order(args.updates, args.people, rng)
    warm_people = max(1, min(args.people, args.warmup // 10))
    warm_turns = turn_order(args.warmup, warm_people, rng)
    print(
        f"Mend Telegram benchmark: {args.updates:,} updates from {args.people:,} people "
        f"(seed {args.seed}), python {platform.python_version()} on {os.cpu_count()} cpus"
    )
    with tempfile.TemporaryDirectory(prefix="mend-tg-bench-") as folder:
        root = Path(folder)

        # 1. Record what the measured people send, against a scratch full stack (untimed).
        stack = await FullStack.open(root / "recording.db")
        try:
            recording = Player(
                stack.application,
                stack.request,
                make_people(args.people, first_id=1),
                Recogniser(stack.core.content),
                args.seed,
                group_ids=[-1_000_000_000_000 - n for n in range(GROUPS)],
            )
            after_init = len(stack.request.calls)
            started = time.perf_counter()
            await recording.play(turns)
            recorded_in = time.perf_counter() - started
            recorded_calls = [c.signature() for c in stack.request.calls[after_init:]]
        finally:
            await stack.close()
        print(f"  recorded {len(recording.updates):,} updates in {recorded_in:.1f} s (untimed)")

        # 2. The timed sides: a fresh full stack and the echo bot.
        stack = await FullStack.open(root / "mend.db")
        full_request = stack.request
        echo_application, echo_request = await echo_stack(root / "unused.db")
        try:
            full = Side(stack.application, full_request)
            echo_side = Side(echo_application, echo_request)
            warm = Player(
                stack.application,
                full_request,
                make_people(warm_people, WARMUP_USER_OFFSET),
                Recogniser(stack.core.content),
                args.seed + 1,
                group_ids=[-2_000_000_000_000 - n for n in range(GROUPS)],
            )
            await warm.play(warm_turns)
            await echo_side.run(warm.updates)
            full_mark, echo_mark = len(full_request.calls), len(echo_request.calls)
            stack.service.seconds = 0.0
            run = await interleave(
                full,
                echo_side,
                blocks(recording.updates, args.block_size),
                names=("full", "echo"),
                unit="updates",
            )
            core_seconds = stack.service.seconds
            replayed = [c.signature() for c in full_request.calls[full_mark:]]
            full_calls = Counter(c.method for c in full_request.calls[full_mark:])
            echo_calls = Counter(c.method for c in echo_request.calls[echo_mark:])
        finally:
            await echo_application.shutdown()
            await stack.close()

    matches = replayed == recorded_calls
    if matches:
        detail = f"same {len(replayed):,} Bot API calls as the recording pass"
    else:
        first = next(
            (i for i, (a, b) in enumerate(zip(replayed, recorded_calls, strict=False)) if a != b),
            min(len(replayed), len(recorded_calls)),
        )
        detail = (
            f"DIFFERED from the recording pass at call {first:,} "
            f"({len(replayed):,} calls against {len(recorded_calls):,})"
        )
    return Outcome(run, recording, full_calls, echo_calls, matches, detail, core_seconds)


# --- output -------------------------------------------------------------------------------


def line(name: str, figures: Figures) -> str:
    """One aligned line of output."""
    return (
        f"{name:<5} {figures.events:>6,} updates  {figures.per_s:>7,.0f} updates/s  "
        f"p50 {figures.p50_ms:5.2f} ms  p99 {figures.p99_ms:5.2f} ms  "
        f"max {figures.max_ms:6.2f} ms"
    )


def calls_text(calls: Counter[str], updates: int) -> str:
    """Bot API calls per method, and per update."""
    listed = ", ".join(f"{method} {count:,}" for method, count in calls.most_common())
    return f"{listed} ({sum(calls.values()) / updates:.2f} per update)"


def report(args: argparse.Namespace, outcome: Outcome) -> None:
    """Print the figures, the target and how they were measured."""
    run, recording = outcome.run, outcome.recording
    full, echo_figures = Figures.of(run.subject), Figures.of(run.baseline)
    ratio = full.per_s / echo_figures.per_s
    quartiles = statistics.quantiles(run.block_ratios, n=4) if len(run.block_ratios) > 1 else []
    mix = ", ".join(f"{name} {count:,}" for name, count in recording.mix.most_common())
    print()
    print(f"update mix: {mix}")
    print(
        f"replies read by the people: {sum(recording.replies.values()):,}; finished "
        f"onboarding: {recording.replies['onboarding.done']:,}; stale buttons: "
        f"{recording.replies['common.stale_button']:,}"
    )
    print(f"full Bot API calls: {calls_text(outcome.full_calls, full.events)}")
    print(f"echo Bot API calls: {calls_text(outcome.echo_calls, echo_figures.events)}")
    print(f"replay check: the timed full side made the {outcome.replay_detail}")
    print(
        "method: Update.de_json outside the timed region; one update at a time, perf_counter "
        f"around each await application.process_update(update); {args.warmup} untimed "
        f"warm-up updates per side; {len(run.block_ratios)} interleaved blocks of "
        f"{args.block_size} updates per side, alternating which side goes first; "
        "updates/s = updates / summed per-update time"
    )
    print()
    print(line("full", full))
    print(line("echo", echo_figures))
    print()
    spread = (
        f" (per-block median {statistics.median(run.block_ratios):.3f}, "
        f"quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f})"
        if quartiles
        else ""
    )
    print(f"ratio full/echo updates/s: {ratio:.3f}{spread}")
    verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
    print(f"target ratio >= {TARGET_RATIO}: {verdict} ({ratio:.3f})")
    per_update = sum(run.subject) / full.events * 1e6
    in_core = outcome.core_seconds / full.events * 1e6
    print(
        f"full side per update: {per_update:.0f} us = CoachService.handle {in_core:.0f} us "
        f"({in_core / per_update:.0%}) + PTB, adapter and Bot API calls "
        f"{per_update - in_core:.0f} us; echo side per update: "
        f"{sum(run.baseline) / echo_figures.events * 1e6:.0f} us"
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the command line."""
    description = (__doc__ or "").split("\n\n")[0]
    return parse_bench_args(argv, description, unit="updates", count=5_000, people=500, block=50)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    errors = ErrorCounter()
    logging.getLogger().addHandler(errors)
    outcome = asyncio.run(bench(args))
    report(args, outcome)
    if errors.count:
        print(f"{errors.count} errors were logged while handling updates", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
