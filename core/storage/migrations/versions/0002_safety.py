"""Safety: safety mode on users, and each person's own safety plan (encrypted text).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("safety_mode", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("safety_since", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "safety_plan_items",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("item", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_safety_plan_items"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_safety_plan_items_user_id_users",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("user_id", "item", name="uq_safety_plan_items_user_id"),
    )


def downgrade() -> None:
    op.drop_table("safety_plan_items")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("safety_since")
        batch.drop_column("safety_mode")
