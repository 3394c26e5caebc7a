"""Benchmark the Discord adapter plus the core against an echo bot, message for message.

Run from the project root::

    .venv/bin/python bench/discord_bench.py            # 5,000 messages from 500 people
    .venv/bin/python bench/discord_bench.py --messages 1000 --people 100   # quicker

What it measures:

* **full**: ``build_discord(core, settings, intents=discord.Intents.all())`` on the real
  core (``bots.app.build_core``: real content, ``SystemClock``, a fresh, migrated SQLite
  file), driven offline by dpytest. A message goes through discord.py's real gateway
  parsing and dispatch (``ConnectionState.parse_message_create``, ``Client.dispatch``, an
  ``on_message`` task), the bot's ``on_message``, the adapter's mapping,
  ``CoachService.handle``, and every reply through ``Messageable.send`` (rendering,
  Markdown escaping, button views, discord.py's message parameters) into dpytest's
  ``FakeHttp``, which builds the message Discord would return and feeds it back through
  the gateway parser, as Discord does with a bot's own messages.
* **echo**: a bot from the same ``bots.discord.bot.make_bot`` with the factory's options
  (and the same widened intents), whose ``mend`` hooks object only sends a message's text
  back to its channel (ignoring bots, as the adapter ignores itself). Same dpytest
  machinery, same messages.

The members intent is widened only because dpytest puts people in a server's member list;
every message is a DM.

The messages: ~500 simulated people in DMs, driven by ``core_bench``'s simulation
(``/start``, typed time zones and times, wrong answers, ``/help``, free text,
``/settings``, ``/cancel``). A person reads what the bot sent them: the text (to tell a
question for a time zone or a time) and the buttons, taken from the components of each
``send_message`` call (dpytest's ``FakeHttp`` drops them, so its ``send_message`` is
wrapped to keep them). A press is an interaction, not a message, so it is not part of
this benchmark; but a person who never pressed would stay at the first question forever
and never type a time zone or a time. So when the simulation presses a button, the press
goes straight to ``CoachService.handle`` (untimed, outside both sides' figures) and the
person reads its replies; only the typed messages are timed and counted.

Because the echo bot cannot lead anyone through onboarding, the messages (and the presses
between them) are first recorded by playing the people against a full stack on a scratch
SQLite file (untimed). Both timed sides then send exactly those messages; the timed full
side, on its own fresh file, also replays the presses to its core between messages, and is
checked to send the same messages (text and buttons) and give the presses the same
replies as the recording pass. The echo side is checked to echo each message once.

dpytest keeps its configuration in module globals (``backend._cur_config``: the fake
server's state and message store; ``runner._cur_config``: the client, servers and
members), so only one bot is "the" configured client at a time. Each of the three bots
(recording, full, echo) is configured once, with its own server, members and DM channels,
and the two globals are saved; before each block a side puts its own pair back. Nothing
else is reconfigured, so each bot keeps its state, people and DMs for the whole run.
``sent_queue`` is shared and is drained after every message. dpytest's backend also keeps
the JSON of every message ever sent, for its own ``get_message`` and ``logs_from``, which
nothing here calls; left alone it grows by a few dicts per message and sets off full
garbage collections that scan all of it, so each side empties its store before every
block (untimed). The report counts the full collections that still land in the blocks.

Timing: ``time.perf_counter`` around each single ``await dpytest.message(text,
channel=dm, member=member)``, which builds the message, has the bot's state parse and
dispatch it, then awaits every ``_run_event`` task (``run_all_events``: the bot's
``on_message`` and the events for its own replies). Draining ``sent_queue`` and replaying
presses are outside the timed region. Both sides are warmed up with the same untimed
messages from other people, then run in interleaved blocks (echo, full, full, echo, ...)
as ``core_bench.py`` does. messages/s is messages divided by the summed per-message time.
The full side's adapter is built on a thin wrapper that adds up the time spent in
``CoachService.handle``; on both sides the ``mend`` hooks and ``FakeHttp.send_message``
are wrapped the same way, so the report splits a message into the core's turn, the rest
of the handler (adapter or echo, and discord.py's send), dpytest's fake Discord
(``FakeHttp.send_message``) and everything around the handler (dpytest building the
message, discord.py parsing and dispatching it, ``run_all_events``).

This is a measurement, not a test: missing the target is reported, not an error. The exit
status is non-zero only when something goes wrong (an exception, an error logged while
handling a message, or a failed replay or echo check). ``core_bench`` is imported from this
file's folder, which is on ``sys.path`` when the file is run as a script.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import discord
import discord.ext.test as dpytest
from core_bench import (
    ASKS_TIME,
    ASKS_TIMEZONE,
    Figures,
    Person,
    Run,
    Simulation,
    blocks,
    interleave,
    parse_bench_args,
    turn_order,
)
from discord.ext.test import backend, runner
from discord.utils import escape_markdown

from bots.app import Core, build_core
from bots.discord import mapping
from bots.discord.bot import BotHooks, MendBot, ShardedMendBot, make_bot
from bots.discord.factory import build_discord
from core.content import Content
from core.service import CoachService
from core.settings import Settings
from core.types import Button, EventKind, IncomingEvent, Reply, UserRef

TARGET_RATIO = 0.5
"""Full-stack messages/s must be at least this share of the echo bot's."""

