"""Initial schema: users and conversation states.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("platform_user_id", sa.String(64), nullable=False),
        sa.Column("is_adult", sa.Boolean(), nullable=True),
        sa.Column("consented", sa.Boolean(), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=True),
        sa.Column("daily_time", sa.String(5), nullable=True),
        sa.Column("situation", sa.String(32), nullable=True),
        sa.Column("onboarded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("platform", "platform_user_id", name="uq_users_platform"),
    )
    op.create_table(
        "conversation_states",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("flow", sa.String(64), nullable=True),
        sa.Column("step", sa.String(64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_conversation_states"),
    )


def downgrade() -> None:
    op.drop_table("conversation_states")
    op.drop_table("users")
