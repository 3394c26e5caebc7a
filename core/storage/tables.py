"""Table definitions: the single source for repositories and migrations."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
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
    Column("onboarded_at", DateTime(timezone=True), nullable=True),
    Column("safety_mode", Boolean, nullable=False, default=False, server_default=false()),
    Column("safety_since", DateTime(timezone=True), nullable=True),
    Column("quiet_start", String(5), nullable=True),
    Column("quiet_end", String(5), nullable=True),
    Column("nudges_stopped", Boolean, nullable=False, default=False, server_default=false()),
    Column("unreachable_since", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
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
    Column("updated_at", DateTime(timezone=True), nullable=False),
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
    Column("created_at", DateTime(timezone=True), nullable=False),
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
    Column("next_due_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
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
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("not_before", DateTime(timezone=True), nullable=False),
    Column("deliver_by", DateTime(timezone=True), nullable=True),
    Column("claimed_at", DateTime(timezone=True), nullable=True),
    Column("settled_at", DateTime(timezone=True), nullable=True),
    Column("reason", String(16), nullable=True),
    UniqueConstraint("item", "local_date"),
    Index("ix_deliveries_queue", "status", "platform", "priority", "not_before"),
)
"""The send queue and the record of every send, one row per (item, local date).

An item is ``sub:<subscription id>`` or ``timer:<key>``. The unique key makes a second
send of the same item on the same local day impossible, even after a crash between the
platform call and the commit. ``payload`` is JSON of identifiers and choices, never free
text. ``status`` is one of ``queued``, ``sending``, ``sent``, ``unknown``, ``refused``,
``skipped`` (``reason`` says why) or ``failed``."""

scheduler_ticks = Table(
    "scheduler_ticks",
    metadata,
    Column("node", String(64), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("last_tick_at", DateTime(timezone=True), nullable=True),
    Column("skipped_stale", Integer, nullable=False, default=0),
)
"""One row per running scheduler process: when it started and last ticked (for
``mend scheduler status``). Nothing about any person."""

NO_PERSONAL_DATA: tuple[Table, ...] = (scheduler_ticks,)
"""Tables that hold nothing about people, so no personal-data hook claims them."""
