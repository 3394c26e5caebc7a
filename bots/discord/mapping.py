"""Pure translation between discord.py objects and core types."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import discord
from discord.utils import escape_markdown

from bots.rendering import split_text
from core.content import Content
from core.text_input import clean_text, event_from_text
from core.types import ChatKind, ChatRef, EventKind, IncomingEvent, Platform, UserRef

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 2000
"""Discord's limit on a message's content, counted after escaping."""

CUSTOM_ID_PREFIX = "mend:"
"""Every button Mend sends carries ``mend:<core payload>`` as its ``custom_id``."""

CUSTOM_ID_TEMPLATE = r"mend:(?P<payload>[^\s]{1,95})"
"""The persistent-button pattern (Discord allows 100 characters in a ``custom_id``)."""

_CUSTOM_ID = re.compile(CUSTOM_ID_TEMPLATE)
_PLAIN_TYPES = (discord.MessageType.default, discord.MessageType.reply)


SLASH_OPTIONS: dict[str, str] = {
    "pair": "code",
    "codeword": "word",
    "pause": "length",
    "draft": "message",
    "promise": "promise",
    "appreciate": "what",
    "ouch": "what",
}
"""Commands that take one optional text option on Discord, and the option's name.

``/pair code:K7M2QX9P`` reaches the core as ``/pair K7M2QX9P``; the option's description
is the content text ``command_options.<command>``."""

OPTION_DESCRIPTION = "command_options.{}"
"""The content key describing a command's option."""


@dataclass(frozen=True, slots=True)
class SlashCommand:
    """One slash command as Discord shows it.

    Attributes:
        name: the command's name.
        description: what it does, from content.
        in_guilds: offered in server channels.
        in_dms: offered in DMs.
        option: the name of its one optional text option, or None.
        option_description: that option's description, from content.
    """

    name: str
    description: str
    in_guilds: bool
    in_dms: bool
    option: str | None = None
    option_description: str | None = None


def user_ref(user: discord.abc.User) -> UserRef:
    """The core identity of a Discord user (snowflake id; display name only for greeting)."""
    return UserRef(Platform.DISCORD, str(user.id), display_name=user.display_name or None)


def private_chat(user: UserRef) -> ChatRef:
    """A person's DM with the bot, addressed by the person's id (the DM is opened on send)."""
    return ChatRef(Platform.DISCORD, user.user_id, ChatKind.PRIVATE)


def chat_ref(channel: object, author: discord.abc.User) -> ChatRef:
    """The storable address of where something happened.

    DMs are keyed by the person (their DM channel is reopened on demand); a thread is its
    parent channel plus the thread, like a Telegram forum topic.
    """
    if isinstance(channel, discord.Thread):
        return ChatRef(
            Platform.DISCORD, str(channel.parent_id), ChatKind.GROUP, thread_id=str(channel.id)
        )
    if isinstance(channel, discord.abc.GuildChannel):
        return ChatRef(Platform.DISCORD, str(channel.id), ChatKind.GROUP)
    return private_chat(user_ref(author))


def interaction_chat(interaction: discord.Interaction) -> ChatRef:
    """Where an interaction happened, even when its channel is not in the cache."""
    channel = interaction.channel
    if isinstance(channel, (discord.Thread, discord.abc.GuildChannel)):
        return chat_ref(channel, interaction.user)
    if interaction.guild_id is not None:
        # A server channel discord.py cannot build (a new channel type): never a DM. Its id
        # is unknown, so the server stands in; replies go through the interaction itself.
        return ChatRef(Platform.DISCORD, str(interaction.guild_id), ChatKind.GROUP)
    return private_chat(user_ref(interaction.user))


def channel_id(chat: ChatRef) -> int:
    """The id of the channel (or thread) to post to for a server chat."""
    return int(chat.thread_id or chat.chat_id)


def custom_id(payload: str) -> str:
    """The ``custom_id`` a button with this core payload carries."""
    return CUSTOM_ID_PREFIX + payload


def payload_of(custom: str) -> str | None:
    """The core payload inside a Mend ``custom_id``, or None for anything else."""
    match = _CUSTOM_ID.fullmatch(custom)
    return match.group("payload") if match else None


def _mentions(message: discord.Message, me: discord.abc.User) -> bool:
    if any(user.id == me.id for user in message.mentions):
        return True
    reference = message.reference
    resolved = reference.resolved if reference is not None else None
    return isinstance(resolved, discord.Message) and resolved.author.id == me.id


