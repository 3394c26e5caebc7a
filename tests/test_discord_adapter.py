"""The Discord adapter driven through the real discord.py bot, offline.

Messages go through dpytest; slash commands and button presses are interaction payloads
fed to the bot's real ``CommandTree`` and ``ViewStore`` (see ``tests/discord_fakes.py``).
Every test asserts on what the bot really sent: channel messages as dpytest received them
(with the components and files dpytest would drop), interaction answers as the recording
webhook adapter received them. Nothing reaches the network.
"""

from __future__ import annotations

import ast
import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import time as clock_time
from pathlib import Path
from typing import Any

import aiohttp
import discord
import discord.ext.test as dpytest
import pytest
import yaml
from discord.ext.test import backend
from discord.ext.test import factories as facts

import bots.discord
from bots.app import Core
from bots.discord import mapping, views, voices
from bots.discord.adapter import DiscordAdapter
from bots.discord.bot import MendBot, ShardedMendBot, intents, make_bot
from bots.discord.factory import MAX_RATELIMIT_WAIT, build_discord
from content import CONTENT_DIR
from core import keys
from core.content import Content
from core.localtime import format_local_time
from core.outbox import DeliveryRefused, DeliveryUnknown, PlatformUnavailable, RateLimited
from core.schedule.kinds import Priority
from core.service.nudges import NudgeDesk
from core.types import (
    Attachment,
    Button,
    ChatKind,
    ChatRef,
    EventKind,
    IncomingEvent,
    Platform,
    Reply,
    UserRef,
)
from scheduler.pacing import DISCORD_LIMITS, PlatformLimits, SendGate
from tests import discord_fakes as dc
from tests.fakes import FakeClock
from tests.prose import content_lines, literal_text, not_from_content, prose_literals

# --- harness --------------------------------------------------------------------------------


@pytest.fixture
async def bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[dc.DiscordBot]:
    """The adapter on the real core (SQLite), as ``build_discord`` builds it."""
    async with dc.discord_bot(tmp_path / "mend.db", clock=clock) as running:
        yield running


@asynccontextmanager
async def stubbed(
    tmp_path: Path, service: dc.Scripted | Any, **options: Any
) -> AsyncIterator[dc.DiscordBot]:
    """The adapter on a stand-in service (it only needs ``handle``)."""
    async with dc.discord_bot(tmp_path / "mend.db", service=service, **options) as running:
        yield running


def said_text(content: Content, key: str, **values: str) -> str:
    return content.texts.render(key, values)


def answers(calls: list[dc.WebhookCall]) -> list[tuple[str, int | None, bool, str]]:
    """Each request as (kind, response type, ephemeral, text) for compact assertions."""
    return [
        (c.kind, c.response_type, c.ephemeral, dc.plain(str(c.data.get("content") or "")))
        for c in calls
    ]


def assert_retired_first(calls: list[dc.WebhookCall]) -> None:
    """A press was answered by removing its message's buttons, before anything was said."""
    first = calls[0]
    assert (first.kind, first.response_type) == ("callback", dc.UPDATE_MESSAGE)
    assert first.data.get("components") == []
    assert "content" not in first.data  # the pressed message's text stays as it was


def ok(text: str = "carry on") -> Reply:
    return Reply(text=text, key="test.ok")


# --- 1. DM onboarding ---------------------------------------------------------------------


async def test_dm_onboarding_end_to_end_with_messages(bot: dc.DiscordBot, content: Content) -> None:
    texts = content.texts
    alex = bot.members[0]
    dm = await bot.dm(alex)

    [intro] = await bot.message("/start", alex)
    assert (intro.via, intro.channel_id, intro.private) == ("channel", dm.id, True)
    assert intro.text == said_text(content, "onboarding.intro", name="Alex")
    assert intro.labels == [
        texts.render("onboarding.button.adult"),
        texts.render("onboarding.button.minor"),
    ]
    assert all(mapping.payload_of(custom) for _, custom in intro.buttons)

    steps = [
        ("onboarding.button.adult", ["onboarding.consent"]),
        ("onboarding.button.agree", ["onboarding.ask_timezone"]),
    ]
    for label_key, said_keys in steps:
        carrier, calls = await bot.press(texts.render(label_key), alex, dm)
        assert_retired_first(calls)
        assert carrier.retired
        assert answers(calls[1:]) == [("followup", None, False, texts.render(k)) for k in said_keys]

    [confirm] = await bot.message("Berlin", alex)
    assert confirm.text == said_text(content, "input.confirm_timezone", timezone="Europe/Berlin")

    carrier, calls = await bot.press(texts.render("button.yes_right"), alex, dm)
    assert_retired_first(calls)
    assert answers(calls[1:]) == [("followup", None, False, texts.render("onboarding.ask_time"))]

    [situation] = await bot.message("7:30", alex)
    half_seven = format_local_time(clock_time(7, 30))
    assert situation.text == said_text(content, "onboarding.ask_situation", daily_time=half_seven)
    assert len(situation.buttons) == 4

    carrier, calls = await bot.press(texts.render("onboarding.button.struggling"), alex, dm)
    assert_retired_first(calls)
    assert answers(calls[1:]) == [
        ("followup", None, False, texts.render("onboarding.suggest.struggling")),
        ("followup", None, False, texts.render("onboarding.done")),
    ]
    assert all(c.data.get("components") in (None, []) for c in calls[1:])

    [back] = await bot.message("/start", alex)
    assert back.text == said_text(content, keys.START_WELCOME_BACK, name="Alex")

    assert {s.channel_id for s in bot.said} == {dm.id}
    assert not any(s.ephemeral for s in bot.said)
    assert [c.response_type for c in bot.recorder.calls if c.kind == "callback"] == [7] * 4


async def test_dm_onboarding_with_slash_commands_and_buttons(
    bot: dc.DiscordBot, content: Content
) -> None:
    texts = content.texts
    alex = bot.members[0]
    dm = await bot.dm(alex)

    calls = await bot.command("start", alex, dm)
    assert answers(calls) == [
        ("callback", dc.MESSAGE, False, said_text(content, "onboarding.intro", name="Alex"))
    ]
    intro = bot.said[-1]
    assert (intro.via, intro.channel_id) == ("response", dm.id)
    assert intro.labels == [
        texts.render("onboarding.button.adult"),
        texts.render("onboarding.button.minor"),
    ]

    for label_key, said_key in [
        ("onboarding.button.adult", "onboarding.consent"),
        ("onboarding.button.agree", "onboarding.ask_timezone"),
    ]:
        carrier, calls = await bot.press(texts.render(label_key), alex, dm)
        assert_retired_first(calls)
        assert carrier.retired
        assert answers(calls[1:]) == [("followup", None, False, texts.render(said_key))]

    await bot.message("Berlin", alex)
    _, calls = await bot.press(texts.render("button.yes_right"), alex, dm)
    assert answers(calls[1:]) == [("followup", None, False, texts.render("onboarding.ask_time"))]
    await bot.message("7:30", alex)
    _, calls = await bot.press(texts.render("onboarding.button.growing"), alex, dm)
    assert [text for *_, text in answers(calls[1:])] == [
        texts.render("onboarding.suggest.growing"),
        texts.render("onboarding.done"),
    ]

    half_seven = format_local_time(clock_time(7, 30))
    calls = await bot.command("settings", alex, dm)
    quiet = f"{format_local_time(clock_time(22, 0))}–{format_local_time(clock_time(8, 0))}"
    menu = said_text(
        content,
        "settings.menu",
        timezone="Europe/Berlin",
        daily_time=half_seven,
        quiet_hours=quiet,
    )
    assert answers(calls) == [("callback", dc.MESSAGE, False, menu)]
    flow = yaml.safe_load((CONTENT_DIR / "flows" / "settings.yaml").read_text(encoding="utf-8"))
    assert bot.said[-1].labels == [
        texts.render(b["label"]) for b in flow["steps"]["menu"]["buttons"]
    ]
    _, calls = await bot.press(texts.render("settings.button.nothing"), alex, dm)
    assert_retired_first(calls)
    assert answers(calls[1:]) == [("followup", None, False, texts.render("settings.unchanged"))]

    calls = await bot.command("cancel", alex, dm)
    assert answers(calls) == [("callback", dc.MESSAGE, False, texts.render(keys.CANCEL_NOTHING))]
    assert {s.channel_id for s in bot.said} == {dm.id}


# --- 2. two members in one server channel -------------------------------------------------


