"""Test doubles for the Discord adapter: the real discord.py bot, driven offline.

Messages go through dpytest (its ``FakeHttp`` stands in for Discord's REST API, wrapped
here so the components, files and mentions of every send are recorded and a send can be
refused). Slash commands and button presses are interaction payloads, built the way
discord.py's own tests build them, fed to ``ConnectionState.parse_interaction_create`` so
they run through the real ``CommandTree`` and the real ``ViewStore``/``DynamicItem``
dispatch. Interaction answers go to ``RecordingWebhookAdapter`` instead of the network.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import discord
import discord.ext.test as dpytest
from discord.ext.test import backend
from discord.webhook import async_ as webhook_async

from bots.app import Core, build_core
from bots.discord.adapter import ACK_BUDGET, DiscordAdapter
from bots.discord.factory import build_discord
from core.service import CoachService
from core.settings import Settings
from core.types import IncomingEvent, Reply
from scheduler.pacing import SendGate
from tests.fakes import FakeClock

TOKEN = "discord-test-token"  # a dummy, never sent anywhere
APP_ID = 900000000000000001
EPHEMERAL = 64
"""``MessageFlags.ephemeral``."""

# Interaction response types (Discord API).
MESSAGE = 4
DEFERRED_MESSAGE = 5
DEFERRED_UPDATE = 6
UPDATE_MESSAGE = 7

_ids = itertools.count(910000000000000000)


def snowflake() -> int:
    return next(_ids)


# --- payloads ------------------------------------------------------------------------------


def user_payload(user: discord.abc.User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "username": user.name,
        "discriminator": getattr(user, "discriminator", "0"),
        "avatar": None,
        "global_name": None,
    }


def member_payload(user: discord.abc.User) -> dict[str, Any]:
    return {
        "user": user_payload(user),
        "roles": [],
        "joined_at": "2026-01-01T00:00:00+00:00",
        "deaf": False,
        "mute": False,
        "permissions": "8",
        "flags": 0,
    }


def text_channel_payload(channel: discord.TextChannel) -> dict[str, Any]:
    return {
        "id": str(channel.id),
        "type": 0,
        "guild_id": str(channel.guild.id),
        "name": channel.name,
        "position": 0,
        "permission_overwrites": [],
        "nsfw": False,
        "parent_id": None,
    }


def thread_payload(parent: discord.TextChannel, thread_id: int | None = None) -> dict[str, Any]:
    """A public thread under ``parent`` (dpytest keeps no threads, so it is payload only)."""
    return {
        "id": str(thread_id or snowflake()),
        "type": 11,
        "guild_id": str(parent.guild.id),
        "parent_id": str(parent.id),
        "owner_id": str(parent.guild.owner_id or snowflake()),
        "name": "a thread",
        "message_count": 1,
        "member_count": 2,
        "rate_limit_per_user": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": 1440,
            "archive_timestamp": "2026-01-01T00:00:00+00:00",
            "locked": False,
        },
    }


Where = discord.DMChannel | discord.TextChannel | dict[str, Any]
"""Where an interaction happens: a DM, a server text channel, or a thread payload."""


def interaction_payload(
    kind: int, data: dict[str, Any], user: discord.abc.User, where: Where
) -> dict[str, Any]:
    """An ``INTERACTION_CREATE`` payload as the gateway sends it."""
    payload: dict[str, Any] = {
        "id": str(snowflake()),
        "application_id": str(APP_ID),
        "token": f"interaction-token-{snowflake()}",
        "version": 1,
        "type": kind,
        "locale": "en-US",
        "app_permissions": "0",
        "authorizing_integration_owners": {},
        "entitlements": [],
        "attachment_size_limit": 8 * 1024 * 1024,
        "data": data,
    }
    if isinstance(where, discord.DMChannel):
        payload["user"] = user_payload(user)
        payload["channel"] = {"id": str(where.id), "type": 1}
        payload["channel_id"] = str(where.id)
        payload["context"] = 1
        return payload
    channel = text_channel_payload(where) if isinstance(where, discord.TextChannel) else where
    payload["guild_id"] = channel["guild_id"]
    payload["channel"] = channel
    payload["channel_id"] = channel["id"]
    payload["member"] = member_payload(user)
    payload["context"] = 0
    return payload


def command_payload(name: str, user: discord.abc.User, where: Where) -> dict[str, Any]:
    """A slash command with no options."""
    data = {"id": str(snowflake()), "name": name, "type": 1, "options": []}
    return interaction_payload(2, data, user, where)


def message_payload(
    channel_id: int, components: list[dict[str, Any]], *, message_id: int | None = None
) -> dict[str, Any]:
    """The message a button was on, as an interaction carries it."""
    return {
        "id": str(message_id or snowflake()),
        "channel_id": str(channel_id),
        "type": 0,
        "content": "",
        "author": {"id": str(APP_ID), "username": "Mend", "discriminator": "0", "avatar": None},
        "attachments": [],
        "embeds": [],
        "mentions": [],
        "mention_roles": [],
        "pinned": False,
        "mention_everyone": False,
        "tts": False,
        "timestamp": "2026-03-01T09:00:00+00:00",
        "edited_timestamp": None,
        "flags": 0,
        "components": components,
    }


def press_payload(
    custom_id: str,
    user: discord.abc.User,
    where: Where,
    message: dict[str, Any],
) -> dict[str, Any]:
    """A press of the button ``custom_id`` on ``message``."""
    data = {"custom_id": custom_id, "component_type": 2}
    return interaction_payload(3, data, user, where) | {"message": message}


def button_row(label: str, payload: str) -> list[dict[str, Any]]:
    """The components of a message with one Mend button, as Discord sends them back."""
    button = {"type": 2, "style": 2, "label": label, "custom_id": f"mend:{payload}"}
    return [{"type": 1, "components": [button]}]


def buttons(components: Iterable[dict[str, Any]]) -> list[tuple[str, str]]:
    """``(label, custom_id)`` of every button in a message's action rows."""
    return [
        (str(button.get("label", "")), str(button["custom_id"]))
        for row in components
        for button in row.get("components", [])
        if button.get("type") == 2
    ]


