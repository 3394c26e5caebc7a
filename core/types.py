"""Core value types shared by every adapter, the scheduler and the services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Platform(StrEnum):
    """Where a person talks to Mend."""

    TELEGRAM = "telegram"
    DISCORD = "discord"
    CONSOLE = "console"


class ChatKind(StrEnum):
    """Whether a chat is one person with the bot, or a shared group."""

    PRIVATE = "private"
    GROUP = "group"


@dataclass(frozen=True, slots=True)
class ChatRef:
    """A storable address of a chat: enough for the scheduler to reach it later."""

    platform: Platform
    chat_id: str
    kind: ChatKind
    thread_id: str | None = None

    @property
    def is_private(self) -> bool:
        """True for a one-to-one chat with the bot."""
        return self.kind is ChatKind.PRIVATE


@dataclass(frozen=True, slots=True)
class UserRef:
    """A person on one platform; identity is ``user_id`` alone, never the display name."""

    platform: Platform
    user_id: str
    display_name: str | None = field(default=None, compare=False, hash=False)


class EventKind(StrEnum):
    """What a person did."""

    COMMAND = "command"
    TEXT = "text"
    BUTTON = "button"
    MEMBER_JOINED = "member_joined"
    MEMBER_LEFT = "member_left"
    BOT_ADDED = "bot_added"


@dataclass(frozen=True, slots=True)
class IncomingEvent:
    """One thing a person did, translated from a platform update by an adapter.

    Attributes:
        kind: command, free text, button press or membership change.
        chat: where it happened.
        user: who did it.
        at: when it happened (timezone-aware UTC).
        text: the free text, or the raw command line for commands.
        command: the command name without slash or bot mention, for commands.
        args: the command's arguments.
        payload: the button payload, for button presses.
        addressed_to_bot: False for group chatter not meant for Mend.
        bot_username: the bot's own username where the platform has deep links to it
            (Telegram), so the core can build them; None elsewhere.
        sees_plain_text: whether Mend receives plain messages in this chat (always in a
            private chat; in a group only with Telegram's privacy mode off or Discord's
            message-content intent on), so the core can say how the code word works there.
    """

    kind: EventKind
    chat: ChatRef
    user: UserRef
    at: datetime
    text: str = ""
    command: str | None = None
    args: tuple[str, ...] = ()
    payload: str | None = None
    addressed_to_bot: bool = True
    bot_username: str | None = None
    sees_plain_text: bool = True


@dataclass(frozen=True, slots=True)
class Button:
    """One tappable choice under a message."""

    label: str
    payload: str


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with a reply, such as a person's own data export.

    Attributes:
        filename: the name the person sees, e.g. ``mend-export.json``.
        data: the file's bytes.
        mime: its media type.
    """

    filename: str
    data: bytes = field(repr=False)
    mime: str = "application/json"


@dataclass(frozen=True, slots=True)
class Reply:
    """What Mend says, and to whom.

    Attributes:
        text: the rendered text, ready to send.
        key: the content key the text came from (tests assert on keys, not wording).
        buttons: choices shown under the text.
        image: an optional image path shipped in ``content/``.
        attachment: an optional file sent with the text (always to one person privately).
        chat: send to this chat instead of the event's chat.
        private_to: send privately to this person (wins over ``chat``).
        toast: a brief notice only the person who acted should see: on a button press it
            becomes the press's toast (Telegram) or an ephemeral reply (Discord), never a
            message to a group.
        anonymous: in a group, the message must not show who made Mend say it (a break
            notice names no one): Discord then posts it as a plain channel message, not as
            the answer to someone's slash command or press, which would show their name.
    """

    text: str
    key: str
    buttons: tuple[Button, ...] = ()
    image: str | None = None
    attachment: Attachment | None = None
    chat: ChatRef | None = None
    private_to: UserRef | None = None
    toast: bool = False
    anonymous: bool = False