async def test_two_members_in_a_server_channel(bot: dc.DiscordBot, content: Content) -> None:
    texts = content.texts
    alex, robin = bot.members
    channel = bot.channel

    calls = await bot.command("help", alex, channel)
    [(kind, kind_type, ephemeral, help_text)] = answers(calls)
    assert (kind, kind_type, ephemeral) == ("callback", dc.MESSAGE, False)
    assert help_text.splitlines()[0] == texts.render(keys.HELP_HEADER)
    described = {"command": "help", "description": texts.render("commands.help")}
    assert texts.render(keys.HELP_LINE, described) in help_text.splitlines()
    assert "/settings" not in help_text  # private-only commands are not offered here

    calls = await bot.command("start", robin, channel)
    assert answers(calls) == [("callback", dc.MESSAGE, False, texts.render(keys.START_GROUP))]

    before = len(bot.said)
    assert await bot.message("we should talk about the weekend", robin, channel) == []
    assert await bot.message("/help", alex, channel) == []  # typed, not a slash command
    assert len(bot.said) == before

    [answer] = await bot.message(f"<@{bot.bot.user.id}> are you there?", alex, channel)
    assert (answer.via, answer.channel_id) == ("channel", channel.id)
    assert answer.text == texts.render(keys.POINTER_NEW)

    [answer] = await bot.message(f"<@!{bot.bot.user.id}> /help", robin, channel)
    assert answer.channel_id == channel.id
    assert answer.text.splitlines()[0] == texts.render(keys.HELP_HEADER)
    assert not any(s.private for s in bot.said)


# --- 3. the code word: what reaches the core ----------------------------------------------


@asynccontextmanager
async def spied(
    tmp_path: Path, clock: FakeClock, *, message_content: bool
) -> AsyncIterator[tuple[dc.DiscordBot, list[IncomingEvent]]]:
    """The real core, with a spy on ``service.handle`` recording every event it gets."""
    events: list[IncomingEvent] = []
    async with dc.discord_bot(
        tmp_path / "mend.db", clock=clock, message_content=message_content
    ) as running:
        real = running.core.service.handle

        async def spy(event: IncomingEvent) -> list[Reply]:
            events.append(event)
            return await real(event)

        running.core.service.handle = spy  # type: ignore[method-assign]
        try:
            yield running, events
        finally:
            del running.core.service.handle


async def test_without_message_content_plain_server_text_never_reaches_the_core(
    tmp_path: Path, clock: FakeClock, content: Content
) -> None:
    async with spied(tmp_path, clock, message_content=False) as (bot, events):
        alex = bot.members[0]
        assert await bot.message("pause", alex, bot.channel) == []
        assert await bot.message("/pause", alex, bot.channel) == []
        assert events == []

        await bot.message(f"<@{bot.bot.user.id}> pause", alex, bot.channel)
        [mention] = events
        assert mention.kind is EventKind.TEXT
        assert mention.addressed_to_bot
        assert mention.text == "pause"
        assert mention.chat == ChatRef(Platform.DISCORD, str(bot.channel.id), ChatKind.GROUP)

        [reply] = await bot.message("pause", alex)  # a DM is always read
        assert reply.text == content.texts.render(keys.POINTER_NEW)
        dm_event = events[-1]
        assert (dm_event.kind, dm_event.addressed_to_bot, dm_event.text) == (
            EventKind.TEXT,
            True,
            "pause",
        )
        assert dm_event.chat == ChatRef(Platform.DISCORD, str(alex.id), ChatKind.PRIVATE)


async def test_with_message_content_plain_server_text_reaches_the_core_unaddressed(
    tmp_path: Path, clock: FakeClock, content: Content
) -> None:
    async with spied(tmp_path, clock, message_content=True) as (bot, events):
        alex, robin = bot.members
        assert await bot.message("pause", alex, bot.channel) == []  # the core decides: ignore
        [event] = events
        assert event.kind is EventKind.TEXT
        assert event.text == "pause"
        assert event.addressed_to_bot is False
        assert event.chat == ChatRef(Platform.DISCORD, str(bot.channel.id), ChatKind.GROUP)
        assert event.user == UserRef(Platform.DISCORD, str(alex.id))

        [answer] = await bot.message("/help", robin, bot.channel)  # a typed command is for Mend
        assert events[-1].kind is EventKind.COMMAND
        assert events[-1].addressed_to_bot
        assert answer.text.splitlines()[0] == content.texts.render(keys.HELP_HEADER)

        [reply] = await bot.message("pause", alex)
        assert reply.text == content.texts.render(keys.POINTER_NEW)
        assert events[-1].addressed_to_bot
        assert events[-1].chat.is_private


# --- 4. refused DMs -------------------------------------------------------------------------

PRIVATE_WORDS = ("just between us", "and one more thing")


def whisper(event: IncomingEvent) -> list[Reply]:
    """Two private replies to whoever spoke (the refusal notice must still come once)."""
    return [Reply(text=t, key="test.private", private_to=event.user) for t in PRIVATE_WORDS]


async def test_a_refused_dm_leaves_one_neutral_line_in_the_channel(
    tmp_path: Path, content: Content
) -> None:
    notice = content.texts.render(keys.ALLOW_DMS)
    lines: list[str] = []
    async with stubbed(tmp_path, dc.Scripted(whisper)) as bot:
        bot.recorder.refused.dm_users.update(m.id for m in bot.members)
        for who in bot.members:
            attempts = bot.recorder.attempts
            said = await bot.message(f"<@{bot.bot.user.id}> hello", who, bot.channel)
            assert [(s.via, s.channel_id) for s in said] == [("channel", bot.channel.id)]
            lines.append(said[0].text)
            assert bot.recorder.attempts - attempts == 3  # two refused DMs, one notice

        calls = await bot.command("help", bot.members[0], bot.channel)
        assert answers(calls) == [("callback", dc.MESSAGE, False, notice)]

    assert lines == [notice, notice]  # the same line whoever it was for
    shown = " ".join(s.content for s in bot.said)
    assert not any(words in shown for words in PRIVATE_WORDS)
    assert not any(s.private for s in bot.said)
    for member in bot.members:
        assert member.name not in shown
        assert str(member.id) not in shown


async def test_a_private_reply_from_a_server_goes_to_the_dm(
    tmp_path: Path, content: Content
) -> None:
    async with stubbed(tmp_path, dc.Scripted(whisper)) as bot:
        robin = bot.members[1]
        said = await bot.message(f"<@{bot.bot.user.id}> hello", robin, bot.channel)
        dm = await bot.dm(robin)
        assert [(s.channel_id, s.text) for s in said] == [(dm.id, t) for t in PRIVATE_WORDS]

        calls = await bot.command("help", robin, bot.channel)
        sent_privately = content.texts.render(keys.SENT_PRIVATELY)
        assert answers(calls) == [("callback", dc.MESSAGE, True, sent_privately)]
        assert [s.text for s in bot.said if s.private] == list(PRIVATE_WORDS) * 2