def plain(text: str) -> str:
    """A sent text as the person reads it: Markdown escapes removed (content has none)."""
    return text.replace("\\", "")


# --- recording ---------------------------------------------------------------------------


@dataclass
class WebhookCall:
    """One request discord.py made to answer an interaction."""

    method: str
    path: str
    token: str | None
    body: dict[str, Any] | None
    files: list[str]
    uploads: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        if self.path.endswith("/callback"):
            return "callback"
        if self.path.endswith("/messages/@original"):
            return {"PATCH": "edit_original", "DELETE": "delete_original"}.get(self.method, "?")
        if self.method == "POST":
            return "followup"
        return "?"

    @property
    def response_type(self) -> int | None:
        return int(self.body["type"]) if self.kind == "callback" and self.body else None

    @property
    def data(self) -> dict[str, Any]:
        """The message fields sent: a callback's ``data``, or the body itself."""
        if self.body is None:
            return {}
        if self.kind == "callback":
            return cast(dict[str, Any], self.body.get("data") or {})
        return self.body

    @property
    def ephemeral(self) -> bool:
        return bool(int(self.data.get("flags") or 0) & EPHEMERAL)


@dataclass
class Said:
    """Something the bot showed: a channel message, an interaction answer or follow-up."""

    via: str  # "channel", "response" or "followup"
    channel_id: int
    private: bool
    content: str
    components: list[dict[str, Any]]
    ephemeral: bool
    message_id: int
    files: list[str] = field(default_factory=list)
    allowed_mentions: dict[str, Any] | None = None
    retired: bool = False
    uploads: list[tuple[str, bytes]] = field(default_factory=list)
    """``(filename, bytes)`` of every file sent with the message."""
    nonce: str | None = None
    enforce_nonce: bool = False
    """A channel message's nonce and whether Discord was asked to drop a repeat of it."""

    @property
    def text(self) -> str:
        return plain(self.content)

    @property
    def buttons(self) -> list[tuple[str, str]]:
        return buttons(self.components)

    @property
    def labels(self) -> list[str]:
        return [label for label, _ in self.buttons]


@dataclass
class Refused:
    """Sends Discord refuses: DMs to these people, posts to these channels."""

    dm_users: set[int] = field(default_factory=set)
    channels: set[int] = field(default_factory=set)


