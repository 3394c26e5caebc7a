"""``mend scheduler status``: what is due, when the clock last ticked, what waits, what went."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from core.storage.deliveries import queue_counts
from core.storage.repositories import aware
from core.storage.tables import deliveries, scheduler_ticks, subscriptions

__all__ = ["SchedulerStatus", "read_status"]


@dataclass(frozen=True, slots=True)
class SchedulerStatus:
    """A snapshot of the schedule.

    Attributes:
        due_now: active subscriptions due but not yet queued, by kind.
        due_next_hour: active subscriptions due within the hour, by kind.
        last_tick: the latest tick of any process, or None if none ever ticked.
        backlog: sends queued and due now, by platform.
        later: sends queued for later (timers).
        sending: sends claimed and not yet recorded.
        today: sends settled since midnight UTC, by status.
    """

    due_now: dict[str, int]
    due_next_hour: dict[str, int]
    last_tick: datetime | None
    backlog: dict[str, int]
    later: int
    sending: int
    today: dict[str, int]

    def lines(self, now: datetime) -> list[str]:
        """The snapshot as lines for a terminal."""

        def counts(values: dict[str, int]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(values.items())) or "none"

        tick = "never"
        if self.last_tick is not None:
            tick = f"{self.last_tick.isoformat(timespec='seconds')} ({_ago(now - self.last_tick)})"
        return [
            f"due now:          {counts(self.due_now)}",
            f"due next hour:    {counts(self.due_next_hour)}",
            f"last tick:        {tick}",
            f"backlog:          {counts(self.backlog)}",
            f"timers waiting:   {self.later}",
            f"sending:          {self.sending}",
            f"deliveries today: {counts(self.today)}",
        ]


def _ago(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def _by_kind(connection: Connection, until: datetime) -> dict[str, int]:
    rows = connection.execute(
        select(subscriptions.c.kind, func.count())
        .where(subscriptions.c.active.is_(True), subscriptions.c.next_due_at <= until)
        .group_by(subscriptions.c.kind)
    ).all()
    return {str(kind): int(count) for kind, count in rows}


def read_status(connection: Connection, now: datetime) -> SchedulerStatus:
    """Read the snapshot in one transaction."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    due_now = _by_kind(connection, now)
    soon = _by_kind(connection, now + timedelta(hours=1))
    last = aware(connection.execute(select(func.max(scheduler_ticks.c.last_tick_at))).scalar())
    backlog_rows = connection.execute(
        select(deliveries.c.platform, func.count())
        .where(deliveries.c.status == "queued", deliveries.c.not_before <= now)
        .group_by(deliveries.c.platform)
    ).all()
    later = connection.execute(
        select(func.count()).where(deliveries.c.status == "queued", deliveries.c.not_before > now)
    ).scalar_one()
    counts = queue_counts(connection, midnight)
    sending = counts.pop("sending", 0) + counts.pop("claimed", 0)
    counts.pop("queued", None)
    return SchedulerStatus(
        due_now=due_now,
        due_next_hour={k: v - due_now.get(k, 0) for k, v in soon.items() if v - due_now.get(k, 0)},
        last_tick=last,
        backlog={str(p): int(c) for p, c in backlog_rows},
        later=int(later),
        sending=sending,
        today=counts,
    )
