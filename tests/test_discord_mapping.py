"""Pure translation between discord.py objects and core types (``bots.discord.mapping``),
and the pieces a reply becomes (``views``, ``voices``).

discord.py objects are built from payloads on a dpytest-configured client's state, so
they are the real classes with real parsing; nothing is sent anywhere.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord
import discord.ext.test as dpytest
import pytest
import yaml
from discord.ext.test import backend
from discord.ext.test import factories as facts
from hypothesis import given
from hypothesis import strategies as st

from bots.discord import mapping, views, voices
from content import CONTENT_DIR
from core.content import Content
from core.outbox import DeliveryRefused
from core.types import Attachment, Button, ChatKind, ChatRef, EventKind, Platform, Reply, UserRef
from tests import discord_fakes as dc

# --- a small Discord world -------------------------------------------------------------------


@dataclass
class World:
    client: discord.Client
    config: dpytest.RunnerConfig

    @property
    def state(self) -> Any:
        return self.client._connection

    @property
    def me(self) -> discord.ClientUser:
        assert self.client.user is not None
        return self.client.user

    @property
    def channel(self) -> discord.TextChannel:
        return self.config.channels[0]  # type: ignore[return-value]

    @property
    def alex(self) -> discord.Member:
        return self.config.members[0]

    async def dm(self, user: discord.abc.User) -> discord.DMChannel:
        return user.dm_channel or await user.create_dm()  # type: ignore[attr-defined,no-any-return]

    def message(
        self,
        content: str,
        channel: Any,
        author: discord.abc.User | None = None,
        *,
        mentions: list[discord.abc.User] | None = None,
        **data: Any,
    ) -> discord.Message:
        """A message as the gateway would deliver it (not dispatched anywhere)."""
        author = author or self.alex
        guild = getattr(channel, "guild", None)
        payload = facts.make_message_dict(
            channel,
            author,  # type: ignore[arg-type]
            content=content,
            mentions=mentions or [],  # type: ignore[arg-type]
            **({"guild_id": guild.id} if guild is not None else {}),
        )
        payload.update(data)
        return discord.Message(state=self.state, channel=channel, data=payload)


@pytest.fixture
async def world() -> AsyncIterator[World]:
    client = discord.Client(intents=discord.Intents.all())
    await client._async_setup_hook()
    dpytest.configure(client, members=["Alex", "Robin"])
    try:
        yield World(client, dpytest.get_config())
    finally:
        await dpytest.empty_queue()
        await dc.close(client)


def group(channel_id: int, thread_id: int | None = None) -> ChatRef:
    thread = str(thread_id) if thread_id is not None else None
    return ChatRef(Platform.DISCORD, str(channel_id), ChatKind.GROUP, thread_id=thread)


def private(user_id: int) -> ChatRef:
    return ChatRef(Platform.DISCORD, str(user_id), ChatKind.PRIVATE)


# --- custom ids --------------------------------------------------------------------------------


@pytest.mark.parametrize("payload", ["f:onboarding:intro:adult", "x", "a" * 95, "p:ü:1"])
def test_a_custom_id_carries_its_payload_there_and_back(payload: str) -> None:
    custom = mapping.custom_id(payload)
    assert custom == f"mend:{payload}"
    assert len(custom) <= 100  # Discord's limit
    assert mapping.payload_of(custom) == payload


@pytest.mark.parametrize(
    "custom",
    ["other:x", "mend:", "mend:has space", "mend:" + "a" * 96, "xmend:a", "MEND:a", "mend:a\n"],
)
def test_a_foreign_or_malformed_custom_id_has_no_payload(custom: str) -> None:
    assert mapping.payload_of(custom) is None


def test_the_dynamic_button_pattern_is_the_custom_id_pattern() -> None:
    template = views.PayloadButton.__discord_ui_compiled_template__  # type: ignore[attr-defined]
    assert template.fullmatch(mapping.custom_id("f:a:b:c"))
    assert template.fullmatch("other:f") is None


# --- rendering -----------------------------------------------------------------------------------


def unescaped(pieces: list[str]) -> str:
    return "".join(pieces).replace("\\", "")


def test_a_short_text_is_one_escaped_piece() -> None:
    assert mapping.render_text("Hi *Sam* _x_") == [r"Hi \*Sam\* \_x\_"]
    assert mapping.render_text("no markup here") == ["no markup here"]
    assert mapping.render_text("") == []


def test_a_long_text_splits_on_paragraphs() -> None:
    paragraphs = [f"Part {i}. " + "calm " * 150 for i in range(8)]
    text = "\n\n".join(p.strip() for p in paragraphs)
    pieces = mapping.render_text(text)
    assert len(pieces) >= 3
    assert all(len(p) <= mapping.MESSAGE_LIMIT for p in pieces)
    assert all(p.startswith("Part ") for p in pieces)
    assert "\n\n".join(pieces) == text


def test_escaping_that_overflows_a_piece_splits_it_further() -> None:
    text = "*" * 1800
    pieces = mapping.render_text(text)
    assert len(pieces) >= 2
    assert all(len(p) <= mapping.MESSAGE_LIMIT for p in pieces)
    assert unescaped(pieces) == text


_MARKUP = st.lists(
    st.sampled_from([*"ab cd\n*_~`|>#-[]()", "\n\n", "calm ", "https://x.io/a_b "]),
    max_size=3000,
).map("".join)


@given(_MARKUP)
def test_every_piece_fits_after_escaping_and_nothing_is_lost(text: str) -> None:
    pieces = mapping.render_text(text)
    assert all(0 < len(p) <= mapping.MESSAGE_LIMIT for p in pieces)

    def squeezed(s: str) -> str:
        return re.sub(r"\s", "", s)

    assert squeezed(unescaped(pieces)) == squeezed(text)


def test_slash_commands_follow_content(content: Content) -> None:
    listed = yaml.safe_load((CONTENT_DIR / "commands.yaml").read_text(encoding="utf-8"))
    expected = [
        mapping.SlashCommand(
            name=c["name"],
            description=content.texts.by_key[c["description"]],
            in_guilds=c["where"] in ("group", "everywhere"),
            in_dms=c["where"] in ("private", "everywhere"),
            option=mapping.SLASH_OPTIONS.get(c["name"]),
            option_description=content.texts.by_key.get(f"command_options.{c['name']}"),
        )
        for g in listed["groups"]
        for c in g["commands"]
    ]
    assert mapping.slash_commands(content) == expected
    assert all(1 <= len(c.description) <= 100 for c in expected)  # Discord's limits
    with_options = [c for c in expected if c.option is not None]
    assert {c.name for c in with_options} == {
        "pair",
        "codeword",
        "pause",
        "draft",
        "promise",
        "appreciate",
        "ouch",
    }
    assert all(1 <= len(c.option_description or "") <= 100 for c in with_options)
    assert all(re.fullmatch(r"[a-z0-9_-]{1,32}", c.name) for c in expected)


# --- where and who -------------------------------------------------------------------------------


async def test_users_and_chats(world: World) -> None:
    alex = world.alex
    assert mapping.user_ref(alex) == UserRef(Platform.DISCORD, str(alex.id))
    assert mapping.user_ref(alex).display_name == alex.display_name
    assert mapping.chat_ref(world.channel, alex) == group(world.channel.id)
    assert mapping.chat_ref(await world.dm(alex), alex) == private(alex.id)

    thread = discord.Thread(
        guild=world.channel.guild, state=world.state, data=dc.thread_payload(world.channel)
    )
    assert mapping.chat_ref(thread, alex) == group(world.channel.id, thread.id)
    assert mapping.channel_id(group(world.channel.id, thread.id)) == thread.id
    assert mapping.channel_id(group(world.channel.id)) == world.channel.id
    assert mapping.private_chat(mapping.user_ref(alex)) == private(alex.id)


async def test_the_bot_joining_a_server_is_an_event_in_its_channel(world: World) -> None:
    event = mapping.guild_joined_event(world.channel, world.me)
    assert event.kind is EventKind.BOT_ADDED
    assert event.chat == group(world.channel.id)
    assert event.user.user_id == str(world.me.id)
    assert event.at.tzinfo is not None


# --- messages ----------------------------------------------------------------------------------


async def test_a_dm_is_always_read(world: World) -> None:
    dm = await world.dm(world.alex)
    for read_plain_text in (False, True):
        [event] = mapping.event_from_message(
            world.message("I'm in Berlin", dm), world.me, read_plain_text=read_plain_text
        )
        assert event.kind is EventKind.TEXT
        assert event.text == "I'm in Berlin"
        assert event.addressed_to_bot
        assert event.chat == private(world.alex.id)
        assert event.user == UserRef(Platform.DISCORD, str(world.alex.id))
    [command] = mapping.event_from_message(
        world.message("/start", dm), world.me, read_plain_text=False
    )
    assert (command.kind, command.command) == (EventKind.COMMAND, "start")


async def test_server_chatter_is_passed_on_only_with_message_content(world: World) -> None:
    chatter = world.message("pause", world.channel)
    assert mapping.event_from_message(chatter, world.me, read_plain_text=False) == []
    [event] = mapping.event_from_message(chatter, world.me, read_plain_text=True)
    assert event.kind is EventKind.TEXT
    assert event.text == "pause"
    assert event.addressed_to_bot is False
    assert event.chat == group(world.channel.id)

    typed = world.message("/help", world.channel)
    assert mapping.event_from_message(typed, world.me, read_plain_text=False) == []
    [command] = mapping.event_from_message(typed, world.me, read_plain_text=True)
    assert (command.kind, command.command, command.addressed_to_bot) == (
        EventKind.COMMAND,
        "help",
        True,
    )


@pytest.mark.parametrize(
    ("written", "kind", "text"),
    [
        ("<@{me}> are you there?", EventKind.TEXT, "are you there?"),
        ("<@!{me}> /help", EventKind.COMMAND, "/help"),
        ("<@{me}>, /start", EventKind.COMMAND, "/start"),
        ("<@{me}>", EventKind.TEXT, ""),
    ],
)
async def test_a_mention_addresses_the_bot_and_is_taken_out(
    world: World, written: str, kind: EventKind, text: str
) -> None:
    message = world.message(written.format(me=world.me.id), world.channel, mentions=[world.me])
    for read_plain_text in (False, True):
        [event] = mapping.event_from_message(message, world.me, read_plain_text=read_plain_text)
        assert event.addressed_to_bot
        assert event.kind is kind
        assert event.text == text


async def test_a_mention_of_someone_else_is_not_a_mention_of_the_bot(world: World) -> None:
    robin = world.config.members[1]
    message = world.message(f"<@{robin.id}> hi", world.channel, mentions=[robin])
    assert mapping.event_from_message(message, world.me, read_plain_text=False) == []


async def test_a_reply_to_the_bot_addresses_it(world: World) -> None:
    mine = world.message("earlier", world.channel, world.me)
    reference = {
        "message_reference": {
            "message_id": str(mine.id),
            "channel_id": str(world.channel.id),
            "guild_id": str(world.channel.guild.id),
        },
        "referenced_message": facts.make_message_dict(
            world.channel, world.me, id_num=mine.id, content="earlier"
        ),
    }
    reply = world.message("what do you mean?", world.channel, type=19, **reference)
    [event] = mapping.event_from_message(reply, world.me, read_plain_text=False)
    assert (event.text, event.addressed_to_bot) == ("what do you mean?", True)

    robins = world.message("earlier", world.channel, world.config.members[1])
    reference["referenced_message"] = facts.make_message_dict(
        world.channel, world.config.members[1], id_num=robins.id, content="earlier"
    )
    reply = world.message("what do you mean?", world.channel, type=19, **reference)
    assert mapping.event_from_message(reply, world.me, read_plain_text=False) == []


async def test_bots_the_bot_itself_and_system_messages_are_ignored(world: World) -> None:
    robot_payload = facts.make_message_dict(world.channel, world.alex, content="/help")
    robot_payload["author"] = facts.make_user_dict("Robot", "0042", None, bot=True)
    robot_payload["guild_id"] = world.channel.guild.id
    dm = await world.dm(world.alex)
    ignored = [
        discord.Message(state=world.state, channel=world.channel, data=robot_payload),
        world.message("/help", dm, world.me),
        world.message("", world.channel, type=6),  # "pinned a message"
        world.message("", world.channel, type=7),  # "joined the server"
    ]
    for message in ignored:
        for read_plain_text in (False, True):
            events = mapping.event_from_message(message, world.me, read_plain_text=read_plain_text)
            assert events == []


async def test_webhook_messages_are_ignored_whatever_their_author_looks_like(
    world: World,
) -> None:
    # A webhook can post under any name and avatar, and Discord need not mark it a bot.
    hook = {"webhook_id": str(dc.snowflake())}
    as_alex = world.message(f"<@{world.me.id}> /start", world.channel, mentions=[world.me], **hook)
    assert as_alex.webhook_id is not None and not as_alex.author.bot
    for read_plain_text in (False, True):
        assert mapping.event_from_message(as_alex, world.me, read_plain_text=read_plain_text) == []
    same_without_hook = world.message(
        f"<@{world.me.id}> /start", world.channel, mentions=[world.me]
    )
    assert len(mapping.event_from_message(same_without_hook, world.me, read_plain_text=False)) == 1


# --- interactions ---------------------------------------------------------------------------------


async def test_where_an_interaction_happened(world: World) -> None:
    alex = world.alex

    def interaction(payload: dict[str, Any]) -> discord.Interaction[Any]:
        return discord.Interaction(data=payload, state=world.state)  # type: ignore[arg-type]

    dm = await world.dm(alex)
    in_dm = interaction(dc.command_payload("start", alex, dm))
    assert mapping.interaction_chat(in_dm) == private(alex.id)

    in_channel = interaction(dc.command_payload("help", alex, world.channel))
    assert mapping.interaction_chat(in_channel) == group(world.channel.id)
    assert mapping.user_ref(in_channel.user) == UserRef(Platform.DISCORD, str(alex.id))

    thread = dc.thread_payload(world.channel)
    in_thread = interaction(dc.command_payload("help", alex, thread))
    assert mapping.interaction_chat(in_thread) == group(world.channel.id, int(thread["id"]))

    uncached = dc.command_payload("help", alex, world.channel)
    uncached["guild_id"] = uncached["channel"]["guild_id"] = str(dc.snowflake())
    uncached["channel_id"] = uncached["channel"]["id"] = str(dc.snowflake())
    assert mapping.interaction_chat(interaction(uncached)) == group(int(uncached["channel_id"]))


async def test_a_server_interaction_is_never_taken_for_a_dm(world: World) -> None:
    # BUG: for a channel discord.py cannot build (a channel type it does not know yet),
    # ``interaction.channel`` is None, and so is ``interaction.channel_id`` (discord.py 2.7
    # derives it from ``channel``). ``interaction_chat``'s fallback then never fires and a
    # command in a server is answered as if it came from the person's DM.
    payload = dc.command_payload("settings", world.alex, world.channel)
    payload["channel_id"] = payload["channel"]["id"] = str(dc.snowflake())  # not cached
    payload["channel"]["type"] = 99
    interaction = discord.Interaction(data=payload, state=world.state)  # type: ignore[arg-type]
    assert interaction.guild_id == world.channel.guild.id
    chat = mapping.interaction_chat(interaction)
    assert not chat.is_private
    assert chat.kind is ChatKind.GROUP


async def test_a_press_is_a_button_event_and_not_a_command(world: World) -> None:
    alex = world.alex
    payload = dc.press_payload(
        mapping.custom_id("f:a:b:c"),
        alex,
        world.channel,
        dc.message_payload(world.channel.id, []),
    )
    interaction = discord.Interaction(data=payload, state=world.state)  # type: ignore[arg-type]
    assert mapping.command_event(interaction) is None
    event = mapping.press_event(interaction, "f:a:b:c")
    assert (event.kind, event.payload, event.chat) == (
        EventKind.BUTTON,
        "f:a:b:c",
        group(world.channel.id),
    )
    assert event.user.user_id == str(alex.id)
    assert event.at == interaction.created_at


# --- views and message parts ----------------------------------------------------------------------


def choices(count: int) -> tuple[Button, ...]:
    return tuple(Button(f"Choice {i}", f"x:{i}") for i in range(count))


def test_no_buttons_no_view() -> None:
    assert views.view_for(()) is None


@pytest.mark.parametrize("count", [1, 5, 6, 25, 30])
async def test_buttons_become_a_persistent_view(count: int) -> None:
    view = views.view_for(choices(count))
    assert view is not None
    assert view.timeout is None
    assert view.is_persistent()
    rows = view.to_components()
    laid_out = [b for row in rows for b in row["components"]]
    shown = min(count, views.MAX_BUTTONS)
    assert [b["custom_id"] for b in laid_out] == [mapping.custom_id(f"x:{i}") for i in range(shown)]
    assert [b["label"] for b in laid_out] == [f"Choice {i}" for i in range(shown)]
    assert len(rows) <= views.MAX_ROWS
    assert all(len(row["components"]) <= 5 for row in rows)
    if count <= views.MAX_ROWS:
        assert [len(row["components"]) for row in rows] == [1] * count  # one per row
    assert all(isinstance(item, views.PayloadButton) for item in view.children)


def test_message_parts_put_the_image_first_and_the_buttons_last(tmp_path: Path) -> None:
    picture = tmp_path / "calm.png"
    picture.write_bytes(b"\x89PNG")
    long = "\n\n".join("word " * 300 for _ in range(3))
    parts = voices.message_parts(Reply(text=long, key="t", image=str(picture), buttons=choices(2)))
    assert len(parts) >= 2
    assert isinstance(parts[0]["file"], discord.File)
    assert parts[0]["file"].filename == "calm.png"
    assert all("file" not in p for p in parts[1:])
    assert isinstance(parts[-1]["view"], discord.ui.View)
    assert all("view" not in p for p in parts[:-1])

    parts[0]["file"].close()

    [only_image] = voices.message_parts(Reply(text="", key="t", image=str(picture)))
    assert set(only_image) == {"file"}
    only_image["file"].close()
    [only_buttons] = voices.message_parts(Reply(text="", key="t", buttons=choices(1)))
    assert set(only_buttons) == {"view"}
    assert voices.message_parts(Reply(text="", key="t")) == []


def test_message_parts_put_an_attached_file_last_with_the_buttons(tmp_path: Path) -> None:
    picture = tmp_path / "calm.png"
    picture.write_bytes(b"\x89PNG")
    export = Attachment("mend-export.json", b'{"a": 1}')
    long = "\n\n".join("word " * 300 for _ in range(3))
    parts = voices.message_parts(
        Reply(text=long, key="t", image=str(picture), buttons=choices(1), attachment=export)
    )
    assert len(parts) >= 2
    assert parts[0]["file"].filename == "calm.png"
    last = parts[-1]
    assert (last["file"].filename, last["file"].fp.read()) == ("mend-export.json", b'{"a": 1}')
    assert "view" in last
    assert all("files" not in p for p in parts)
    for part in (parts[0], last):
        part["file"].close()

    [one] = voices.message_parts(Reply(text="hi", key="t", image=str(picture), attachment=export))
    assert [f.filename for f in one["files"]] == ["calm.png", "mend-export.json"]
    assert "file" not in one
    for file in one["files"]:
        file.close()
    [only_file] = voices.message_parts(Reply(text="", key="t", attachment=export))
    assert set(only_file) == {"file"}
    only_file["file"].close()


@pytest.mark.parametrize(
    ("error", "code"),
    [(discord.Forbidden, 50007), (discord.NotFound, 10003)],
)
async def test_refusals_become_delivery_refused(
    error: type[discord.HTTPException], code: int
) -> None:
    response = backend.FakeRequest(403 if error is discord.Forbidden else 404, "no")
    with pytest.raises(DeliveryRefused) as refused:
        async with voices.refusals():
            raise error(response, {"code": code, "message": "no"})  # type: ignore[arg-type]
    assert str(code) in str(refused.value)


async def test_other_http_errors_are_not_refusals() -> None:
    response = backend.FakeRequest(500, "Server Error")
    with pytest.raises(discord.HTTPException) as failed:
        async with voices.refusals():
            raise discord.DiscordServerError(response, "boom")  # type: ignore[arg-type]
    assert not isinstance(failed.value, DeliveryRefused)