class Recorder:
    """Everything the bot said, in order, wherever it said it.

    ``failures`` queues what the next channel sends meet, one per send: an error raised
    instead of sending (a 5xx, a dropped connection, a long rate limit), or None to send.
    Like Discord, a send with ``enforce_nonce`` and a nonce already used returns that
    message again and creates none (``repeats`` counts those).
    """

    def __init__(self) -> None:
        self.said: list[Said] = []
        self.calls: list[WebhookCall] = []
        self.refused = Refused()
        self.failures: list[BaseException | None] = []
        self.attempts = 0  # channel sends tried, including refused and failed ones
        self.repeats = 0
        self.by_nonce: dict[str, dict[str, Any]] = {}
        self._interactions: dict[str, dict[str, Any]] = {}

    def expect(self, payload: dict[str, Any]) -> None:
        """Remember an interaction so its answers can be placed in its channel."""
        self._interactions[str(payload["token"])] = payload

    def by_token(self, token: str) -> list[WebhookCall]:
        return [c for c in self.calls if c.token == token]

    def message(self, message_id: int) -> Said | None:
        return next((s for s in self.said if s.message_id == message_id), None)

    # -- interactions -------------------------------------------------------------------

    def webhook(self, call: WebhookCall) -> dict[str, Any] | None:
        self.calls.append(call)
        interaction = self._interactions.get(call.token or "", {})
        channel_id = int(interaction.get("channel_id") or 0)
        private = "guild_id" not in interaction
        message_id = snowflake()
        data = call.data
        if call.kind == "callback" and call.response_type == UPDATE_MESSAGE:
            self._retire(interaction, data)
        if call.kind == "edit_original" and int(interaction.get("type", 0)) == 3:
            self._retire(interaction, data)
        said_here = (call.kind == "callback" and call.response_type == MESSAGE) or (
            call.kind == "followup"
        )
        if said_here:
            self.said.append(
                Said(
                    via="response" if call.kind == "callback" else "followup",
                    channel_id=channel_id,
                    private=private,
                    content=str(data.get("content") or ""),
                    components=list(data.get("components") or []),
                    ephemeral=call.ephemeral,
                    message_id=message_id,
                    files=call.files,
                    allowed_mentions=data.get("allowed_mentions"),
                    uploads=call.uploads,
                )
            )
        if call.method == "DELETE":
            return None
        message = message_payload(
            channel_id, list(data.get("components") or []), message_id=message_id
        ) | {"content": str(data.get("content") or "")}
        if call.kind == "callback":
            return {
                "interaction": {
                    "id": str(interaction.get("id", snowflake())),
                    "type": int(interaction.get("type", 2)),
                    "response_message_id": str(message_id),
                    "response_message_loading": call.response_type == DEFERRED_MESSAGE,
                    "response_message_ephemeral": call.ephemeral,
                },
                "resource": {"type": call.response_type, "message": message},
            }
        return message

    def _retire(self, interaction: dict[str, Any], data: dict[str, Any]) -> None:
        pressed = interaction.get("message") or {}
        said = self.message(int(pressed.get("id") or 0))
        if said is not None and "components" in data:
            said.components = list(data["components"])
            said.retired = not said.components

    # -- channel sends (dpytest) ----------------------------------------------------------

    def channel_send(
        self, channel: discord.abc.Messageable, payload: dict[str, Any], files: list[str]
    ) -> None:
        self.attempts += 1
        failure = self.failures.pop(0) if self.failures else None
        if failure is not None:
            raise failure
        private = isinstance(channel, discord.DMChannel)
        if private:
            recipient = cast(discord.DMChannel, channel).recipient
            if recipient is not None and recipient.id in self.refused.dm_users:
                raise discord.Forbidden(
                    backend.FakeRequest(403, "Forbidden"),  # type: ignore[arg-type]
                    {"code": 50007, "message": "Cannot send messages to this user"},
                )
        elif cast(discord.abc.Snowflake, channel).id in self.refused.channels:
            raise discord.Forbidden(
                backend.FakeRequest(403, "Forbidden"),  # type: ignore[arg-type]
                {"code": 50013, "message": "Missing Permissions"},
            )

    def sent(self, said: Said) -> None:
        self.said.append(said)


class RecordingWebhookAdapter(webhook_async.AsyncWebhookAdapter):
    """Answers every interaction request locally and records it; never opens a socket."""

    def __init__(self, recorder: Recorder) -> None:
        super().__init__()
        self.recorder = recorder

    async def request(  # type: ignore[override]
        self,
        route: Any,
        session: Any,
        *,
        payload: dict[str, Any] | None = None,
        multipart: list[dict[str, Any]] | None = None,
        files: Any = None,
        **_: Any,
    ) -> Any:
        body = payload
        if multipart:
            body = json.loads(multipart[0]["value"])
        names = [f.filename for f in files or []]
        call = WebhookCall(
            route.method, route.path, route.webhook_token, body, names, uploads(files)
        )
        return self.recorder.webhook(call)


