"""An offline Bot API for driving the real PTB ``Application``, and Telegram update builders."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from telegram.request import BaseRequest, RequestData

BOT_ID = 777000
BOT_USERNAME = "MendTestBot"
TOKEN = "777000:TEST-token-not-real-abcdefghijklmnopqrstuv"

Responder = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


@dataclass
class Call:
    """One Bot API call as the bot made it, and how the fake answered it.

    ``status`` is the HTTP status served, or None when the call raised instead;
    ``result`` is the ``result`` of a successful answer (a sent message, ``True``…);
    ``files`` maps each uploaded part's name to its ``(filename, bytes, mime type)``.
    """

    method: str
    params: dict[str, Any]
    status: int | None = None
    result: Any = None
    files: dict[str, tuple[str, bytes, str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True if the fake answered this call successfully."""
        return self.status == 200


@dataclass
class RecordingRequest(BaseRequest):
    """Answers every Bot API method like Telegram would, records each call, never networks.

    ``refuse`` lists chat ids whose messages get a 403 (the person never started the bot);
    ``script`` holds per-method queues of raw responses served before the defaults (a
    ``None`` in a queue serves the default answer for that call);
    ``failures`` holds per-method queues of exceptions raised (like a dropped connection)
    before any response is served (a ``None`` lets that call through).
    """

    calls: list[Call] = field(default_factory=list)
    refuse: set[int] = field(default_factory=set)
    script: dict[str, list[tuple[int, dict[str, Any]] | None]] = field(default_factory=dict)
    failures: dict[str, list[BaseException | None]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    @property
    def read_timeout(self) -> float | None:
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
        api_method = url.rsplit("/", 1)[-1]
        params = dict(request_data.parameters) if request_data is not None else {}
        call = Call(api_method, params, files=_uploads(request_data))
        self.calls.append(call)
        failing = self.failures.get(api_method)
        failure = failing.pop(0) if failing else None
        if failure is not None:
            raise failure
        queued = self.script.get(api_method)
        scripted = queued.pop(0) if queued else None
        if scripted is not None:
            status, body = scripted
        else:
            status, body = self._default(api_method, params)
        call.status, call.result = status, body.get("result")
        return status, json.dumps(body).encode()

    def _default(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "getMe":
            return 200, ok(bot_user())
        if method in ("sendMessage", "sendPhoto", "sendDocument"):
            chat_id = int(params["chat_id"])
            if chat_id in self.refuse:
                return 403, {
                    "ok": False,
                    "error_code": 403,
                    "description": "Forbidden: bot can't initiate conversation with a user",
                }
            message = {
                "message_id": next(self._ids),
                "date": 1_770_000_000,
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup"},
                "from": bot_user(),
                "text": params.get("text", ""),
            }
            return 200, ok(message)
        if method == "getUpdates":
            return 200, ok([])
        return 200, ok(True)

    def sent(self, method: str = "sendMessage") -> list[dict[str, Any]]:
        """Parameters of every call of ``method``, in order."""
        return [c.params for c in self.calls if c.method == method]

    def delivered(self, method: str = "sendMessage") -> list[Call]:
        """Every call of ``method`` that succeeded, in order (failed attempts left out)."""
        return [c for c in self.calls if c.method == method and c.ok]

    def texts_to(self, chat_id: int) -> list[str]:
        """Texts of every message sent to ``chat_id``."""
        return [str(p["text"]) for p in self.sent() if int(p["chat_id"]) == chat_id]

    def methods(self) -> list[str]:
        """The Bot API methods called, in order."""
        return [c.method for c in self.calls]

    def clear(self) -> None:
        """Forget the calls recorded so far."""
        self.calls.clear()


def _uploads(request_data: RequestData | None) -> dict[str, tuple[str, bytes, str]]:
    """The files a call uploads, read out of its multipart data."""
    if request_data is None or not request_data.contains_files:
        return {}
    uploads: dict[str, tuple[str, bytes, str]] = {}
    for part, (filename, content, mime) in request_data.multipart_data.items():
        data = content if isinstance(content, bytes) else content.read()
        uploads[part] = (filename, data, mime)
    return uploads


def buttons(params: dict[str, Any]) -> list[tuple[str, str]]:
    """``(label, callback_data)`` of every inline button in a call's ``reply_markup``."""
    markup = params.get("reply_markup") or {}
    if isinstance(markup, str):
        markup = json.loads(markup)
    return [
        (str(b["text"]), str(b["callback_data"]))
        for row in markup.get("inline_keyboard", [])
        for b in row
    ]


def ok(result: Any) -> dict[str, Any]:
    return {"ok": True, "result": result}


def bot_user() -> dict[str, Any]:
    return {"id": BOT_ID, "is_bot": True, "first_name": "Mend", "username": BOT_USERNAME}


def user(user_id: int, first_name: str = "Sam") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}


def private_chat(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "type": "private", "first_name": "Sam"}


def group_chat(chat_id: int = -100123) -> dict[str, Any]:
    return {"id": chat_id, "type": "supergroup", "title": "Us two"}


_update_ids = itertools.count(1)


def message_update(
    sender: dict[str, Any], chat: dict[str, Any], text: str, **extra: Any
) -> dict[str, Any]:
    """A message update as Telegram sends it; commands get their bot_command entity."""
    message: dict[str, Any] = {
        "message_id": next(_update_ids),
        "date": 1_770_000_000,
        "chat": chat,
        "from": sender,
        "text": text,
        **extra,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return {"update_id": next(_update_ids), "message": message}


def press_update(
    sender: dict[str, Any], chat: dict[str, Any], data: str, message_id: int = 1
) -> dict[str, Any]:
    """A callback query update: ``sender`` pressed a button carrying ``data``."""
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": str(next(_update_ids)),
            "from": sender,
            "chat_instance": "ci-1",
            "data": data,
            "message": {
                "message_id": message_id,
                "date": 1_770_000_000,
                "chat": chat,
                "from": bot_user(),
                "text": "…",
            },
        },
    }


