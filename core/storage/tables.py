"""Table definitions: the single source for repositories and migrations."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
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