TOKEN = "bench-token-not-real"

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
PRESS_KINDS = ("button", "old button")
"""What ``Simulation.mix`` calls a press; everything else it counts is a typed message."""

AnyBot = MendBot | ShardedMendBot


# --- dpytest: one configuration per bot, switched in and out --------------------------------


@dataclass(frozen=True, slots=True)
class Sent:
    """One message the bot sent, as its ``send_message`` call carried it."""

    channel_id: int
    content: str
    buttons: tuple[Button, ...]

    def signature(self, person: int) -> tuple[object, ...]:
        """What must match between the recording pass and the timed full side."""
        return ("send", person, self.content, *(b.payload for b in self.buttons))


class SendLog:
    """Wraps a bot's ``FakeHttp.send_message``: keeps the buttons and adds up the time.

    dpytest's ``send_message`` reads the channel from its caller's local variable named
    ``channel`` (``Messageable.send`` has one); the wrapper is that caller now, so it
    passes the name on from its own caller.
    """

    def __init__(self, http: Any) -> None:
        self.sent: list[Sent] = []
        self.seconds = 0.0
        original = http.send_message

        async def send_message(channel_id: int, *, params: Any) -> Any:
            channel = sys._getframe(1).f_locals.get("channel")  # noqa: F841 (read by dpytest)
            started = time.perf_counter()
            try:
                return await original(channel_id, params=params)
            finally:
                self.seconds += time.perf_counter() - started
                self._keep(channel_id, params.payload or {})

        http.send_message = send_message

    def _keep(self, channel_id: int, payload: dict[str, Any]) -> None:
        buttons = tuple(
            Button(item.get("label", ""), mapping.payload_of(item.get("custom_id", "")) or "?")
            for row in payload.get("components") or ()
            for item in row.get("components", ())
        )
        self.sent.append(Sent(int(channel_id), payload.get("content") or "", buttons))