def uploads(files: Iterable[discord.File] | None) -> list[tuple[str, bytes]]:
    """``(filename, bytes)`` of each file, read without moving it for the real sender."""
    read: list[tuple[str, bytes]] = []
    for file in files or []:
        file.reset()
        read.append((file.filename, file.fp.read()))
        file.reset()
    return read


def _recording_send_message(recorder: Recorder) -> Callable[..., Any]:
    """``FakeHttp.send_message`` that records the payload dpytest drops, or refuses."""
    original = backend.FakeHttp.send_message

    async def send_message(self: backend.FakeHttp, channel_id: int, *, params: Any) -> Any:
        # dpytest reads the channel from its caller's locals, so keep one named ``channel``.
        channel = backend._get_higher_locs(1).get("channel")
        payload = dict(params.payload or {})
        if params.multipart:  # with files, the JSON travels as the form's payload_json
            payload = json.loads(params.multipart[0]["value"])
        names = [f.filename for f in params.files or []]
        sent_files = uploads(params.files)
        recorder.channel_send(channel, payload, names)
        nonce = str(payload["nonce"]) if payload.get("nonce") is not None else None
        if nonce is not None and payload.get("enforce_nonce") and nonce in recorder.by_nonce:
            recorder.repeats += 1
            return recorder.by_nonce[nonce]
        # Keep dpytest from writing attachments into the working directory.
        result = await original(self, channel_id, params=params._replace(files=None))
        if nonce is not None:
            recorder.by_nonce[nonce] = result
        recorder.sent(
            Said(
                via="channel",
                channel_id=int(channel.id),
                private=isinstance(channel, discord.DMChannel),
                content=str(payload.get("content") or ""),
                components=list(payload.get("components") or []),
                ephemeral=False,
                message_id=int(result["id"]),
                files=names,
                allowed_mentions=payload.get("allowed_mentions"),
                uploads=sent_files,
                nonce=nonce,
                enforce_nonce=bool(payload.get("enforce_nonce")),
            )
        )
        return result

    return send_message


# --- the bot under test --------------------------------------------------------------------


class Scripted:
    """A stand-in for ``CoachService``: records events and answers with ``answer``.

    ``answer`` may be a coroutine function (to take its time, or to fail).
    """

    def __init__(self, answer: Callable[[IncomingEvent], Any] | None = None) -> None:
        self.events: list[IncomingEvent] = []
        self._answer = answer or (lambda event: [])

    async def handle(self, event: IncomingEvent) -> list[Reply]:
        self.events.append(event)
        result = self._answer(event)
        if asyncio.iscoroutine(result):
            result = await result
        return cast(list[Reply], result)


@dataclass
class DiscordBot:
    """A configured bot on dpytest, and everything it said."""

    adapter: DiscordAdapter
    core: Core
    recorder: Recorder
    config: dpytest.RunnerConfig

    @property
    def bot(self) -> discord.Client:
        return self.adapter.bot

    @property
    def said(self) -> list[Said]:
        return self.recorder.said

    @property
    def channel(self) -> discord.TextChannel:
        return cast(discord.TextChannel, self.config.channels[0])

    @property
    def members(self) -> list[discord.Member]:
        return self.config.members

    async def dm(self, user: discord.abc.User) -> discord.DMChannel:
        return user.dm_channel or await user.create_dm()  # type: ignore[attr-defined,no-any-return]

    async def message(
        self, text: str, member: discord.Member, channel: discord.abc.Messageable | None = None
    ) -> list[Said]:
        """``member`` writes ``text`` (in their DM with the bot unless a channel is given)."""
        where = channel or await self.dm(member)
        before = len(self.said)
        await dpytest.message(text, channel=where, member=member)  # type: ignore[arg-type]
        return self.said[before:]

    async def interact(self, payload: dict[str, Any]) -> list[WebhookCall]:
        """Feed one interaction and wait for everything it set off; return its requests."""
        self.recorder.expect(payload)
        before = asyncio.all_tasks()
        self.bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
        await settle(before)
        return self.recorder.by_token(str(payload["token"]))

    def start(self, payload: dict[str, Any]) -> set[asyncio.Task[Any]]:
        """Feed one interaction without waiting; ``settle`` the returned snapshot later."""
        self.recorder.expect(payload)
        before = asyncio.all_tasks()
        self.bot._connection.parse_interaction_create(payload)  # type: ignore[arg-type]
        return before

    async def command(self, name: str, member: discord.abc.User, where: Where) -> list[WebhookCall]:
        return await self.interact(command_payload(name, member, where))

    def carrier(self, label: str, channel_id: int) -> Said:
        """The latest message in ``channel_id`` showing a button labelled ``label``."""
        for said in reversed(self.said):
            if said.channel_id == channel_id and label in said.labels:
                return said
        raise AssertionError(f"no button {label!r} was shown in channel {channel_id}")

    async def press(
        self, label: str, member: discord.abc.User, where: Where, *, on: Said | None = None
    ) -> tuple[Said, list[WebhookCall]]:
        """Press the button ``label`` the bot really showed there (or on ``on``)."""
        channel_id = int(where["id"]) if isinstance(where, dict) else where.id
        carrier = on or self.carrier(label, channel_id)
        custom = dict(carrier.buttons)[label]
        message = message_payload(channel_id, carrier.components, message_id=carrier.message_id)
        return carrier, await self.interact(press_payload(custom, member, where, message))


