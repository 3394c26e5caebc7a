"""Table definitions: the single source for repositories and migrations."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

from core.storage.column_types import UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("platform", String(16), nullable=False),
    Column("platform_user_id", String(64), nullable=False),
    Column("is_adult", Boolean, nullable=True),
    Column("consented", Boolean, nullable=False, default=False),
    Column("timezone", String(64), nullable=True),
    Column("daily_time", String(5), nullable=True),
    Column("situation", String(32), nullable=True),
    Column("onboarded_at", UtcDateTime(), nullable=True),
    Column("safety_mode", Boolean, nullable=False, default=False, server_default=false()),
    Column("safety_since", UtcDateTime(), nullable=True),
    Column("quiet_start", String(5), nullable=True),
    Column("quiet_end", String(5), nullable=True),
    Column("nudges_stopped", Boolean, nullable=False, default=False, server_default=false()),
    Column("unreachable_since", UtcDateTime(), nullable=True),
    Column("phase", SmallInteger, nullable=True),
    Column("phase_since", UtcDateTime(), nullable=True),
    Column("plan", Text, nullable=True),
    Column("recent", Text, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("platform", "platform_user_id"),
)
"""One row per person per platform: their answers from set-up and settings."""

conversation_states = Table(
    "conversation_states",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("flow", String(64), nullable=True),
    Column("step", String(64), nullable=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)
"""Where each conversation stands, by scope key; ``flow`` NULL means idle.