@dataclass
class World:
    """One bot configured in dpytest, with its people (server members) and their DMs."""

    bot: AnyBot
    backend_state: Any
    runner_config: Any
    members: list[discord.Member]
    dms: list[discord.DMChannel]
    users: list[UserRef]
    channel_index: dict[int, int]
    log: SendLog

    @classmethod
    async def configure(cls, bot: AnyBot, people: int) -> World:
        """Configure ``bot`` in dpytest with ``people`` members and open a DM with each."""
        await bot._async_setup_hook()
        dpytest.configure(bot, members=people)
        config = dpytest.get_config()
        members = list(config.members)
        dms = [await member.create_dm() for member in members]
        users = []
        for member, dm in zip(members, dms, strict=True):
            user = dm.recipient or bot.get_user(member.id)
            if user is None:
                raise RuntimeError(f"dpytest knows no user {member.id}")
            users.append(mapping.user_ref(user))
        return cls(
            bot,
            backend._cur_config,
            runner._cur_config,
            members,
            dms,
            users,
            {dm.id: n for n, dm in enumerate(dms)},
            SendLog(bot.http),
        )

    def activate(self) -> None:
        """Make this bot dpytest's configured client again (see the module docstring)."""
        backend._cur_config = self.backend_state
        runner._cur_config = self.runner_config

    def forget_messages(self) -> None:
        """Empty dpytest's store of every message's JSON (see the module docstring)."""
        self.backend_state.messages.clear()

    async def message(self, person: int, text: str) -> None:
        """``person`` sends ``text`` in their DM; runs until every event is handled."""
        await dpytest.message(text, channel=self.dms[person], member=self.members[person])

    def press_event(self, person: int, payload: str) -> IncomingEvent:
        """A press by ``person`` of a button with ``payload`` under a message in their DM."""
        user = self.users[person]
        return IncomingEvent(
            kind=EventKind.BUTTON,
            chat=mapping.private_chat(user),
            user=user,
            at=datetime.now(UTC),
            payload=payload,
        )


def drain_sent_queue() -> None:
    """Empty dpytest's queue of sent messages, so it does not grow."""
    queue = dpytest.sent_queue
    while not queue.empty():
        queue.get_nowait()


class GcWatch:
    """Notes the full (generation 2) garbage collections and which side's block they hit."""

    def __init__(self) -> None:
        self.side = "setup"
        self.pauses: list[tuple[str, float]] = []
        self._started = 0.0

    def __enter__(self) -> GcWatch:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.pauses.append((self.side, time.perf_counter() - self._started))


# --- the bots' hooks --------------------------------------------------------------------


class TimedService:
    """Forwards ``handle`` to the real service and adds up the time spent in it."""

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


class TimedHooks:
    """Forwards the bot's events to its real hooks and adds up the time in ``on_message``."""

    def __init__(self, hooks: BotHooks) -> None:
        self._hooks = hooks
        self.seconds = 0.0

    async def setup(self) -> None:
        """Forwarded."""
        await self._hooks.setup()

    async def on_message(self, message: discord.Message) -> None:
        """The real handler, timed (the bot's own messages come here too)."""
        started = time.perf_counter()
        try:
            await self._hooks.on_message(message)
        finally:
            self.seconds += time.perf_counter() - started

    async def on_guild_join(self, guild: discord.Guild) -> None:
        """Forwarded."""
        await self._hooks.on_guild_join(guild)


class EchoHooks:
    """The echo bot: send a message's text back to its channel; ignore bots."""

    async def setup(self) -> None:
        """Nothing to install."""

    async def on_message(self, message: discord.Message) -> None:
        """Echo."""
        if message.author.bot:
            return
        await message.channel.send(message.content)

    async def on_guild_join(self, guild: discord.Guild) -> None:
        """Nothing to say."""


# --- simulated people reading what the bot sent -----------------------------------------


class Recogniser:
    """Tells which watched content key a sent text came from, by its fixed opening."""

    def __init__(self, content: Content) -> None:
        openings = [(content.texts.by_key[key].split("$", 1)[0], key) for key in WATCHED_KEYS]
        short = [key for opening, key in openings if len(opening) < 12]
        if short:
            raise RuntimeError(f"texts too short to recognise: {short}")
        # The adapter escapes Markdown in everything it sends; so do the openings.
        escaped = [(escape_markdown(opening), key) for opening, key in openings]
        self._openings = sorted(escaped, key=lambda pair: len(pair[0]), reverse=True)

    def key(self, text: str) -> str:
        """The watched key whose text ``text`` starts with, or ``OTHER_KEY``."""
        for opening, key in self._openings:
            if text.startswith(opening):
                return key
        return OTHER_KEY