async def settle(before: set[asyncio.Task[Any]], within: float = 5.0) -> None:
    """Wait until every task started since ``before`` (and any they started) is done."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    me = asyncio.current_task()
    while True:
        pending = {t for t in asyncio.all_tasks() if t not in before and t is not me}
        pending = {t for t in pending if not t.done()}
        if not pending:
            return
        remaining = deadline - loop.time()
        if remaining <= 0:
            names = sorted(t.get_name() for t in pending)
            raise AssertionError(f"tasks still running: {names}")
        await asyncio.wait(pending, timeout=remaining)


async def wait_until(condition: Callable[[], bool], within: float = 5.0) -> None:
    """Let the loop run until ``condition()`` holds (no fixed sleeps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.001)


async def close(bot: discord.Client) -> None:
    """Close the bot as a shutdown would (dpytest's fake gateway has no socket to close)."""
    bot.ws = None  # type: ignore[assignment]
    await bot.close()


def discord_settings(database: Path, **overrides: Any) -> Settings:
    return Settings(
        _env_file=None,
        discord_bot_token=TOKEN,
        database_url=f"sqlite+aiosqlite:///{database}",
        **overrides,
    )


@asynccontextmanager
async def discord_bot(
    database: Path,
    *,
    service: Any = None,
    message_content: bool = False,
    dev_guild_id: int | None = None,
    ack_budget: float = ACK_BUDGET,
    clock: FakeClock | None = None,
    members: tuple[str, ...] = ("Alex", "Robin"),
    gate: SendGate | None = None,
) -> AsyncIterator[DiscordBot]:
    """The adapter as ``build_discord`` builds it, on a core over the SQLite file ``database``.

    ``service`` replaces the core's service (a ``Scripted`` stand-in, say); ``gate``
    replaces the send gate built at Discord's limits. dpytest's global
    state is configured afresh and emptied afterwards; the database is closed on the way out.
    """
    settings = discord_settings(
        database, discord_message_content=message_content, discord_dev_guild_id=dev_guild_id
    )
    core = await build_core(settings, clock=clock or FakeClock())
    recorder = Recorder()
    patched = _recording_send_message(recorder)
    original = backend.FakeHttp.send_message
    previous = webhook_async.async_context.get()
    backend.FakeHttp.send_message = patched  # type: ignore[method-assign]
    webhook_async.async_context.set(RecordingWebhookAdapter(recorder))
    bot: discord.Client | None = None
    try:
        if service is not None:
            core = dataclasses.replace(core, service=cast(CoachService, service))
        adapter = build_discord(
            core, settings, ack_budget=ack_budget, gate=gate, intents=discord.Intents.all()
        )
        bot = adapter.bot
        await bot._async_setup_hook()
        mentions = bot.allowed_mentions
        dpytest.configure(bot, members=list(members))
        # dpytest's state drops the client's options; the real state carries them.
        bot._connection.allowed_mentions = mentions
        await dpytest.empty_queue()
        bot._connection._command_tree = adapter.bot.tree
        bot._connection.application_id = APP_ID
        adapter.install()
        yield DiscordBot(adapter, core, recorder, dpytest.get_config())
    finally:
        try:
            await dpytest.empty_queue()
            if bot is not None:
                await close(bot)
        finally:
            backend.FakeHttp.send_message = original  # type: ignore[method-assign]
            webhook_async.async_context.set(previous)
            await core.database.close()