Rows are never deleted when a flow ends, so ``version`` only ever grows and a stale
writer can never match a row that was recreated under it.
"""

ENCRYPTED = {"encrypted": True}
"""Column ``info`` marking free text a person wrote: stored only as ciphertext, rotated by
``mend rotate-keys``, purged after the retention period."""

safety_plan_items = Table(
    "safety_plan_items",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("item", String(32), nullable=False),
    Column("text", Text, nullable=False, info=ENCRYPTED),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("user_id", "item"),
)
"""A person's own short safety plan, one row per part, in their words (encrypted)."""

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("platform", String(16), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("local_time", String(5), nullable=False),
    Column("weekday", SmallInteger, nullable=True),
    Column("chat_id", String(64), nullable=True),
    Column("chat_kind", String(8), nullable=True),
    Column("thread_id", String(64), nullable=True),
    Column("active", Boolean, nullable=False),
    Column("next_due_at", UtcDateTime(), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("user_id", "kind"),
    Index("ix_subscriptions_due", "active", "next_due_at"),
)
"""Recurring items (daily action, evening follow-up, weekly check-in): one row per person
and kind, with the IANA zone and local time it follows and its next due instant in UTC.
``chat_id`` NULL means the person's private chat; ``weekday`` is set for weekly kinds."""

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("item", String(220), nullable=False),
    Column("local_date", String(10), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("priority", SmallInteger, nullable=False),
    Column("platform", String(16), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("chat_id", String(64), nullable=True),
    Column("chat_kind", String(8), nullable=True),
    Column("thread_id", String(64), nullable=True),
    Column("payload", Text, nullable=True),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("due_at", UtcDateTime(), nullable=False),
    Column("not_before", UtcDateTime(), nullable=False),
    Column("deliver_by", UtcDateTime(), nullable=True),
    Column("claimed_at", UtcDateTime(), nullable=True),
    Column("settled_at", UtcDateTime(), nullable=True),
    Column("reason", String(16), nullable=True),
    UniqueConstraint("item", "local_date"),
    Index("ix_deliveries_queue", "status", "platform", "priority", "not_before"),
)
"""The send queue and the record of every send, one row per (item, local date).

An item is ``sub:<subscription id>`` or ``timer:<key>``. The unique key makes a second
send of the same item on the same local day impossible, even after a crash between the
platform call and the commit. ``payload`` is JSON of identifiers and choices, never free
text. ``status`` is one of ``queued``, ``claimed``, ``sending``, ``sent``, ``unknown``,
``refused``, ``skipped`` (``reason`` says why) or ``failed``."""

scheduler_ticks = Table(
    "scheduler_ticks",
    metadata,
    Column("node", String(64), primary_key=True),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("last_tick_at", UtcDateTime(), nullable=True),
    Column("skipped_stale", Integer, nullable=False, default=0),
)
"""One row per running scheduler process: when it started and last ticked (for
``mend scheduler status``). Nothing about any person."""

NO_PERSONAL_DATA: tuple[Table, ...] = (scheduler_ticks,)
"""Tables that hold nothing about people, so no personal-data hook claims them."""

couples = Table(
    "couples",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("group_platform", String(16), nullable=True),
    Column("group_chat_id", String(64), nullable=True),
    Column("group_thread_id", String(64), nullable=True),
    Column("group_linked_at", UtcDateTime(), nullable=True),
    Column("link_platform", String(16), nullable=True),
    Column("link_chat_id", String(64), nullable=True),
    Column("link_thread_id", String(64), nullable=True),
    Column("link_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    Column("codeword", String(32), nullable=True),
    Column("codeword_proposed", String(32), nullable=True),
    Column("codeword_by", Integer, ForeignKey("users.id", ondelete="SET NULL"), nullable=True),
    UniqueConstraint("group_platform", "group_chat_id"),
)
"""Two paired people and, once both agreed, their shared group chat and code word.

``link_*`` is a group one partner asked to link and the other has not confirmed yet;
``codeword_proposed`` a word one partner proposed and the other has not confirmed yet.
"""

couple_members = Table(
    "couple_members",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("couple_id", Integer, ForeignKey("couples.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=True),
    Column("joined_at", UtcDateTime(), nullable=False),
    UniqueConstraint("user_id"),
    Index("ix_couple_members_couple", "couple_id"),
)
"""Who belongs to which couple: unique per person, so nobody has two active partners.

``name`` is the display name the person last used, for neutral group notices that
show each partner's own return time.
"""

pair_invites = Table(
    "pair_invites",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("used_at", UtcDateTime(), nullable=True),
    Index("ix_pair_invites_user", "user_id"),
)
"""Single-use pairing codes, valid 48 hours; a used code is kept (marked) until it expires,
so a second try gets "already used" rather than "unknown"."""

breaks = Table(
    "breaks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("couple_id", Integer, ForeignKey("couples.id", ondelete="CASCADE"), nullable=True),
    Column("caller_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("ends_at", UtcDateTime(), nullable=False),
    Column("ended_at", UtcDateTime(), nullable=True),
    Column("ready", String(64), nullable=False, default=""),
    Column("timer_seq", Integer, nullable=False, default=0),
    Column("long_rule", Boolean, nullable=False, default=False),
    Index("ix_breaks_caller", "caller_id", "started_at"),
    Index("ix_breaks_couple", "couple_id", "ended_at"),
)
"""Timed breaks (``/pause``): a couple's, or one person's alone (``couple_id`` NULL).

``ready`` lists the ``users.id`` of partners who said they are ready (comma-separated);
``timer_seq`` numbers the break-end timer so an extension replaces it cleanly.
"""

rituals = Table(
    "rituals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("couple_id", Integer, ForeignKey("couples.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("opened_at", UtcDateTime(), nullable=False),
    Column("closed_at", UtcDateTime(), nullable=True),
    Index("ix_rituals_couple", "couple_id", "kind", "closed_at"),
)
"""A round of a shared ritual (weekly check-in, repair after a hard fight)."""

ritual_answers = Table(
    "ritual_answers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ritual_id", Integer, ForeignKey("rituals.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("item", String(32), nullable=False),
    Column("text", Text, nullable=False, info=ENCRYPTED),
    Column("shared", Boolean, nullable=False, default=False),
    Column("created_at", UtcDateTime(), nullable=False),
    UniqueConstraint("ritual_id", "user_id", "item"),
)
"""One partner's private answer in a ritual round (encrypted), and whether they chose to
share it with the couple's group."""

ritual_turns = Table(
    "ritual_turns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ritual_id", Integer, ForeignKey("rituals.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("finished_at", UtcDateTime(), nullable=False),
    UniqueConstraint("ritual_id", "user_id"),
)
"""Which partner has finished their part of a ritual round, and when."""


# ---------------------------------------------------------------------- the repair programme


def _person() -> Column[int]:
    """The ``user_id`` column of a row that belongs to one person and goes with them."""
    return Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False)


action_log = Table(
    "action_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _person(),
    Column("local_date", String(10), nullable=False),
    Column("action", String(24), nullable=False),
    Column("outcome", String(12), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Index("ix_action_log_user", "user_id", "local_date"),
)
"""What a person did with a daily step (done, skipped, swapped), by their local date."""

promises = Table(
    "promises",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _person(),
    Column("local_date", String(10), nullable=False),
    Column("text", Text, nullable=False, info=ENCRYPTED),
    Column("kept", Boolean, nullable=True),
    Column("made_at", UtcDateTime(), nullable=False),
    Column("answered_at", UtcDateTime(), nullable=True),
    UniqueConstraint("user_id", "local_date"),
)
"""One small promise a day (``/promise``), in the person's words, and whether it was kept."""

moments = Table(
    "moments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _person(),
    Column("kind", String(12), nullable=False),
    Column("local_date", String(10), nullable=False),
    Column("text", Text, nullable=True, info=ENCRYPTED),
    Column("at", UtcDateTime(), nullable=False),
    Index("ix_moments_user", "user_id", "local_date"),
)
"""Appreciations (``/appreciate``) and hurtful moments (``/ouch``), for the 5:1 balance."""

journal_entries = Table(
    "journal_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _person(),
    Column("week", String(8), nullable=False),
    Column("score", SmallInteger, nullable=False),
    Column("win", Text, nullable=True, info=ENCRYPTED),
    Column("challenge", Text, nullable=True, info=ENCRYPTED),
    Column("next_step", Text, nullable=True, info=ENCRYPTED),
    Column("at", UtcDateTime(), nullable=False),
    UniqueConstraint("user_id", "week"),
)
"""The weekly reflection (``/journal``): a score from 1 to 10 and three short answers."""

program_notes = Table(
    "program_notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _person(),
    Column("note", String(32), nullable=False),
    Column("text", Text, nullable=False, info=ENCRYPTED),
    Column("at", UtcDateTime(), nullable=False),
    UniqueConstraint("user_id", "note"),
)
"""Answers kept between the steps of a builder (``/apology``, ``/journal``), encrypted,
removed when the builder finishes."""

quiz_results = Table(
    "quiz_results",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    _person(),
    Column("quiz", String(24), nullable=False),
    Column("outcome", String(32), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Index("ix_quiz_results_user", "user_id", "quiz"),
)
"""The outcome of a self-assessment or a lens quiz (never the single answers)."""