@dataclass(frozen=True, slots=True)
class Message:
    """One recorded DM, and the presses (person, payload) made since the previous one."""

    person: int
    text: str
    presses: tuple[tuple[int, str], ...] = ()


@dataclass
class Player:
    """Plays simulated people against a full stack and records the messages they send."""

    world: World
    service: CoachService
    recogniser: Recogniser
    seed: int
    first: int
    count: int
    messages: list[Message] = field(default_factory=list)
    signatures: list[tuple[object, ...]] = field(default_factory=list)
    replies: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.simulation = Simulation(random.Random(self.seed))
        self.people = [
            Person(user, mapping.private_chat(user))
            for user in self.world.users[self.first : self.first + self.count]
        ]

    @property
    def mix(self) -> Counter[str]:
        """How many messages (and presses) of each kind were sent so far."""
        return self.simulation.mix

    async def play(self, turns: Iterator[int], messages: int) -> None:
        """Let the person at each turn act until ``messages`` DMs are recorded."""
        world = self.world
        world.activate()
        presses: list[tuple[int, str]] = []
        target = len(self.messages) + messages
        while len(self.messages) < target:
            local = next(turns)
            person, index = self.people[local], self.first + local
            event = self.simulation.next_event(person)
            if event.kind is EventKind.BUTTON and event.payload is not None:
                replies = await self.service.handle(world.press_event(index, event.payload))
                presses.append((index, event.payload))
                self.signatures.append(press_signature(index, event.payload, replies))
                self.replies.update(reply.key for reply in replies)
                person.remember(replies, was_help=False)
                continue
            mark = len(world.log.sent)
            await world.message(index, event.text)
            drain_sent_queue()
            world.forget_messages()
            self.messages.append(Message(index, event.text, tuple(presses)))
            presses.clear()
            self._read(person, index, world.log.sent[mark:], event.command == "help")

    def _read(self, person: Person, index: int, sent: Sequence[Sent], was_help: bool) -> None:
        """Turn what the bot sent this person back into replies, as ``Person`` expects."""
        replies = []
        for message in sent:
            target = self.world.channel_index.get(message.channel_id)
            self.signatures.append(message.signature(-1 if target is None else target))
            if target == index:
                key = self.recogniser.key(message.content)
                replies.append(Reply(message.content, key, message.buttons))
        self.replies.update(reply.key for reply in replies)
        person.remember(replies, was_help)


def press_signature(person: int, payload: str, replies: Sequence[Reply]) -> tuple[object, ...]:
    """A press and what the core answered, for the replay check."""
    return ("press", person, payload, *(reply.key for reply in replies))


def endless_turns(people: int, rng: random.Random) -> Iterator[int]:
    """Who acts next, for as long as asked: everyone equally often, interleaved."""
    while True:
        yield from turn_order(people * 10, people, rng)


# --- the two timed sides ----------------------------------------------------------------


@dataclass
class Side:
    """One bot sent pre-recorded messages, one at a time; the full side replays presses."""

    name: str
    world: World
    service: CoachService | None = None
    gc_watch: GcWatch | None = None
    signatures: list[tuple[object, ...]] = field(default_factory=list)
    echo_mismatches: int = 0

    async def run(self, messages: Sequence[Message]) -> list[float]:
        """Send ``messages`` one by one; return seconds per message."""
        world = self.world
        world.activate()
        world.forget_messages()
        if self.gc_watch is not None:
            self.gc_watch.side = self.name
        log = world.log.sent
        timings: list[float] = []
        for message in messages:
            if self.service is not None:
                for person, payload in message.presses:  # interactions: untimed
                    replies = await self.service.handle(world.press_event(person, payload))
                    self.signatures.append(press_signature(person, payload, replies))
            mark = len(log)
            dm, member = world.dms[message.person], world.members[message.person]
            started = time.perf_counter()
            await dpytest.message(message.text, channel=dm, member=member)
            timings.append(time.perf_counter() - started)
            drain_sent_queue()
            if self.service is not None:
                self.signatures.extend(
                    s.signature(world.channel_index.get(s.channel_id, -1)) for s in log[mark:]
                )
            elif [(s.channel_id, s.content) for s in log[mark:]] != [(dm.id, message.text)]:
                self.echo_mismatches += 1
        return timings


