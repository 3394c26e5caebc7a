"""Schedule: subscriptions, the delivery queue and record, scheduler heartbeats, and the
per-person quiet hours, /stop switch and unreachable mark.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("quiet_start", sa.String(5), nullable=True))
        batch.add_column(sa.Column("quiet_end", sa.String(5), nullable=True))
        batch.add_column(
            sa.Column("nudges_stopped", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("unreachable_since", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("local_time", sa.String(5), nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=True),
        sa.Column("chat_id", sa.String(64), nullable=True),
        sa.Column("chat_kind", sa.String(8), nullable=True),
        sa.Column("thread_id", sa.String(64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_subscriptions_user_id_users", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("user_id", "kind", name="uq_subscriptions_user_id"),
    )
    op.create_index("ix_subscriptions_due", "subscriptions", ["active", "next_due_at"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("item", sa.String(220), nullable=False),
        sa.Column("local_date", sa.String(10), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("chat_id", sa.String(64), nullable=True),
        sa.Column("chat_kind", sa.String(8), nullable=True),
        sa.Column("thread_id", sa.String(64), nullable=True),
        sa.Column("payload", sa.Text(), nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deliver_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_deliveries_user_id_users", ondelete="CASCADE"
        ),
        sa.UniqueConstraint("item", "local_date", name="uq_deliveries_item"),
    )
    op.create_index(
        "ix_deliveries_queue", "deliveries", ["status", "platform", "priority", "not_before"]
    )
    op.create_table(
        "scheduler_ticks",
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_tick_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("skipped_stale", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("node", name="pk_scheduler_ticks"),
    )


def downgrade() -> None:
    op.drop_table("scheduler_ticks")
    op.drop_index("ix_deliveries_queue", table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_index("ix_subscriptions_due", table_name="subscriptions")
    op.drop_table("subscriptions")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("unreachable_since")
        batch.drop_column("nudges_stopped")
        batch.drop_column("quiet_end")
        batch.drop_column("quiet_start")
