"""Fakes for scheduler tests: a recording outbox with scripted failures, a plain renderer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time

from sqlalchemy import Connection

from core.outbox import DeliveryRefused
from core.profile import Profile
from core.schedule.kinds import ItemKind
from core.storage import Database, UserRepository
from core.storage.deliveries import Claimed, TimerRepository
from core.storage.subscriptions import SubscriptionRepository
from core.types import ChatKind, ChatRef, Reply, UserRef
from tests.fakes import person

SETUP_DAY = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


@dataclass
class Sent:
    chat: ChatRef
    reply: Reply
    nonce: str | None


@dataclass
class ScriptedOutbox:
    """Records sends in order; ``script`` may raise for a chat id before anything is sent."""

    sent: list[Sent] = field(default_factory=list)
    script: dict[str, list[Exception]] = field(default_factory=dict)
    after_send: dict[str, list[Exception]] = field(default_factory=dict)
    on_send: Callable[[Sent], None] | None = None

    async def send(self, chat: ChatRef, reply: Reply, *, nonce: str | None = None) -> None:
        failures = self.script.get(chat.chat_id)
        if failures:
            raise failures.pop(0)
        record = Sent(chat, reply, nonce)
        self.sent.append(record)
        if self.on_send is not None:
            self.on_send(record)
        late = self.after_send.get(chat.chat_id)
        if late:
            raise late.pop(0)

    async def open_private(self, user: UserRef) -> ChatRef:
        if user.user_id.startswith("closed"):
            raise DeliveryRefused("DMs closed")
        return ChatRef(user.platform, user.user_id, ChatKind.PRIVATE)

    def chats(self) -> list[str]:
        return [s.chat.chat_id for s in self.sent]


@dataclass(frozen=True)
class Rendered:
    reply: Reply | None
    reason: str | None = None


class PlainRenderer:
    """Says the kind; skips people in safety mode or who said /stop."""

    def render(self, item: Claimed, now: datetime) -> Rendered:
        profile = item.profile
        if profile is not None and item.kind is not ItemKind.BREAK_END:
            if profile.safety_mode:
                return Rendered(None, "safety_mode")
            if profile.nudges_stopped:
                return Rendered(None, "stopped")
        return Rendered(Reply(text=f"{item.kind} {item.local_date}", key=f"test.{item.kind}"))


def onboarded(user_id: str, zone: str, at: time, **changes: object) -> Profile:
    profile = Profile(
        user=person(user_id),
        is_adult=True,
        consented=True,
        timezone=zone,
        daily_time=at,
        onboarded_at=SETUP_DAY,
    )
    return replace(profile, **changes)  # type: ignore[arg-type]


async def enrol(database: Database, profile: Profile, now: datetime) -> None:
    """Store the profile and make its morning subscription follow it."""

    def work(connection: Connection) -> None:
        users = UserRepository(connection)
        users.create(profile.user, now)
        users.save(profile, now)
        SubscriptionRepository(connection).follow(profile, "UTC", now)

    await database.run(work)


async def due_of(database: Database, user: UserRef, kind: ItemKind = ItemKind.MORNING) -> datetime:
    found = await database.run(lambda c: SubscriptionRepository(c).due_at(user, kind))
    assert found is not None
    return found


async def set_timer(
    database: Database,
    key: str,
    at: datetime,
    kind: ItemKind,
    user: UserRef,
    payload: dict[str, str] | None = None,
) -> None:
    """Ask for a timed item through the Timers port, in its own transaction."""
    await database.run(
        lambda c: TimerRepository(c).schedule(key, at, payload or {}, kind=kind, user=user)
    )