# --- wiring -----------------------------------------------------------------------------


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
        discord_bot_token=TOKEN,
        database_url=f"sqlite+aiosqlite:///{database}",
        mend_default_timezone="UTC",
    )


@dataclass
class FullStack:
    """The core on a fresh SQLite file and the real Discord adapter on it, in dpytest."""

    core: Core
    world: World
    service: TimedService
    hooks: TimedHooks

    @classmethod
    async def open(cls, database: Path, people: int) -> FullStack:
        """Build the core on ``database`` and the adapter on it, and configure dpytest."""
        settings = settings_for(database)
        core = await build_core(settings)
        service = TimedService(core.service)
        timed_core = Core(cast(CoachService, service), core.content, core.database, core.nudges)
        adapter = build_discord(timed_core, settings, intents=discord.Intents.all())
        hooks = TimedHooks(adapter)
        adapter.bot.mend = hooks
        world = await World.configure(adapter.bot, people)
        adapter.install()
        return cls(core, world, service, hooks)

    async def close(self) -> None:
        """Close the database."""
        await self.core.database.close()


async def echo_world(database: Path, people: int) -> tuple[World, TimedHooks]:
    """The echo bot, made like the factory makes Mend's, configured in dpytest."""
    settings = settings_for(database)
    bot = make_bot(
        message_content=settings.discord_message_content,
        shard_count=settings.discord_shard_count,
        shard_ids=settings.shard_ids,
        intents=discord.Intents.all(),
    )
    hooks = TimedHooks(EchoHooks())
    bot.mend = hooks
    return await World.configure(bot, people), hooks


@dataclass
class Outcome:
    """Everything ``report`` prints."""

    run: Run
    recording: Player
    full_sent: list[Sent]
    echo_sent: list[Sent]
    replay_matches: bool
    replay_detail: str
    echo_mismatches: int
    seconds: dict[str, float]
    gc_pauses: list[tuple[str, float]]


