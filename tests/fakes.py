"""Test doubles: a clock that only moves when told, and event builders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from core.crypto import Cipher, generate_key
from core.text_input import event_from_text
from core.types import ChatKind, ChatRef, EventKind, IncomingEvent, Platform, UserRef

TEST_CIPHER = Cipher([generate_key()])
"""One throwaway key for every test service: free text is still really encrypted."""


class FakeClock:
    """A clock that stands still until ``advance`` is called."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 3, 1, 9, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


def person(
    user_id: str = "1001", name: str | None = "Sam", platform: Platform = Platform.TELEGRAM
) -> UserRef:
    return UserRef(platform, user_id, display_name=name)


def private_chat(user: UserRef) -> ChatRef:
    return ChatRef(user.platform, user.user_id, ChatKind.PRIVATE)


def group_chat(chat_id: str = "-500", platform: Platform = Platform.TELEGRAM) -> ChatRef:
    return ChatRef(platform, chat_id, ChatKind.GROUP)


def said(
    user: UserRef, text: str, chat: ChatRef | None = None, *, addressed: bool = True
) -> IncomingEvent:
    """What ``user`` typed, parsed the way adapters parse it."""
    return event_from_text(
        chat or private_chat(user),
        user,
        text,
        datetime(2026, 3, 1, tzinfo=UTC),
        addressed_to_bot=addressed,
    )


def pressed(user: UserRef, payload: str, chat: ChatRef | None = None) -> IncomingEvent:
    return IncomingEvent(
        kind=EventKind.BUTTON,
        chat=chat or private_chat(user),
        user=user,
        at=datetime(2026, 3, 1, tzinfo=UTC),
        payload=payload,
    )