def _without_mention(text: str, me: discord.abc.User) -> str:
    if text.startswith("/"):
        return text
    return re.sub(rf"<@!?{me.id}>", "", text, count=1).strip(" ,:")


def event_from_message(
    message: discord.Message, me: discord.abc.User, *, read_plain_text: bool
) -> list[IncomingEvent]:
    """Translate one message into the core events it carries (none for what Mend ignores).

    DMs are always read. In a server, without the message-content setting only messages
    that mention the bot are passed on (Discord gives the bot no other content then); with
    it, everything is passed on and the core decides what concerns it (the code word).
    Messages from bots and webhooks are never passed on: no person can be held to them.
    """
    author = message.author
    if message.webhook_id is not None:
        log.debug("ignored a webhook message")
        return []
    if author.bot or author.id == me.id or message.type not in _PLAIN_TYPES:
        return []
    chat = chat_ref(message.channel, author)
    addressed = chat.is_private or _mentions(message, me)
    if not (chat.is_private or addressed or read_plain_text):
        return []
    text = message.content or ""
    addressed = addressed or text.startswith("/")
    event = event_from_text(
        chat,
        user_ref(author),
        _without_mention(text, me),
        message.created_at or datetime.now(UTC),
        addressed_to_bot=addressed,
    )
    return [replace(event, sees_plain_text=chat.is_private or read_plain_text)]


def command_event(
    interaction: discord.Interaction, option: str | None = None, *, read_plain_text: bool = False
) -> IncomingEvent | None:
    """A slash command as a core command event, or None if it is not one of Mend's.

    ``option`` is the text of the command's option, if it has one and it was filled in:
    it becomes the command's arguments, as if typed after the command.
    """
    command = interaction.command
    if command is None:
        return None
    value = clean_text(option or "")
    chat = interaction_chat(interaction)
    return IncomingEvent(
        kind=EventKind.COMMAND,
        chat=chat,
        user=user_ref(interaction.user),
        at=interaction.created_at,
        text=f"/{command.name} {value}".rstrip(),
        command=command.name,
        args=tuple(value.split()),
        sees_plain_text=chat.is_private or read_plain_text,
    )


def press_event(
    interaction: discord.Interaction, payload: str, *, read_plain_text: bool = False
) -> IncomingEvent:
    """A button press as a core button event."""
    chat = interaction_chat(interaction)
    return IncomingEvent(
        kind=EventKind.BUTTON,
        chat=chat,
        user=user_ref(interaction.user),
        at=interaction.created_at,
        payload=payload,
        sees_plain_text=chat.is_private or read_plain_text,
    )


def guild_joined_event(channel: discord.abc.GuildChannel, me: discord.abc.User) -> IncomingEvent:
    """The bot was added to a server: it introduces itself in ``channel``."""
    return IncomingEvent(
        kind=EventKind.BOT_ADDED,
        chat=chat_ref(channel, me),
        user=user_ref(me),
        at=datetime.now(UTC),
    )


def render_text(text: str) -> list[str]:
    """Split on paragraph boundaries so every piece fits after Markdown escaping.

    Everything is escaped: content texts carry no markup, and values that came from a
    person (a name, a time zone they typed) must never become formatting.
    """
    pieces: list[str] = []
    for piece in split_text(text, MESSAGE_LIMIT):
        escaped = escape_markdown(piece)
        if len(escaped) <= MESSAGE_LIMIT:
            pieces.append(escaped)
            continue
        # Escaping can double a piece's length; split what is left more finely.
        pieces.extend(escape_markdown(p) for p in split_text(piece, MESSAGE_LIMIT // 2))
    return pieces


def slash_commands(content: Content) -> list[SlashCommand]:
    """Mend's slash commands, with descriptions from content and where each works."""
    texts = content.texts
    commands: list[SlashCommand] = []
    for c in content.commands.values():
        option = SLASH_OPTIONS.get(c.name)
        described = OPTION_DESCRIPTION.format(c.name)
        commands.append(
            SlashCommand(
                name=c.name,
                description=texts.render(c.description),
                in_guilds=c.where != "private",
                in_dms=c.where != "group",
                option=option,
                option_description=texts.render(described) if option else None,
            )
        )
    return commands