async def bench(args: argparse.Namespace) -> Outcome:
    """Record the messages, set both sides up, warm them, and run the interleaved blocks."""
    rng = random.Random(args.seed)
    turns = endless_turns(args.people, rng)
    warm_people = max(1, min(args.people, args.warmup // 10))
    warm_turns = endless_turns(warm_people, rng)
    members = args.people + warm_people
    print(
        f"Mend Discord benchmark: {args.messages:,} messages from {args.people:,} people "
        f"(seed {args.seed}), python {platform.python_version()} on {os.cpu_count()} cpus"
    )
    with tempfile.TemporaryDirectory(prefix="mend-dc-bench-") as folder:
        root = Path(folder)

        # 1. Record what the measured people send, against a scratch full stack (untimed).
        stack = await FullStack.open(root / "recording.db", members)
        try:
            recording = Player(
                stack.world,
                stack.core.service,
                Recogniser(stack.core.content),
                args.seed,
                first=0,
                count=args.people,
            )
            started = time.perf_counter()
            await recording.play(turns, args.messages)
            recorded_in = time.perf_counter() - started
        finally:
            await stack.close()
        presses = sum(len(m.presses) for m in recording.messages)
        print(
            f"  recorded {len(recording.messages):,} messages and {presses:,} presses "
            f"in {recorded_in:.1f} s (untimed)"
        )

        # 2. The timed sides: a fresh full stack and the echo bot.
        stack = await FullStack.open(root / "mend.db", members)
        echo, echo_hooks = await echo_world(root / "unused.db", members)
        try:
            full = Side("full", stack.world, stack.core.service)
            echo_side = Side("echo", echo)
            warm = Player(
                stack.world,
                stack.core.service,
                Recogniser(stack.core.content),
                args.seed + 1,
                first=args.people,
                count=warm_people,
            )
            await warm.play(warm_turns, args.warmup)
            await echo_side.run(warm.messages)
            full_mark, echo_mark = len(stack.world.log.sent), len(echo.log.sent)
            for timed in (stack.service, stack.hooks, stack.world.log, echo_hooks, echo.log):
                timed.seconds = 0.0
            echo_side.echo_mismatches = 0
            with GcWatch() as gc_watch:
                full.gc_watch = echo_side.gc_watch = gc_watch
                run = await interleave(
                    full,
                    echo_side,
                    blocks(recording.messages, args.block_size),
                    names=("full", "echo"),
                    unit="messages",
                )
            seconds = {
                "core": stack.service.seconds,
                "full handler": stack.hooks.seconds,
                "full send": stack.world.log.seconds,
                "echo handler": echo_hooks.seconds,
                "echo send": echo.log.seconds,
            }
            full_sent = stack.world.log.sent[full_mark:]
            echo_sent = echo.log.sent[echo_mark:]
        finally:
            await stack.close()

    replayed, recorded = full.signatures, recording.signatures
    matches = replayed == recorded
    sends = sum(1 for s in replayed if s[0] == "send")
    if matches:
        detail = (
            f"sent the same {sends:,} messages (text and buttons) as the recording pass, and "
            f"its core gave the {presses:,} presses the same replies"
        )
    else:
        first = next(
            (i for i, (a, b) in enumerate(zip(replayed, recorded, strict=False)) if a != b),
            min(len(replayed), len(recorded)),
        )
        detail = (
            f"DIFFERED from the recording pass at item {first:,} "
            f"({len(replayed):,} sends and presses against {len(recorded):,})"
        )
    return Outcome(
        run,
        recording,
        full_sent,
        echo_sent,
        matches,
        detail,
        echo_side.echo_mismatches,
        seconds,
        gc_watch.pauses,
    )


# --- output -----------------------------------------------------------------------------


def line(name: str, figures: Figures) -> str:
    """One aligned line of output."""
    return (
        f"{name:<5} {figures.events:>6,} messages  {figures.per_s:>7,.0f} messages/s  "
        f"p50 {figures.p50_ms:5.2f} ms  p99 {figures.p99_ms:5.2f} ms  "
        f"max {figures.max_ms:6.2f} ms"
    )


def sends_text(sent: Sequence[Sent], messages: int) -> str:
    """How many messages the bot sent, per message received, and how many had buttons."""
    buttons = sum(1 for s in sent if s.buttons)
    return (
        f"{len(sent):,} messages ({len(sent) / messages:.2f} per message), {buttons:,} with buttons"
    )


def report(args: argparse.Namespace, outcome: Outcome) -> None:
    """Print the figures, the target and how they were measured."""
    run, recording = outcome.run, outcome.recording
    full, echo_figures = Figures.of(run.subject), Figures.of(run.baseline)
    ratio = full.per_s / echo_figures.per_s
    quartiles = statistics.quantiles(run.block_ratios, n=4) if len(run.block_ratios) > 1 else []
    typed = [(k, n) for k, n in recording.mix.most_common() if k not in PRESS_KINDS]
    mix = ", ".join(f"{name} {count:,}" for name, count in typed)
    presses = sum(recording.mix[kind] for kind in PRESS_KINDS)
    print()
    print(f"message mix (all DMs): {mix}")
    print(
        f"between them, {presses:,} button presses ({recording.mix['old button']:,} of old "
        "buttons): interactions, not messages, so they went straight to CoachService.handle, "
        "untimed, on the recording and the timed full side alike"
    )
    print(
        f"replies read by the people: {sum(recording.replies.values()):,}; finished "
        f"onboarding: {recording.replies['onboarding.done']:,}; stale buttons: "
        f"{recording.replies['common.stale_button']:,}"
    )
    print(f"full bot sent: {sends_text(outcome.full_sent, full.events)}")
    print(f"echo bot sent: {sends_text(outcome.echo_sent, echo_figures.events)}")
    print(f"replay check: the timed full side {outcome.replay_detail}")
    echo_check = (
        "every message echoed once, text intact"
        if outcome.echo_mismatches == 0
        else f"{outcome.echo_mismatches:,} messages NOT echoed exactly once"
    )
    print(f"echo check: {echo_check}")
    print(
        "method: one dpytest configuration per bot, its two module globals swapped back in "
        "(and its message store emptied) before each block; one message at a time, "
        "perf_counter around each await dpytest.message(text, channel=dm, member=member) "
        "(discord.py's parse and dispatch, "
        "the bot's on_message, its sends through dpytest's FakeHttp, run_all_events); "
        f"sent_queue drained and presses replayed outside the timed region; {args.warmup} "
        f"untimed warm-up messages per side; {len(run.block_ratios)} interleaved blocks of "
        f"{args.block_size} messages per side, alternating which side goes first; "
        "messages/s = messages / summed per-message time"
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
    print(f"ratio full/echo messages/s: {ratio:.3f}{spread}")
    verdict = "met" if ratio >= TARGET_RATIO else "MISSED"
    print(f"target ratio >= {TARGET_RATIO}: {verdict} ({ratio:.3f})")
    seconds = outcome.seconds

    def us(value: float, count: int) -> float:
        return value / count * 1e6

    per_full = us(sum(run.subject), full.events)
    core = us(seconds["core"], full.events)
    full_send = us(seconds["full send"], full.events)
    full_rest = us(seconds["full handler"], full.events) - core - full_send
    print(
        f"full side per message: {per_full:.0f} us = CoachService.handle {core:.0f} us "
        f"({core / per_full:.0%}) + adapter and discord.py's send {full_rest:.0f} us + "
        f"dpytest's FakeHttp.send_message {full_send:.0f} us + around the handler "
        f"(dpytest's message, discord.py's parse and dispatch, run_all_events) "
        f"{per_full - core - full_send - full_rest:.0f} us"
    )
    per_echo = us(sum(run.baseline), echo_figures.events)
    echo_send = us(seconds["echo send"], echo_figures.events)
    echo_rest = us(seconds["echo handler"], echo_figures.events) - echo_send
    print(
        f"echo side per message: {per_echo:.0f} us = echo handler and discord.py's send "
        f"{echo_rest:.0f} us + dpytest's FakeHttp.send_message {echo_send:.0f} us + around "
        f"the handler {per_echo - echo_send - echo_rest:.0f} us"
    )
    pauses = outcome.gc_pauses
    if pauses:
        where = Counter(side for side, _ in pauses)
        print(
            f"full garbage collections during the blocks: {len(pauses)} (in full's blocks "
            f"{where['full']}, in echo's {where['echo']}), longest "
            f"{max(seconds for _, seconds in pauses) * 1000:.0f} ms"
        )
    else:
        print("full garbage collections during the blocks: none")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Read the command line."""
    description = (__doc__ or "").split("\n\n")[0]
    return parse_bench_args(argv, description, unit="messages", count=5_000, people=500, block=50)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit status."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    errors = ErrorCounter()
    logging.getLogger().addHandler(errors)
    outcome = asyncio.run(bench(args))
    report(args, outcome)
    if errors.count:
        print(f"{errors.count} errors were logged while handling messages", file=sys.stderr)
        return 1
    if not outcome.replay_matches or outcome.echo_mismatches:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
