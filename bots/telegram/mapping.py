"""Pure translation between python-telegram-bot objects and core types."""

from __future__ import annotations

import html
import logging
import re
from dataclasses import replace
from datetime import UTC, datetime

from telegram import (
    BotCommand,
    Chat,
    ChatMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
    User,
)

from bots.rendering import split_text
from core.content import Content
from core.text_input import event_from_text
from core.types import Button, ChatKind, ChatRef, EventKind, IncomingEvent, Platform, UserRef

log = logging.getLogger(__name__)

MESSAGE_LIMIT = 4096
"""Telegram's limit on a message's text, counted after HTML entities are parsed."""

_ABSENT = (ChatMember.LEFT, ChatMember.BANNED)
_PRESENT = (ChatMember.MEMBER, ChatMember.ADMINISTRATOR, ChatMember.OWNER, ChatMember.RESTRICTED)


def user_ref(user: User) -> UserRef:
    """The core identity of a Telegram user (numeric id; first name only for greeting)."""
    return UserRef(Platform.TELEGRAM, str(user.id), display_name=user.first_name or None)


def chat_ref(chat: Chat, thread_id: int | None = None) -> ChatRef:
    """The storable address of a Telegram chat (and forum topic, if any)."""
    kind = ChatKind.PRIVATE if chat.type == Chat.PRIVATE else ChatKind.GROUP
    thread = str(thread_id) if thread_id is not None else None
    return ChatRef(Platform.TELEGRAM, str(chat.id), kind, thread_id=thread)


def private_chat(user: UserRef) -> ChatRef:
    """A person's private chat with the bot: in Telegram its id is the user's id."""
    return ChatRef(Platform.TELEGRAM, user.user_id, ChatKind.PRIVATE)


def topic_of(message: object) -> int | None:
    """The forum topic a message belongs to; reply chains in ordinary groups are not topics."""
    if isinstance(message, Message) and message.is_topic_message:
        return message.message_thread_id
    return None


def _when(message: Message | None) -> datetime:
    return message.date if message is not None and message.date else datetime.now(UTC)


def _addressed(message: Message, me: User) -> bool:
    """In a group: a reply to the bot or a text that mentions it."""
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == me.id:
        return True
    pattern = _mention(me)
    return pattern is not None and pattern.search(message.text or "") is not None


def _mention(me: User) -> re.Pattern[str] | None:
    """``@username`` as a whole word (``@MendBot_fan`` is someone else)."""
    if not me.username:
        return None
    return re.compile(rf"@{re.escape(me.username)}(?![A-Za-z0-9_])", re.IGNORECASE)


def _without_mention(text: str, me: User) -> str:
    pattern = _mention(me)
    if pattern is None or text.startswith("/"):
        return text
    return pattern.sub("", text, count=1).strip(" ,:")


def _on_behalf_of_a_chat(message: Message) -> bool:
    """True for a message no person can be held to: sent as a chat, not as someone.

    That is an anonymous group admin (``sender_chat`` is the group itself, ``from`` the
    placeholder GroupAnonymousBot), a post sent as a channel (``from`` is Channel_Bot), or a
    linked channel's post forwarded automatically into its discussion group. None of them
    can act as a partner.
    """
    return message.sender_chat is not None or bool(message.is_automatic_forward)


def event_from_update(update: Update, me: User) -> list[IncomingEvent]:
    """Translate one update into the core events it carries (none for what Mend ignores).

    Each event carries the bot's username (for deep links) and whether Mend sees plain
    group messages there (privacy mode off, ``can_read_all_group_messages`` in ``getMe``).
    """
    return [
        replace(
            event,
            bot_username=me.username or None,
            sees_plain_text=event.chat.is_private or bool(me.can_read_all_group_messages),
        )
        for event in _events(update, me)
    ]


def _events(update: Update, me: User) -> list[IncomingEvent]:
    if update.callback_query is not None:
        query = update.callback_query
        message = query.message if isinstance(query.message, Message) else None
        if message is None or query.data is None:
            return []
        return [
            IncomingEvent(
                kind=EventKind.BUTTON,
                chat=chat_ref(message.chat, topic_of(message)),
                user=user_ref(query.from_user),
                at=datetime.now(UTC),
                payload=query.data,
            )
        ]
    if update.my_chat_member is not None:
        change = update.my_chat_member
        joined = (
            change.old_chat_member.status in _ABSENT and change.new_chat_member.status in _PRESENT
        )
        if joined and change.chat.type != Chat.PRIVATE:
            return [
                IncomingEvent(
                    kind=EventKind.BOT_ADDED,
                    chat=chat_ref(change.chat),
                    user=user_ref(change.from_user),
                    at=change.date,
                )
            ]
        return []
    message = update.message
    if message is not None and _on_behalf_of_a_chat(message):
        log.debug("ignored a message sent on behalf of a chat")
        return []
    if message is None or message.from_user is None or message.from_user.is_bot:
        return []
    chat = chat_ref(message.chat, topic_of(message))
    if message.new_chat_members:
        return [
            IncomingEvent(
                kind=EventKind.MEMBER_JOINED, chat=chat, user=user_ref(m), at=_when(message)
            )
            for m in message.new_chat_members
            if not m.is_bot
        ]
    if message.left_chat_member is not None:
        left = message.left_chat_member
        if left.is_bot:
            return []
        return [
            IncomingEvent(
                kind=EventKind.MEMBER_LEFT, chat=chat, user=user_ref(left), at=_when(message)
            )
        ]
    text = message.text or message.caption or ""
    addressed = chat.is_private or text.startswith("/") or _addressed(message, me)
    return [
        event_from_text(
            chat,
            user_ref(message.from_user),
            _without_mention(text, me),
            _when(message),
            bot_username=me.username,
            addressed_to_bot=addressed,
        )
    ]


def keyboard(buttons: tuple[Button, ...]) -> InlineKeyboardMarkup | None:
    """One inline button per row (labels stay readable on a phone), or None."""
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.label, callback_data=b.payload)] for b in buttons]
    )


def render_text(text: str) -> list[str]:
    """Split at Telegram's limit on paragraph boundaries, then HTML-escape each piece.

    Everything is escaped: content texts carry no markup, and values that came from a
    person (a name, a time zone they typed) must never become formatting.
    """
    return [html.escape(piece, quote=False) for piece in split_text(text, MESSAGE_LIMIT)]


def bot_commands(content: Content) -> tuple[list[BotCommand], list[BotCommand]]:
    """The command menus for private chats and for groups, from the content's command list."""
    texts = content.texts
    private = [
        BotCommand(c.name, texts.render(c.description))
        for c in content.commands.values()
        if c.where != "group"
    ]
    group = [
        BotCommand(c.name, texts.render(c.description))
        for c in content.commands.values()
        if c.where != "private"
    ]
    return private, group


def file_url(base_url: str) -> str:
    """The Bot API file URL that goes with ``base_url`` (``…/bot`` → ``…/file/bot``)."""
    base = base_url.rstrip("/")
    return base[: -len("/bot")] + "/file/bot" if base.endswith("/bot") else base + "/file"
