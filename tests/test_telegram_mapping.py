"""Pure mapping from Telegram updates to core events."""

from __future__ import annotations

from telegram import Bot, Update, User

from bots.telegram.mapping import event_from_update, file_url
from core.types import ChatKind, EventKind
from tests import telegram_fakes as tg

ME = User(tg.BOT_ID, "Mend", is_bot=True, username=tg.BOT_USERNAME)


def events(data: dict[str, object]) -> list:  # type: ignore[type-arg]
    return event_from_update(Update.de_json(data, Bot(tg.TOKEN)), ME)


def test_deep_link_payload_on_start_reaches_the_core() -> None:
    [event] = events(tg.message_update(tg.user(42), tg.private_chat(42), "/start pair_ABC123"))
    assert event.kind is EventKind.COMMAND
    assert (event.command, event.args) == ("start", ("pair_ABC123",))
    assert event.chat.kind is ChatKind.PRIVATE and event.user.user_id == "42"


def test_group_command_for_this_bot_only() -> None:
    [mine] = events(tg.message_update(tg.user(1), tg.group_chat(), f"/help@{tg.BOT_USERNAME}"))
    [other] = events(tg.message_update(tg.user(1), tg.group_chat(), "/help@OtherBot"))
    assert mine.kind is EventKind.COMMAND and mine.addressed_to_bot
    assert other.kind is EventKind.TEXT and not other.addressed_to_bot


def test_messages_from_bots_are_ignored() -> None:
    robot = {**tg.user(5), "is_bot": True}
    assert events(tg.message_update(robot, tg.group_chat(), "/help")) == []


def test_file_url_follows_the_base_url() -> None:
    assert file_url("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"
    assert file_url("http://127.0.0.1:8081/bot/") == "http://127.0.0.1:8081/file/bot"
    assert file_url("http://local:8081/custom") == "http://local:8081/custom/file"


def test_messages_sent_on_behalf_of_a_chat_map_to_nothing() -> None:
    group = tg.group_chat()
    assert events(tg.anonymous_admin_update(group, "/start@MendTestBot")) == []
    assert events(tg.channel_sent_update(group, "/help")) == []
    assert events(tg.automatic_forward_update(group, "@MendTestBot hello")) == []
    # However ``from`` looks, a chat sender is never taken for the person in ``from``.
    as_person = tg.message_update(tg.user(7), group, "/help", sender_chat=group)
    assert events(as_person) == []