async def test_a_channel_that_refuses_posts_is_logged_quietly_not_as_a_failure(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bots.discord")
    async with stubbed(tmp_path, dc.Scripted(lambda event: [ok()])) as bot:
        bot.recorder.refused.channels.add(bot.channel.id)
        attempts = bot.recorder.attempts
        assert await bot.message(f"<@{bot.bot.user.id}> hi", bot.members[0], bot.channel) == []
        assert bot.recorder.attempts - attempts == 1  # no apology tried where nothing gets in
    ours = [r for r in caplog.records if r.name.startswith("bots.discord")]
    assert [r.levelno for r in ours] == [logging.INFO]


async def test_send_maps_refusals_to_delivery_refused(tmp_path: Path, content: Content) -> None:
    reply = Reply(text=content.texts.render(keys.POINTER_NEW), key=keys.POINTER_NEW)
    async with stubbed(tmp_path, dc.Scripted()) as bot:
        adapter, alex = bot.adapter, bot.members[0]
        channel = ChatRef(Platform.DISCORD, str(bot.channel.id), ChatKind.GROUP)
        private = await adapter.open_private(UserRef(Platform.DISCORD, str(alex.id)))
        assert private == ChatRef(Platform.DISCORD, str(alex.id), ChatKind.PRIVATE)

        await adapter.send(channel, reply)
        await adapter.send(private, reply)
        dm = await bot.dm(alex)
        assert [(s.channel_id, s.text) for s in bot.said] == [
            (bot.channel.id, reply.text),
            (dm.id, reply.text),
        ]

        bot.recorder.refused.channels.add(bot.channel.id)
        with pytest.raises(DeliveryRefused):
            await adapter.send(channel, reply)
        bot.recorder.refused.dm_users.add(alex.id)
        with pytest.raises(DeliveryRefused) as refused:
            await adapter.send(private, reply)
        assert isinstance(refused.value.__cause__, discord.Forbidden)
        assert refused.value.__cause__.code == 50007
        gone = ChatRef(Platform.DISCORD, str(dc.snowflake()), ChatKind.GROUP)
        with pytest.raises(DeliveryRefused):  # a channel Discord does not know
            await adapter.send(gone, reply)
        assert len(bot.said) == 2


def in_channel(bot: dc.DiscordBot) -> ChatRef:
    return ChatRef(Platform.DISCORD, str(bot.channel.id), ChatKind.GROUP)


async def test_send_carries_the_nonce_on_every_message(tmp_path: Path) -> None:
    async with stubbed(tmp_path, dc.Scripted()) as bot:
        adapter, alex = bot.adapter, bot.members[0]
        await adapter.send(in_channel(bot), ok(), nonce="delivery-1")
        [said] = bot.said
        assert (said.nonce, said.enforce_nonce) == ("delivery-1", True)

        private = await adapter.open_private(UserRef(Platform.DISCORD, str(alex.id)))
        await adapter.send(private, ok(), nonce="delivery-2")
        assert (bot.said[-1].private, bot.said[-1].nonce) == (True, "delivery-2")

        before = len(bot.said)
        await adapter.send(in_channel(bot), ok(long_text()), nonce="delivery-3")
        parts = bot.said[before:]
        nonces = [s.nonce for s in parts]
        assert len(parts) > 2
        assert nonces[0] == "delivery-3"
        assert len(set(nonces)) == len(nonces)
        assert all(n is not None and len(n) <= voices.NONCE_LIMIT for n in nonces)
        assert all(s.enforce_nonce for s in parts)
        assert voices.part_nonces("delivery-3", len(parts)) == nonces  # the same every time

        await adapter.send(in_channel(bot), ok(), nonce="x" * 40)  # too long for Discord
        assert bot.said[-1].nonce == voices.part_nonces("x" * 40, 1)[0]
        assert len(bot.said[-1].nonce or "") <= voices.NONCE_LIMIT


async def test_a_retried_delivery_shows_nothing_twice(tmp_path: Path) -> None:
    server_error = discord.DiscordServerError(
        backend.FakeRequest(503, "Service Unavailable"),  # type: ignore[arg-type]
        {"code": 0, "message": "upstream connect error"},
    )
    async with stubbed(tmp_path, dc.Scripted()) as bot:
        bot.recorder.failures = [None, server_error]  # the second message fails
        with pytest.raises(DeliveryUnknown) as unknown:
            await bot.adapter.send(in_channel(bot), ok(long_text()), nonce="delivery-4")
        assert isinstance(unknown.value.__cause__, discord.DiscordServerError)
        assert len(bot.said) == 1

        await bot.adapter.send(in_channel(bot), ok(long_text()), nonce="delivery-4")
        assert bot.recorder.repeats == 1  # Discord handed back the first message
        texts = [s.text for s in bot.said]
        assert len(texts) == len(set(texts))
        assert "".join(texts).count("Part 11") == 1


@pytest.mark.parametrize(
    "failure",
    [
        discord.DiscordServerError(
            backend.FakeRequest(500, "Internal Server Error"),  # type: ignore[arg-type]
            {"code": 0, "message": "500: Internal Server Error"},
        ),
        aiohttp.ServerDisconnectedError(),
        aiohttp.ClientOSError(104, "Connection reset by peer"),
        TimeoutError(),
    ],
    ids=["5xx", "disconnected", "reset", "timeout"],
)
async def test_send_says_unknown_when_a_message_may_have_gone_out(
    tmp_path: Path, failure: BaseException
) -> None:
    async with stubbed(tmp_path, dc.Scripted()) as bot:
        bot.recorder.failures = [failure]
        with pytest.raises(DeliveryUnknown) as unknown:
            await bot.adapter.send(in_channel(bot), ok(), nonce="delivery-5")
        assert unknown.value.__cause__ is failure
        assert bot.recorder.attempts == 1


@pytest.mark.parametrize(
    "failure",
    [
        discord.DiscordServerError(
            backend.FakeRequest(503, "Service Unavailable"),  # type: ignore[arg-type]
            {"code": 0, "message": "503: Service Unavailable"},
        ),
        aiohttp.ServerDisconnectedError(),
        TimeoutError(),
    ],
    ids=["5xx", "disconnected", "timeout"],
)
async def test_a_dm_that_cannot_be_opened_for_an_outage_is_platform_unavailable(
    tmp_path: Path, failure: BaseException
) -> None:
    # Nothing was sent before the DM channel exists, so trying later is safe.
    async with stubbed(tmp_path, dc.Scripted()) as bot:

        async def down(user_id: int) -> discord.User:
            raise failure

        bot.adapter.bot.fetch_user = down  # type: ignore[method-assign]
        stranger = ChatRef(Platform.DISCORD, str(dc.snowflake()), ChatKind.PRIVATE)
        with pytest.raises(PlatformUnavailable) as unavailable:
            await bot.adapter.send(stranger, ok(), nonce="delivery-7")
        assert unavailable.value.__cause__ is failure
        assert bot.recorder.attempts == 0


async def test_send_turns_a_long_rate_limit_into_rate_limited(tmp_path: Path) -> None:
    async with stubbed(tmp_path, dc.Scripted()) as bot:
        bot.recorder.failures = [discord.RateLimited(45.5)]
        with pytest.raises(RateLimited) as limited:
            await bot.adapter.send(in_channel(bot), ok(), nonce="delivery-6")
        assert limited.value.retry_after == 45.5
        assert bot.said == []


async def test_answers_go_before_scheduled_sends_waiting_at_the_gate(tmp_path: Path) -> None:
    gate = SendGate(PlatformLimits(overall_per_s=10, bulk_per_s=None))
    async with stubbed(tmp_path, dc.Scripted(lambda event: [ok()]), gate=gate) as bot:
        assert bot.adapter.gate is gate
        async with gate.reply():
            pass  # the only token is gone: the next one comes in 0.1 s
        said_before_nudge: list[int] = []

        async def nudge() -> None:
            await gate.bulk(Priority.NUDGE, "someone", group=False)
            said_before_nudge.append(len(bot.said))

        waiting = asyncio.create_task(nudge())
        await asyncio.sleep(0)  # the nudge is queued first
        assert not waiting.done()
        said = await bot.message("hello", bot.members[0])
        await waiting
    assert [s.text for s in said] == ["carry on"]
    assert said_before_nudge == [1]  # the answer went out before the nudge got its turn


async def test_scheduled_sends_do_not_wait_at_the_reply_gate(tmp_path: Path) -> None:
    gate = SendGate(PlatformLimits(overall_per_s=0.1, bulk_per_s=None))
    async with stubbed(tmp_path, dc.Scripted(), gate=gate) as bot:
        async with gate.reply():
            pass  # no token for ten seconds
        await asyncio.wait_for(bot.adapter.send(in_channel(bot), ok(), nonce="n"), 1)
        assert [s.text for s in bot.said] == ["carry on"]


async def test_a_dm_to_someone_else_is_not_announced_as_a_dm_to_the_actor(
    tmp_path: Path, content: Content
) -> None:
    # BUG: ``_deliver`` counts any delivered private reply as "sent to you", so when the
    # only reply is for another person (a partner), the person who acted is told
    # "I've sent you a direct message" although nothing was sent to them.
    partner: list[UserRef] = []

    def to_partner(event: IncomingEvent) -> list[Reply]:
        return [Reply(text="for your partner", key="test.private", private_to=partner[0])]

    async with stubbed(tmp_path, dc.Scripted(to_partner)) as bot:
        alex, robin = bot.members
        partner.append(UserRef(Platform.DISCORD, str(robin.id)))
        calls = await bot.command("help", alex, bot.channel)
        robin_dm = await bot.dm(robin)
    assert [(s.channel_id, s.text) for s in bot.said if s.private] == [
        (robin_dm.id, "for your partner")
    ]
    sent_privately = content.texts.render(keys.SENT_PRIVATELY)
    assert sent_privately not in [text for *_, text in answers(calls)]


async def test_a_toast_for_a_server_message_is_never_posted_in_the_channel(
    tmp_path: Path, content: Content
) -> None:
    notice = content.texts.render(keys.STALE_BUTTON)
    service = dc.Scripted(lambda event: [Reply(text=notice, key=keys.STALE_BUTTON, toast=True)])
    async with stubbed(tmp_path, service) as bot:
        alex = bot.members[0]
        assert await bot.message(f"<@{bot.bot.user.id}> hi", alex, bot.channel) == []
        [in_dm] = await bot.message("hi", alex)  # in a DM the person alone sees it anyway
    assert (in_dm.private, in_dm.text) == (True, notice)
    assert len(service.events) == 2


async def test_a_mention_in_a_thread_is_answered_in_the_thread(tmp_path: Path) -> None:
    service = dc.Scripted(lambda event: [ok()])
    async with stubbed(tmp_path, service) as bot:
        data = dc.thread_payload(bot.channel)
        bot.bot._connection.parse_thread_create(data)
        thread = bot.channel.guild.get_thread(int(data["id"]))
        assert thread is not None
        said = await bot.message(f"<@{bot.bot.user.id}> hi", bot.members[0], thread)
        chat = service.events[0].chat
        await bot.adapter.send(chat, ok("later"))  # the scheduler's way back in
    assert chat == ChatRef(Platform.DISCORD, str(bot.channel.id), ChatKind.GROUP, data["id"])
    assert [(s.channel_id, s.text) for s in said] == [(thread.id, "carry on")]
    assert [(s.channel_id, s.text) for s in bot.said] == [
        (thread.id, "carry on"),
        (thread.id, "later"),
    ]


# --- 5. slash commands through the real tree -------------------------------------------------


@pytest.mark.parametrize("place", ["dm", "channel", "thread"])
async def test_slash_help_works_in_a_dm_a_channel_and_a_thread(
    bot: dc.DiscordBot, content: Content, place: str
) -> None:
    alex = bot.members[0]
    where: dc.Where = {
        "dm": await bot.dm(alex),
        "channel": bot.channel,
        "thread": dc.thread_payload(bot.channel),
    }[place]
    calls = await bot.command("help", alex, where)
    [(kind, response_type, ephemeral, text)] = answers(calls)
    assert (kind, response_type, ephemeral) == ("callback", dc.MESSAGE, False)
    assert text.splitlines()[0] == content.texts.render(keys.HELP_HEADER)
    assert ("/settings" in text) is (place == "dm")


async def test_a_thread_is_its_parent_channel_plus_the_thread(tmp_path: Path) -> None:
    service = dc.Scripted(lambda event: [ok()])
    async with stubbed(tmp_path, service) as bot:
        thread = dc.thread_payload(bot.channel)
        calls = await bot.command("start", bot.members[1], thread)
        press = dc.press_payload(
            mapping.custom_id("x:y"),
            bot.members[1],
            thread,
            dc.message_payload(int(thread["id"]), dc.button_row("Go", "x:y")),
        )
        calls += await bot.interact(press)
    assert [e.chat for e in service.events] == [
        ChatRef(Platform.DISCORD, str(bot.channel.id), ChatKind.GROUP, thread_id=thread["id"])
    ] * 2
    assert [(e.kind, e.command, e.payload) for e in service.events] == [
        (EventKind.COMMAND, "start", None),
        (EventKind.BUTTON, None, "x:y"),
    ]
    assert "carry on" in [text for *_, text in answers(calls)]


async def test_settings_in_a_server_gets_the_private_only_pointer(
    bot: dc.DiscordBot, content: Content
) -> None:
    calls = await bot.command("settings", bot.members[0], bot.channel)
    assert answers(calls) == [
        ("callback", dc.MESSAGE, False, content.texts.render(keys.PRIVATE_ONLY))
    ]
    assert not any(s.private for s in bot.said)


def listed_commands() -> list[dict[str, str]]:
    listed = yaml.safe_load((CONTENT_DIR / "commands.yaml").read_text(encoding="utf-8"))
    return [c for group in listed["groups"] for c in group["commands"]]


async def test_registered_commands_match_content(bot: dc.DiscordBot, content: Content) -> None:
    registered = bot.bot.tree.get_commands()
    listed = listed_commands()
    assert [c.name for c in registered] == [c["name"] for c in listed]
    for command, spec in zip(registered, listed, strict=True):
        assert isinstance(command, discord.app_commands.Command)
        assert command.description == content.texts.by_key[spec["description"]]
        contexts = command.allowed_contexts
        assert contexts is not None
        assert contexts.guild is (spec["where"] != "private"), command.name
        assert contexts.dm_channel is (spec["where"] != "group"), command.name
        assert contexts.private_channel is False
        installs = command.allowed_installs
        assert installs is not None
        assert (installs.guild, installs.user) == (True, False)
        wire = command.to_dict(bot.bot.tree)
        option = mapping.SLASH_OPTIONS.get(command.name)
        if option is None:
            assert command.parameters == []
        else:
            [parameter] = command.parameters
            described = content.texts.by_key[f"command_options.{command.name}"]
            assert (parameter.display_name, parameter.required) == (option, False)
            assert parameter.description == described
            assert [(o["name"], o["type"], o["required"]) for o in wire["options"]] == [
                (option, 3, False)  # an optional string
            ]
        assert sorted(wire["contexts"]) == sorted(
            {"private": [1], "group": [0], "everywhere": [0, 1]}[spec["where"]]
        )
    settings = bot.bot.tree.get_command("settings")
    assert settings is not None
    assert settings.allowed_contexts is not None
    assert settings.allowed_contexts.guild is False  # /settings is offered only in DMs


class CommandsApi:
    """Stands in for the two bulk-upsert calls ``CommandTree.sync`` makes."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[tuple[str, int, int | None, list[dict[str, Any]]]] = []
        self._error = error

    async def bulk_upsert_global_commands(
        self, application_id: int, payload: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        return self._record("global", application_id, None, payload)

    async def bulk_upsert_guild_commands(
        self, application_id: int, guild_id: int, payload: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        return self._record("guild", application_id, guild_id, payload)

    def _record(
        self, scope: str, app: int, guild: int | None, payload: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        self.calls.append((scope, app, guild, payload))
        if self._error is not None:
            raise self._error
        return [
            {**c, "id": str(dc.snowflake()), "application_id": str(app), "version": "1"}
            for c in payload
        ]


@pytest.mark.parametrize("dev_guild", [None, 777000000000000001])
async def test_sync_commands_publishes_globally_or_to_the_dev_server(
    tmp_path: Path, dev_guild: int | None
) -> None:
    api = CommandsApi()
    async with stubbed(tmp_path, dc.Scripted(), dev_guild_id=dev_guild) as bot:
        bot.bot.tree._http = api  # type: ignore[assignment]
        synced = await bot.adapter.sync_commands()
    names = [c["name"] for c in listed_commands()]
    [(scope, app, guild, payload)] = api.calls
    assert app == dc.APP_ID
    assert [c["name"] for c in payload] == names
    assert [c.name for c in synced] == names
    if dev_guild is None:
        assert (scope, guild) == ("global", None)
    else:
        assert (scope, guild) == ("guild", dev_guild)


async def test_a_failed_sync_is_logged_and_the_bot_still_starts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    refusal = discord.Forbidden(
        backend.FakeRequest(403, "Forbidden"),  # type: ignore[arg-type]
        {"code": 50001, "message": "Missing Access"},
    )
    api = CommandsApi(error=refusal)
    async with stubbed(tmp_path, dc.Scripted(lambda event: [ok()])) as bot:
        bot.bot.tree._http = api  # type: ignore[assignment]
        with caplog.at_level(logging.ERROR, logger="bots.discord.adapter"):
            await bot.adapter.setup()
        assert len(api.calls) == 1
        [record] = [r for r in caplog.records if r.name == "bots.discord.adapter"]
        assert record.levelno == logging.ERROR
        assert "Forbidden" in record.getMessage()
        assert dc.TOKEN not in record.getMessage()
        calls = await bot.command("help", bot.members[0], bot.channel)  # commands installed
        assert answers(calls) == [("callback", dc.MESSAGE, False, "carry on")]


# --- 6. ephemeral notes and button retirement ----------------------------------------------

NOT_YOURS = "f:onboarding:intro:adult"


class ShowsButtons:
    """The real core, except that ``show`` puts real onboarding buttons in the channel."""

    def __init__(self, real: Any, content: Content) -> None:
        self._real = real
        self._content = content

    async def handle(self, event: IncomingEvent) -> list[Reply]:
        if event.text == "show":
            texts = self._content.texts
            label = texts.render("onboarding.button.adult")
            return [
                Reply(
                    text=texts.render("onboarding.intro", {"name": "Alex"}),
                    key="onboarding.intro",
                    buttons=(Button(label, NOT_YOURS),),
                )
            ]
        return list(await self._real.handle(event))


async def test_stale_and_wrong_person_presses_in_a_server_are_ephemeral_and_keep_the_buttons(
    tmp_path: Path, clock: FakeClock, content: Content
) -> None:
    texts = content.texts
    async with dc.discord_bot(tmp_path / "mend.db", clock=clock) as real:
        service = ShowsButtons(real.core.service, content)
        real.adapter._service = service  # type: ignore[assignment]
        alex, robin = real.members
        await real.message("/start", alex)  # Alex has a conversation in the DM only
        [carrier] = await real.message(f"<@{real.bot.user.id}> show", alex, real.channel)
        label = texts.render("onboarding.button.adult")
        for who in (robin, alex):  # someone else's buttons; then Alex's, stale in this channel
            _, calls = await real.press(label, who, real.channel, on=carrier)
            assert answers(calls) == [
                ("callback", dc.MESSAGE, True, texts.render(keys.STALE_BUTTON))
            ]
            assert not carrier.retired
            assert carrier.labels == [label]
        # Alex's DM conversation is untouched: the DM button still works.
        dm = await real.dm(alex)
        _, calls = await real.press(label, alex, dm)
        assert answers(calls)[1:] == [("followup", None, False, texts.render("onboarding.consent"))]


async def test_a_stale_press_in_a_dm_retires_the_buttons_and_notes_it_ephemerally(
    bot: dc.DiscordBot, content: Content
) -> None:
    texts = content.texts
    alex = bot.members[0]
    dm = await bot.dm(alex)
    [first] = await bot.message("/start", alex)
    resume, second = await bot.message("/start", alex)  # the intro again, with its buttons
    assert resume.text == texts.render(keys.START_RESUME)
    assert second.buttons == first.buttons
    adult = texts.render("onboarding.button.adult")
    _, calls = await bot.press(adult, alex, dm, on=second)
    assert answers(calls)[1:] == [("followup", None, False, texts.render("onboarding.consent"))]

    _, calls = await bot.press(adult, alex, dm, on=first)  # an earlier message's button
    assert_retired_first(calls)
    assert first.retired
    assert answers(calls)[1] == ("followup", None, True, texts.render(keys.STALE_BUTTON))
    # The step the person is on is shown again, publicly in their DM.
    assert answers(calls)[2:] == [("followup", None, False, texts.render("onboarding.consent"))]


@pytest.mark.parametrize(
    ("toast", "in_server", "retired"),
    [
        (True, True, False),  # "not for you": the buttons stay for the right person
        (False, True, True),
        (True, False, True),
        (False, False, True),
    ],
)
async def test_when_a_press_retires_its_buttons(
    tmp_path: Path, content: Content, toast: bool, in_server: bool, retired: bool
) -> None:
    notice = content.texts.render(keys.STALE_BUTTON)

    def answer(event: IncomingEvent) -> list[Reply]:
        if event.kind is EventKind.BUTTON:
            return [Reply(text=notice, key=keys.STALE_BUTTON, toast=toast)]
        return [Reply(text="choose", key="test.choose", buttons=(Button("Go", "x:go"),))]

    async with stubbed(tmp_path, dc.Scripted(answer)) as bot:
        alex = bot.members[0]
        where: dc.Where = bot.channel if in_server else await bot.dm(alex)
        await bot.command("start", alex, where)
        carrier, calls = await bot.press("Go", alex, where)
    assert carrier.retired is retired
    if retired:
        assert_retired_first(calls)
        calls = calls[1:]
        kind, response_type = "followup", None
    else:
        kind, response_type = "callback", dc.MESSAGE
    assert answers(calls) == [(kind, response_type, toast, notice)]


async def test_a_valid_press_retires_its_buttons_in_the_same_response(
    tmp_path: Path,
) -> None:
    def answer(event: IncomingEvent) -> list[Reply]:
        if event.kind is EventKind.BUTTON:
            return [ok("next"), ok("and more")]
        return [Reply(text="choose", key="test.choose", buttons=(Button("Go", "x:go"),))]

    async with stubbed(tmp_path, dc.Scripted(answer)) as bot:
        alex = bot.members[0]
        await bot.message(f"<@{bot.bot.user.id}> hi", alex, bot.channel)
        carrier, calls = await bot.press("Go", alex, bot.channel)
    assert answers(calls) == [
        ("callback", dc.UPDATE_MESSAGE, False, ""),
        ("followup", None, False, "next"),
        ("followup", None, False, "and more"),
    ]
    assert calls[0].data["components"] == []
    assert carrier.retired


async def test_buttons_keep_no_per_message_state_in_memory(
    bot: dc.DiscordBot, content: Content
) -> None:
    for member in bot.members:
        await bot.message("/start", member)
        await bot.command("start", member, await bot.dm(member))
    store = bot.bot._connection._view_store
    assert sum(len(s.buttons) for s in bot.said) >= 8
    assert store._views == {}  # routed by pattern alone, whatever the message
    assert store._synced_message_views == {}
    assert list(store._dynamic_items.values()) == [views.PayloadButton]
    assert bot.bot.persistent_views == []


# --- 7. defer and follow up ------------------------------------------------------------------


class Slow:
    """A service that answers only when the test releases it."""

    def __init__(self, answer: Callable[[IncomingEvent], list[Reply]]) -> None:
        self.release = asyncio.Event()
        self._answer = answer
        self.waiting = 0

    async def handle(self, event: IncomingEvent) -> list[Reply]:
        if event.kind is EventKind.TEXT:  # messages are never deferred; only interactions
            return self._answer(event)
        self.waiting += 1
        await self.release.wait()
        return self._answer(event)


def calls_of(bot: dc.DiscordBot, payload: dict[str, Any]) -> Callable[[], list[dc.WebhookCall]]:
    return lambda: bot.recorder.by_token(str(payload["token"]))


async def test_a_slow_command_is_deferred_and_answered_by_follow_up(tmp_path: Path) -> None:
    service = Slow(lambda event: [ok("first"), ok("second")])
    async with stubbed(tmp_path, service, ack_budget=0.01) as bot:
        payload = dc.command_payload("help", bot.members[0], bot.channel)
        before = bot.start(payload)
        calls = calls_of(bot, payload)
        await dc.wait_until(lambda: bool(calls()))
        assert answers(calls()) == [("callback", dc.DEFERRED_MESSAGE, False, "")]
        service.release.set()
        await dc.settle(before)
    assert answers(calls()) == [
        ("callback", dc.DEFERRED_MESSAGE, False, ""),
        ("followup", None, False, "first"),
        ("followup", None, False, "second"),
    ]


async def test_a_slow_press_is_deferred_retired_by_editing_the_original_and_followed_up(
    tmp_path: Path,
) -> None:
    def answer(event: IncomingEvent) -> list[Reply]:
        if event.kind is EventKind.BUTTON:
            return [ok("done")]
        return [Reply(text="choose", key="test.choose", buttons=(Button("Go", "x:go"),))]

    service = Slow(answer)
    async with stubbed(tmp_path, service, ack_budget=0.01) as bot:
        alex = bot.members[0]
        [carrier] = await bot.message(f"<@{bot.bot.user.id}> hi", alex, bot.channel)
        custom = dict(carrier.buttons)["Go"]
        message = dc.message_payload(
            bot.channel.id, carrier.components, message_id=carrier.message_id
        )
        payload = dc.press_payload(custom, alex, bot.channel, message)
        before = bot.start(payload)
        calls = calls_of(bot, payload)
        await dc.wait_until(lambda: bool(calls()))
        assert answers(calls()) == [("callback", dc.DEFERRED_UPDATE, False, "")]
        assert not carrier.retired
        service.release.set()
        await dc.settle(before)
    assert answers(calls()) == [
        ("callback", dc.DEFERRED_UPDATE, False, ""),
        ("edit_original", None, False, ""),
        ("followup", None, False, "done"),
    ]
    assert calls()[1].data["components"] == []
    assert carrier.retired


@pytest.mark.parametrize("slow", [True, False])
async def test_when_everything_went_to_a_dm_the_interaction_says_so_ephemerally(
    tmp_path: Path, content: Content, slow: bool
) -> None:
    service = Slow(whisper)
    if not slow:
        service.release.set()
    sent_privately = content.texts.render(keys.SENT_PRIVATELY)
    async with stubbed(tmp_path, service, ack_budget=0.01 if slow else 5.0) as bot:
        robin = bot.members[1]
        payload = dc.command_payload("help", robin, bot.channel)
        before = bot.start(payload)
        if slow:
            await dc.wait_until(lambda: bool(calls_of(bot, payload)()))
            service.release.set()
        await dc.settle(before)
        dm = await bot.dm(robin)
    calls = calls_of(bot, payload)()
    if slow:
        # The public "thinking…" message is removed; the note goes to Robin alone.
        assert answers(calls) == [
            ("callback", dc.DEFERRED_MESSAGE, False, ""),
            ("delete_original", None, False, ""),
            ("followup", None, True, sent_privately),
        ]
    else:
        assert answers(calls) == [("callback", dc.MESSAGE, True, sent_privately)]
    assert [(s.channel_id, s.text) for s in bot.said if s.via == "channel"] == [
        (dm.id, t) for t in PRIVATE_WORDS
    ]


@pytest.mark.parametrize("slow", [True, False])
async def test_a_command_with_nothing_to_say_leaves_nothing_behind(
    tmp_path: Path, slow: bool
) -> None:
    service = Slow(lambda event: [])
    if not slow:
        service.release.set()
    async with stubbed(tmp_path, service, ack_budget=0.01 if slow else 5.0) as bot:
        payload = dc.command_payload("cancel", bot.members[0], bot.channel)
        before = bot.start(payload)
        if slow:
            await dc.wait_until(lambda: bool(calls_of(bot, payload)()))
            service.release.set()
        await dc.settle(before)
    calls = calls_of(bot, payload)()
    assert [(c.kind, c.response_type) for c in calls] == [
        ("callback", dc.DEFERRED_MESSAGE),
        ("delete_original", None),
    ]
    assert calls[0].ephemeral is not slow  # a quick empty answer never showed publicly
    assert bot.said == []


# --- 8. a press after a restart --------------------------------------------------------------


async def test_a_press_on_a_message_from_before_a_restart_is_handled(
    tmp_path: Path, content: Content
) -> None:
    texts = content.texts
    database = tmp_path / "mend.db"
    async with dc.discord_bot(database) as before_restart:
        alex = before_restart.members[0]
        dm = await before_restart.dm(alex)
        [intro] = await before_restart.message("/start", alex)
    assert intro.labels  # bot A is closed, its database too

    async with dc.discord_bot(database) as after_restart:
        assert after_restart.adapter is not before_restart.adapter
        assert after_restart.bot is not before_restart.bot
        adult = texts.render("onboarding.button.adult")
        _, calls = await after_restart.press(adult, alex, dm, on=intro)
        assert_retired_first(calls)
        assert answers(calls)[1:] == [("followup", None, False, texts.render("onboarding.consent"))]
        # The step was stored: /start resumes at consent on the new bot.
        calls = await after_restart.command("start", alex, dm)
        assert [text for *_, text in answers(calls)] == [
            texts.render(keys.START_RESUME),
            texts.render("onboarding.consent"),
        ]


# --- 9. a failing handler ----------------------------------------------------------------------

SECRET = "secret text"


FAILING_COMMAND = "cancel"


def fragile(event: IncomingEvent) -> list[Reply]:
    if "boom" in (event.text, event.payload) or event.command == FAILING_COMMAND:
        words = SECRET
        raise RuntimeError(words)  # the message could quote the person
    return [ok()]


async def test_a_failing_handler_apologises_and_logs_nothing_personal(
    tmp_path: Path, content: Content, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    apology = content.texts.render(keys.ERROR)
    async with stubbed(tmp_path, dc.Scripted(fragile)) as bot:
        alex, robin = bot.members
        mention = f"<@{bot.bot.user.id}>"
        assert [(s.via, s.private, s.text) for s in await bot.message("boom", alex)] == [
            ("channel", True, apology)
        ]
        said = await bot.message(f"{mention} boom", robin, bot.channel)
        assert [(s.channel_id, s.text) for s in said] == [(bot.channel.id, apology)]

        calls = await bot.command(FAILING_COMMAND, alex, bot.channel)
        assert answers(calls) == [("callback", dc.MESSAGE, True, apology)]

        message = dc.message_payload(bot.channel.id, dc.button_row("Go", "boom"))
        press = dc.press_payload(mapping.custom_id("boom"), robin, bot.channel, message)
        assert answers(await bot.interact(press)) == [("callback", dc.MESSAGE, True, apology)]

        # Still working afterwards, everywhere.
        assert [s.text for s in await bot.message("hello again", alex)] == ["carry on"]
        calls = await bot.command("help", robin, bot.channel)
        assert answers(calls) == [("callback", dc.MESSAGE, False, "carry on")]

    failures = [r for r in caplog.records if "RuntimeError" in r.getMessage()]
    assert len(failures) == 4
    assert all(r.levelno == logging.ERROR for r in failures)
    logged = "".join(
        r.getMessage() + str(r.exc_info) + str(r.exc_text) + str(r.args) for r in caplog.records
    )
    assert SECRET not in logged
    assert SECRET not in caplog.text


async def test_a_slow_failure_replaces_the_thinking_message_with_an_ephemeral_apology(
    tmp_path: Path, content: Content
) -> None:
    service = Slow(fragile)
    async with stubbed(tmp_path, service, ack_budget=0.01) as bot:
        payload = dc.command_payload(FAILING_COMMAND, bot.members[0], bot.channel)
        before = bot.start(payload)
        await dc.wait_until(lambda: bool(calls_of(bot, payload)()))
        service.release.set()
        await dc.settle(before)
    assert answers(calls_of(bot, payload)()) == [
        ("callback", dc.DEFERRED_MESSAGE, False, ""),
        ("delete_original", None, False, ""),
        ("followup", None, True, content.texts.render(keys.ERROR)),
    ]


# --- 10. rendering -----------------------------------------------------------------------------


def long_text() -> str:
    paragraphs = [f"Part {i}: *you* & _me_ ~always~ " + "steady " * 60 for i in range(12)]
    return "\n\n".join(p.strip() for p in paragraphs)


@pytest.mark.parametrize("via", ["message", "command"])
async def test_a_long_reply_is_split_on_paragraphs_with_the_buttons_last(
    tmp_path: Path, via: str
) -> None:
    text = long_text()
    assert len(text) > 2 * mapping.MESSAGE_LIMIT
    choice = Button("Go on", "x:go")
    service = dc.Scripted(lambda event: [Reply(text=text, key="test.long", buttons=(choice,))])
    async with stubbed(tmp_path, service) as bot:
        alex = bot.members[0]
        if via == "message":
            pieces = await bot.message("hello", alex)
        else:
            await bot.command("help", alex, await bot.dm(alex))
            pieces = bot.said
    assert len(pieces) >= 3
    assert all(len(p.content) <= mapping.MESSAGE_LIMIT for p in pieces)
    assert all(p.text.startswith("Part ") for p in pieces)  # each begins a paragraph
    assert "\n\n".join(p.text for p in pieces) == text  # nothing lost, nothing cut
    assert all("*you*" not in p.content and r"\*you\*" in p.content for p in pieces)
    assert [p.buttons for p in pieces] == [[]] * (len(pieces) - 1) + [
        [("Go on", mapping.custom_id("x:go"))]
    ]


async def test_a_paragraph_that_escaping_makes_too_long_is_split_further(tmp_path: Path) -> None:
    text = "_" * 1500 + "\n\n" + "* " * 900
    service = dc.Scripted(lambda event: [Reply(text=text, key="test.long")])
    async with stubbed(tmp_path, service) as bot:
        pieces = await bot.message("hello", bot.members[0])
    assert len(pieces) >= 3
    assert all(len(p.content) <= mapping.MESSAGE_LIMIT for p in pieces)
    assert "".join(p.text for p in pieces).replace("\n", "").replace(" ", "") == (
        text.replace("\n", "").replace(" ", "")
    )


async def test_markdown_typed_by_a_person_is_escaped(bot: dc.DiscordBot, content: Content) -> None:
    name = "**Sam** _x_ `y` ~~z~~ ||w||"
    sam = backend.make_member(backend.make_user(name, "0003"), bot.channel.guild)
    [intro] = await bot.message("/start", sam)
    assert intro.text == said_text(content, "onboarding.intro", name=name)
    for raw in ("**Sam**", "_x_", "`y`", "~~z~~", "||w||"):
        assert raw not in intro.content
    assert r"\*\*Sam\*\*" in intro.content
    assert r"\_x\_" in intro.content


@pytest.mark.parametrize("via", ["message", "command"])
async def test_an_image_reply_is_sent_as_an_attachment(tmp_path: Path, via: str) -> None:
    picture = tmp_path / "breathe.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 16)
    reply = Reply(text="look", key="test.image", image=str(picture))
    async with stubbed(tmp_path, dc.Scripted(lambda event: [reply])) as bot:
        alex = bot.members[0]
        if via == "message":
            said = await bot.message("hello", alex)
        else:
            calls = await bot.command("help", alex, bot.channel)
            assert calls[0].files == ["breathe.png"]
            said = bot.said
    assert [(s.text, s.files) for s in said] == [("look", ["breathe.png"])]


EXPORT = Attachment("mend-export.json", b'{"name": "R\xc3\xb6bin", "bytes": "\x00\xff"}')


def with_export(event: IncomingEvent) -> list[Reply]:
    return [Reply(text="here it is", key="test.export", private_to=event.user, attachment=EXPORT)]


@pytest.mark.parametrize("where", ["dm", "server"])
@pytest.mark.parametrize("via", ["message", "command", "slow command"])
async def test_a_file_goes_with_its_text_to_the_person_alone(
    tmp_path: Path, content: Content, via: str, where: str
) -> None:
    service = Slow(with_export)
    service.release.set()
    budget = 0.0 if via == "slow command" else 5.0
    async with stubbed(tmp_path, service, ack_budget=budget) as bot:
        robin = bot.members[1]
        dm = await bot.dm(robin)
        place: discord.abc.Messageable = dm if where == "dm" else bot.channel
        if via == "message":
            mention = "" if where == "dm" else f"<@{bot.bot.user.id}> "
            await bot.message(f"{mention}/export", robin, place)  # type: ignore[arg-type]
            calls: list[dc.WebhookCall] = []
        else:
            calls = await bot.command("help", robin, place)  # type: ignore[arg-type]
    [said] = [s for s in bot.said if s.text == "here it is"]
    assert (said.channel_id, said.private) == (dm.id, True)
    assert said.uploads == [("mend-export.json", EXPORT.data)]
    assert [s.files for s in bot.said if s is not said] == [[]] * (len(bot.said) - 1)
    if via != "message" and where == "dm":  # the interaction's own answer carries the file
        assert said.via == ("followup" if via == "slow command" else "response")
    if via != "message" and where == "server":  # the file went by DM; the channel saw none
        assert said.via == "channel"
        sent_privately = content.texts.render(keys.SENT_PRIVATELY)
        assert [(ephemeral, text) for _, _, ephemeral, text in answers(calls)][-1] == (
            True,
            sent_privately,
        )
        assert all(not c.files for c in calls)


@pytest.mark.parametrize("via", ["message", "command"])
async def test_a_file_for_a_server_channel_is_never_posted_there(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, via: str
) -> None:
    # The core sends files to one person privately; should one ever be addressed to a
    # channel, the adapter keeps the person's data out of it.
    reply = Reply(text="here it is", key="test.export", attachment=EXPORT)
    caplog.set_level(logging.WARNING, logger="bots.discord")
    async with stubbed(tmp_path, dc.Scripted(lambda event: [reply])) as bot:
        alex = bot.members[0]
        if via == "message":
            await bot.message(f"<@{bot.bot.user.id}> /export", alex, bot.channel)
        else:
            calls = await bot.command("help", alex, bot.channel)
            assert [c.files for c in calls] == [[]]
    assert [(s.channel_id, s.text, s.files) for s in bot.said] == [
        (bot.channel.id, "here it is", [])
    ]
    assert [r.levelno for r in caplog.records if r.name.startswith("bots.")] == [logging.WARNING]


async def test_a_webhook_message_never_reaches_the_core(tmp_path: Path) -> None:
    service = dc.Scripted(lambda event: [ok()])
    async with stubbed(tmp_path, service, message_content=True) as bot:
        alex, me = bot.members[0], bot.bot.user
        for hook in ({"webhook_id": str(dc.snowflake())}, {}):
            payload = facts.make_message_dict(
                bot.channel, alex, content=f"<@{me.id}> /start", mentions=[me]
            )
            payload.update(guild_id=str(bot.channel.guild.id), **hook)
            before = asyncio.all_tasks()
            bot.bot._connection.parse_message_create(payload)
            await dc.settle(before)
    # Only the same message without a webhook got through.
    assert [e.text for e in service.events] == ["/start"]
    assert len(bot.said) == 1


async def test_no_mention_can_ping(tmp_path: Path) -> None:
    text = "@everyone @here <@&123456789012345678> hello"
    service = dc.Scripted(lambda event: [ok(text)])
    async with stubbed(tmp_path, service) as bot:
        assert bot.bot.allowed_mentions is not None
        none = discord.AllowedMentions.none().to_dict()
        assert bot.bot.allowed_mentions.to_dict() == none
        alex = bot.members[0]
        await bot.message(f"<@{bot.bot.user.id}> hi", alex, bot.channel)
        await bot.command("help", alex, bot.channel)
    assert len(bot.said) == 2
    assert [s.allowed_mentions for s in bot.said] == [none, none]


# --- being added to a server -------------------------------------------------------------------


async def test_being_added_to_a_server_introduces_mend_once(
    bot: dc.DiscordBot, content: Content
) -> None:
    bot.bot.dispatch("guild_join", bot.channel.guild)
    await dpytest.run_all_events()
    assert [(s.channel_id, s.text) for s in bot.said] == [
        (bot.channel.id, content.texts.render(keys.START_GROUP))
    ]


# --- 11. the adapter holds no user-facing text --------------------------------------------------

BOOM = "boom"


class Twisted:
    """The real core, with the two things its content never does on cue: fail, whisper."""

    def __init__(self, real: Any) -> None:
        self._real = real
        self.failing = False
        self.whispering = False

    async def handle(self, event: IncomingEvent) -> list[Reply]:
        if self.failing:
            raise RuntimeError(BOOM)
        replies = list(await self._real.handle(event))
        if self.whispering:
            return [replace(r, private_to=event.user) for r in replies]
        return replies


async def onboard(bot: dc.DiscordBot, who: discord.Member, content: Content) -> None:
    texts = content.texts
    dm = await bot.dm(who)
    await bot.command("start", who, dm)
    await bot.press(texts.render("onboarding.button.adult"), who, dm)
    await bot.press(texts.render("onboarding.button.agree"), who, dm)
    await bot.message("Berlin", who)
    await bot.press(texts.render("button.yes_right"), who, dm)
    await bot.message("7:30", who)
    await bot.press(texts.render("onboarding.button.growing"), who, dm)


async def test_every_text_sent_comes_from_content(
    tmp_path: Path, clock: FakeClock, content: Content
) -> None:
    texts = content.texts
    async with dc.discord_bot(tmp_path / "mend.db", clock=clock) as bot:
        twisted = Twisted(bot.core.service)
        bot.adapter._service = twisted  # type: ignore[assignment]
        alex, robin = bot.members
        channel, mention = bot.channel, f"<@{bot.bot.user.id}>"
        await onboard(bot, alex, content)
        for line in ("/help", "/settings", "/cancel", "/dance", "what now?"):
            await bot.message(line, alex)
        for name in ("help", "settings", "cancel"):
            await bot.command(name, alex, await bot.dm(alex))
        bot.bot.dispatch("guild_join", channel.guild)
        await dpytest.run_all_events()
        await bot.command("help", alex, channel)
        await bot.command("start", robin, channel)
        await bot.command("settings", robin, dc.thread_payload(channel))
        await bot.message(f"{mention} hello?", robin, channel)
        robin_dm = await bot.dm(robin)
        await bot.message("/start", robin)
        [old] = [s for s in bot.said if s.channel_id == robin_dm.id and s.buttons]
        row, [(adult, custom), _] = list(old.components), old.buttons
        await bot.message("/start", robin)  # the intro again
        await bot.press(adult, robin, robin_dm)
        await bot.press(adult, robin, robin_dm, on=old)  # stale
        message = dc.message_payload(channel.id, row)
        await bot.interact(dc.press_payload(custom, alex, channel, message))  # not Alex's
        twisted.whispering = True
        await bot.command("cancel", robin, channel)  # all of it goes to Robin's DM
        bot.recorder.refused.dm_users.add(alex.id)
        await bot.message(f"{mention} hello?", alex, channel)  # DM refused
        bot.recorder.refused.dm_users.discard(alex.id)
        twisted.whispering = False
        twisted.failing = True  # errors, on a message and on interactions
        await bot.message("hello", alex)
        await bot.message(f"{mention} hello?", alex, channel)
        await bot.command("help", robin, channel)
        await bot.interact(dc.press_payload(custom, robin, channel, message))

    said = [s.text for s in bot.said]
    labels = [label for s in bot.said for label in s.labels]
    # The scenario reached every path it means to check.
    for key in (
        keys.STALE_BUTTON,
        keys.ERROR,
        keys.ALLOW_DMS,
        keys.SENT_PRIVATELY,
        keys.START_GROUP,
        keys.PRIVATE_ONLY,
        keys.POINTER,
    ):
        assert texts.render(key) in said, key
    assert any(s.ephemeral for s in bot.said)
    assert len(said) >= 25
    assert len(labels) >= 10
    assert all("\\" not in text for text in texts.by_key.values())  # so escapes can be undone

    # A line that is only a placeholder (a nudge's "$action", itself a content text) says
    # nothing by itself and would match any text at all.
    patterns = [p for p in content_lines(content) if p.pattern != ".+?"]
    assert not_from_content("Hello from the adapter", patterns) == ["Hello from the adapter"]
    stray = [line for text in said for line in not_from_content(text, patterns)]
    assert stray == []
    assert [label for label in labels if label not in texts.by_key.values()] == []


ALLOWED_LITERALS = {
    # Operator-facing: what the log says was being handled or where commands went.
    "a Discord message",
    "a Discord interaction",
    "joining a server",
    "server {}",
    "all servers and DMs",
}
OPERATOR_ONLY = {"run.py"}
"""Modules that log in, connect and report start-up failures to the operator; they never
talk to a chat, which ``test_operator_only_modules_never_talk_to_a_chat`` keeps true."""


def test_the_prose_detector_finds_prose_and_skips_the_rest() -> None:
    source = '''
"""Module docstring with words."""
async def f():
    """A docstring with words."""
    log.info("handled an interaction for %s", chat)
    raise ValueError(f"cannot set {name!r} to that value")
    await channel.send("Hello there, friend")
    return f"Sorry {name}, try again", "common.error", "mend:f:a:b"
'''
    assert sorted(prose_literals(source)) == ["Hello there, friend", "Sorry {}, try again"]


def test_the_adapter_source_holds_no_prose_for_people() -> None:
    folder = Path(bots.discord.__file__).parent
    sources = {path.name: path.read_text(encoding="utf-8") for path in folder.glob("*.py")}
    assert {"adapter.py", "mapping.py", "views.py", "voices.py", "bot.py"} <= set(sources)
    found = {
        name: [s for s in prose_literals(source) if s not in ALLOWED_LITERALS]
        for name, source in sources.items()
        if name not in OPERATOR_ONLY
    }
    assert {name: hits for name, hits in found.items() if hits} == {}
    # The allow-list stays honest: every entry is still in use.
    everything = "\n".join(text for source in sources.values() for text in literal_texts(source))
    assert [s for s in ALLOWED_LITERALS if s not in everything] == []


def test_operator_only_modules_never_talk_to_a_chat() -> None:
    folder = Path(bots.discord.__file__).parent
    for name in OPERATOR_ONLY:
        tree = ast.parse((folder / name).read_text(encoding="utf-8"))
        imported = {
            f"{node.module}.{alias.name}" if isinstance(node, ast.ImportFrom) else alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in node.names
        }
        called = {
            node.func.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        }
        names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        assert not {i for i in imported if "voices" in i or "views" in i or "types" in i}, name
        assert not called & {"send", "send_message", "reply", "post", "say"}, name
        assert "Reply" not in names, name


def literal_texts(source: str) -> list[str]:
    return [t for node in ast.walk(ast.parse(source)) if (t := literal_text(node)) is not None]


# --- 12. the bot: shards and intents ---------------------------------------------------------


async def dispose(bot: discord.Client) -> None:
    """Close a bot that never logged in (``login`` runs the async set-up first)."""
    await bot._async_setup_hook()
    await bot.close()


async def test_make_bot_without_shards_is_a_plain_bot() -> None:
    bot = make_bot(message_content=False)
    try:
        assert type(bot) is MendBot
        assert not isinstance(bot, discord.AutoShardedClient)
        assert bot.shard_count is None
        assert bot.intents.message_content is False
        assert bot.allowed_mentions is not None
        assert bot.allowed_mentions.to_dict() == discord.AllowedMentions.none().to_dict()
        assert bot.help_command is None
    finally:
        await dispose(bot)


@pytest.mark.parametrize(("shard_ids", "expected_ids"), [((), None), ((1, 2), [1, 2])])
async def test_make_bot_with_shards_is_sharded(
    shard_ids: tuple[int, ...], expected_ids: list[int] | None
) -> None:
    bot = make_bot(message_content=True, shard_count=3, shard_ids=shard_ids)
    try:
        assert type(bot) is ShardedMendBot
        assert isinstance(bot, discord.AutoShardedClient)
        assert bot.shard_count == 3
        assert bot.shard_ids == expected_ids
        assert bot.intents.message_content is True
    finally:
        await dispose(bot)


@pytest.mark.parametrize("message_content", [False, True])
def test_intents_ask_for_message_content_only_when_told(message_content: bool) -> None:
    wanted = intents(message_content=message_content)
    assert wanted.message_content is message_content
    assert wanted.members is False
    assert wanted.presences is False
    assert wanted.guilds and wanted.guild_messages and wanted.dm_messages


async def test_build_discord_follows_the_settings(tmp_path: Path, content: Content) -> None:
    settings = dc.discord_settings(
        tmp_path / "unused.db",
        discord_message_content=True,
        discord_shard_count=4,
        discord_shard_ids="0,2",
        discord_dev_guild_id=42,
    )
    core = Core(
        service=dc.Scripted(),  # type: ignore[arg-type]
        content=content,
        database=None,  # type: ignore[arg-type]
        nudges=NudgeDesk(content, "UTC"),
    )
    adapter = build_discord(core, settings)
    try:
        assert isinstance(adapter, DiscordAdapter)
        assert type(adapter.bot) is ShardedMendBot
        assert (adapter.bot.shard_count, adapter.bot.shard_ids) == (4, [0, 2])
        assert adapter.bot.intents.message_content is True
        assert adapter._read_plain_text is True
        assert adapter._dev_guild_id == 42
        assert adapter.bot.mend is adapter  # type: ignore[union-attr]
        assert adapter.platform is Platform.DISCORD
        assert adapter.gate is not None and adapter.gate.limits == DISCORD_LIMITS
        # A 429 asking for more than this is raised, not slept through in the scheduler.
        assert adapter.bot.http.max_ratelimit_timeout == MAX_RATELIMIT_WAIT == 30.0
    finally:
        await dispose(adapter.bot)

    plain = build_discord(core, dc.discord_settings(tmp_path / "unused.db"))
    try:
        assert type(plain.bot) is MendBot
        assert plain.bot.intents.message_content is False
        assert plain._read_plain_text is False
    finally:
        await dispose(plain.bot)


# --- pairing and the couple's group ---------------------------------------------------------


def command_with_option(
    name: str, option: str, value: str, member: discord.abc.User, where: dc.Where
) -> dict[str, Any]:
    """A slash command with one string option filled in, as Discord sends it."""
    payload = dc.command_payload(name, member, where)
    payload["data"]["options"] = [{"name": option, "type": 3, "value": value}]
    return payload


async def test_pair_with_the_code_option_pairs_two_people(
    bot: dc.DiscordBot, content: Content
) -> None:
    texts = content.texts
    alex, robin = bot.members
    await onboard(bot, alex, content)
    await onboard(bot, robin, content)
    alex_dm, robin_dm = await bot.dm(alex), await bot.dm(robin)

    calls = await bot.command("pair", alex, alex_dm)
    [(kind, _, ephemeral, text)] = answers(calls)
    assert (kind, ephemeral) == ("callback", False)
    found = re.search(r"/pair code:([A-Z0-9]{8})", text)
    assert found is not None and "https://" not in text
    code = found.group(1)

    calls = await bot.interact(command_with_option("pair", "code", f" {code} ", robin, robin_dm))
    assert answers(calls) == [("callback", dc.MESSAGE, False, texts.render("pairing.consent"))]
    consent = bot.carrier(texts.render("pairing.button.accept"), robin_dm.id)
    assert consent.labels == [
        texts.render("pairing.button.accept"),
        texts.render("pairing.button.decline"),
    ]

    before = len(bot.said)
    carrier, calls = await bot.press(texts.render("pairing.button.accept"), robin, robin_dm)
    assert_retired_first(calls)
    assert carrier.retired
    assert answers(calls[1:]) == [("followup", None, False, texts.render("pairing.paired"))]
    to_alex = [s for s in bot.said[before:] if s.channel_id == alex_dm.id]
    assert [(s.via, s.text) for s in to_alex] == [
        ("channel", texts.render("pairing.paired_inviter", {"partner": robin.name}))
    ]

    # The code is spent: a second use says so.
    calls = await bot.interact(command_with_option("pair", "code", code, robin, robin_dm))
    assert answers(calls) == [("callback", dc.MESSAGE, False, texts.render("pairing.code_used"))]


@pytest.mark.parametrize("message_content", [False, True])
async def test_server_events_say_whether_mend_sees_plain_text(
    tmp_path: Path, message_content: bool
) -> None:
    service = dc.Scripted()
    async with stubbed(tmp_path, service, message_content=message_content) as bot:
        alex = bot.members[0]
        await bot.interact(
            command_with_option("codeword", "word", "blue  heron", alex, bot.channel)
        )
        await bot.command("codeword", alex, await bot.dm(alex))
        await bot.message(f"<@{bot.bot.user.id}> hello", alex, bot.channel)
    seen = [(e.chat.is_private, e.sees_plain_text) for e in service.events]
    assert seen == [(False, message_content), (True, True), (False, message_content)]
    first = service.events[0]
    assert (first.command, first.args, first.text) == (
        "codeword",
        ("blue", "heron"),
        "/codeword blue  heron",
    )


async def test_a_slash_pause_in_the_couples_channel_names_no_one(
    bot: dc.DiscordBot, content: Content
) -> None:
    """Discord shows who used a slash command above its answer; the break notice is
    therefore posted as a plain channel message, and the command is answered privately."""
    texts = content.texts
    alex, robin = bot.members
    await onboard(bot, alex, content)
    await onboard(bot, robin, content)
    alex_dm, robin_dm = await bot.dm(alex), await bot.dm(robin)
    [(_, _, _, text)] = answers(await bot.command("pair", alex, alex_dm))
    found = re.search(r"/pair code:([A-Z0-9]{8})", text)
    assert found is not None
    await bot.interact(command_with_option("pair", "code", found.group(1), robin, robin_dm))
    await bot.press(texts.render("pairing.button.accept"), robin, robin_dm)
    await bot.command("link", alex, bot.channel)
    await bot.press(texts.render("pairing.button.link_confirm"), robin, bot.channel)

    before = len(bot.said)
    calls = await bot.command("pause", robin, bot.channel)
    public = [s for s in bot.said[before:] if s.channel_id == bot.channel.id and not s.ephemeral]
    assert len(public) == 1
    notice = public[0]
    assert notice.via == "channel"  # a plain message: no "Robin used /pause" above it
    assert notice.text.startswith(texts.render("pause.notice")[:40])
    # The command's own answer, which Discord labels with Robin's name, is only for Robin.
    assert all(ephemeral for _, _, ephemeral, _ in answers(calls))
