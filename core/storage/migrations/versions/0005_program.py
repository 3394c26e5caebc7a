"""The repair programme: phase and daily-step plan on users, the action log, promises,
appreciations and hurtful moments, weekly reflections, builder notes and quiz outcomes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _person(table: str) -> list[sa.schema.SchemaItem]:
    return [
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=f"fk_{table}_user_id_users", ondelete="CASCADE"
        ),
    ]


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("phase", sa.SmallInteger(), nullable=True))
        batch.add_column(_when("phase_since", nullable=True))
        batch.add_column(sa.Column("plan", sa.Text(), nullable=True))
        batch.add_column(sa.Column("recent", sa.Text(), nullable=True))
    op.create_table(
        "action_log",
        *_person("action_log"),
        sa.Column("local_date", sa.String(10), nullable=False),
        sa.Column("action", sa.String(24), nullable=False),
        sa.Column("outcome", sa.String(12), nullable=False),
        _when("at"),
    )
    op.create_index("ix_action_log_user", "action_log", ["user_id", "local_date"])
    op.create_table(
        "promises",
        *_person("promises"),
        sa.Column("local_date", sa.String(10), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("kept", sa.Boolean(), nullable=True),
        _when("made_at"),
        _when("answered_at", nullable=True),
        sa.UniqueConstraint("user_id", "local_date", name="uq_promises_user_id"),
    )
    op.create_table(
        "moments",
        *_person("moments"),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("local_date", sa.String(10), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        _when("at"),
    )
    op.create_index("ix_moments_user", "moments", ["user_id", "local_date"])
    op.create_table(
        "journal_entries",
        *_person("journal_entries"),
        sa.Column("week", sa.String(8), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("win", sa.Text(), nullable=True),
        sa.Column("challenge", sa.Text(), nullable=True),
        sa.Column("next_step", sa.Text(), nullable=True),
        _when("at"),
        sa.UniqueConstraint("user_id", "week", name="uq_journal_entries_user_id"),
    )
    op.create_table(
        "program_notes",
        *_person("program_notes"),
        sa.Column("note", sa.String(32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        _when("at"),
        sa.UniqueConstraint("user_id", "note", name="uq_program_notes_user_id"),
    )
    op.create_table(
        "quiz_results",
        *_person("quiz_results"),
        sa.Column("quiz", sa.String(24), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        _when("at"),
    )
    op.create_index("ix_quiz_results_user", "quiz_results", ["user_id", "quiz"])


def downgrade() -> None:
    op.drop_index("ix_quiz_results_user", table_name="quiz_results")
    op.drop_table("quiz_results")
    op.drop_table("program_notes")
    op.drop_table("journal_entries")
    op.drop_index("ix_moments_user", table_name="moments")
    op.drop_table("moments")
    op.drop_table("promises")
    op.drop_index("ix_action_log_user", table_name="action_log")
    op.drop_table("action_log")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("recent")
        batch.drop_column("plan")
        batch.drop_column("phase_since")
        batch.drop_column("phase")