def reply_to_bot(chat: dict[str, Any], message_id: int = 1, text: str = "…") -> dict[str, Any]:
    """The ``reply_to_message`` extra for a message that replies to one of the bot's."""
    return {
        "reply_to_message": {
            "message_id": message_id,
            "date": 1_770_000_000,
            "chat": chat,
            "from": bot_user(),
            "text": text,
        }
    }


ANONYMOUS_ADMIN_ID = 1087968824
"""GroupAnonymousBot: the ``from`` of messages a group's anonymous admins send."""
CHANNEL_BOT_ID = 136817688
"""Channel_Bot: the ``from`` of messages sent on behalf of a channel."""
TELEGRAM_SERVICE_ID = 777000
"""The ``from`` of a linked channel's posts forwarded into its discussion group."""


def anonymous_admin_update(chat: dict[str, Any], text: str) -> dict[str, Any]:
    """A message an anonymous admin sent in ``chat``: it comes from the group itself."""
    sender = {
        "id": ANONYMOUS_ADMIN_ID,
        "is_bot": True,
        "first_name": "Group",
        "username": "GroupAnonymousBot",
    }
    return message_update(sender, chat, text, sender_chat=chat)


def channel_sent_update(chat: dict[str, Any], text: str) -> dict[str, Any]:
    """A message someone sent in ``chat`` as their channel rather than as themselves."""
    sender = {
        "id": CHANNEL_BOT_ID,
        "is_bot": True,
        "first_name": "Channel",
        "username": "Channel_Bot",
    }
    channel = {"id": -1009876543210, "type": "channel", "title": "Their channel"}
    return message_update(sender, chat, text, sender_chat=channel)


def automatic_forward_update(chat: dict[str, Any], text: str) -> dict[str, Any]:
    """A linked channel's post, forwarded automatically into its discussion group ``chat``."""
    sender = {"id": TELEGRAM_SERVICE_ID, "is_bot": False, "first_name": "Telegram"}
    channel = {"id": -1009876543210, "type": "channel", "title": "Their channel"}
    return message_update(sender, chat, text, sender_chat=channel, is_automatic_forward=True)


def service_update(sender: dict[str, Any], chat: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A service message (``new_chat_members=[...]``, ``left_chat_member={...}``), no text."""
    message = {
        "message_id": next(_update_ids),
        "date": 1_770_000_000,
        "chat": chat,
        "from": sender,
        **fields,
    }
    return {"update_id": next(_update_ids), "message": message}


def bot_added_update(adder: dict[str, Any], chat: dict[str, Any]) -> dict[str, Any]:
    """The bot was added to a group by ``adder``."""
    return {
        "update_id": next(_update_ids),
        "my_chat_member": {
            "chat": chat,
            "from": adder,
            "date": 1_770_000_000,
            "old_chat_member": {"user": bot_user(), "status": "left"},
            "new_chat_member": {"user": bot_user(), "status": "member"},
        },
    }
