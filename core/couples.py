"""Couples as the core sees them: two partners, maybe a shared group, maybe a code word."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.types import ChatRef, UserRef


@dataclass(frozen=True, slots=True)
class Partner:
    """One person in a couple.

    Attributes:
        user: who they are on their platform.
        member_id: their ``users.id``; the stable id breaks and rituals record.
        name: the display name they last used, for notices that show each one's time.
        timezone: their IANA zone, or None for the default.
        safety_mode: True while Mend keeps to self-care and safety help for them.
    """

    user: UserRef
    member_id: int
    name: str | None
    timezone: str | None
    safety_mode: bool


@dataclass(frozen=True, slots=True)
class Couple:
    """Two paired people and what they share.

    Attributes:
        id: the couple's row.
        partners: both partners, in the order they joined.
        group: their linked group chat, or None.
        pending_link: a group one partner asked to link that the other has not confirmed.
        link_by: ``member_id`` of the partner who asked for ``pending_link``.
        codeword: their confirmed code word (lower case), or None.
        codeword_proposed: a word one partner proposed that the other has not confirmed.
        codeword_by: ``member_id`` of the partner who proposed it.
        created_at: when they paired.
    """

    id: int
    partners: tuple[Partner, Partner]
    group: ChatRef | None = None
    pending_link: ChatRef | None = None
    link_by: int | None = None
    codeword: str | None = None
    codeword_proposed: str | None = None
    codeword_by: int | None = None
    created_at: datetime | None = None

    def member(self, user: UserRef) -> Partner | None:
        """The partner who is ``user``, or None if ``user`` is not in this couple."""
        return next((p for p in self.partners if p.user == user), None)

    def partner_of(self, user: UserRef) -> Partner:
        """The other partner of ``user``.

        Raises:
            ValueError: if ``user`` is not in this couple.
        """
        first, second = self.partners
        if first.user == user:
            return second
        if second.user == user:
            return first
        raise ValueError("not a member of this couple")

    def by_member_id(self, member_id: int) -> Partner | None:
        """The partner with ``member_id``, or None."""
        return next((p for p in self.partners if p.member_id == member_id), None)


@dataclass(frozen=True, slots=True)
class Invite:
    """A pairing code.

    Attributes:
        code: what the partner types or opens.
        inviter: who asked for it.
        expires_at: when it stops working.
        used_at: when it was accepted, or None.
    """

    code: str
    inviter: UserRef
    expires_at: datetime
    used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Break:
    """A timed break called with ``/pause``.

    Attributes:
        id: the break's row.
        couple_id: the couple's row, or None for a person's break alone.
        caller_id: ``users.id`` of who called it.
        started_at: when it began.
        ends_at: when the way back opens (moves with "more time" and the 24-hour rule).
        ended_at: when it was closed (both ready, or a new break replaced it), or None.
        ready: ``users.id`` of partners who said they are ready.
        timer_seq: number of the current break-end timer.
        long_rule: True once the couple chose "let's continue tomorrow".
    """

    id: int
    couple_id: int | None
    caller_id: int
    started_at: datetime
    ends_at: datetime
    ended_at: datetime | None = None
    ready: frozenset[int] = frozenset()
    timer_seq: int = 0
    long_rule: bool = False

    def running(self, now: datetime) -> bool:
        """True while the break's time is still counting down."""
        return self.ended_at is None and now < self.ends_at

    def open(self) -> bool:
        """True until the break is closed (counting down, or the way back is open)."""
        return self.ended_at is None

    @property
    def timer_key(self) -> str:
        """The ``Timers`` key of the current break-end timer."""
        return f"break:{self.id}:{self.timer_seq}"
