"""Couples: pairing codes, members, the linked group and code word, breaks (/pause) and
shared ritual rounds (weekly check-in, repair).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _user_fk(table: str, column: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["users.id"], name=f"fk_{table}_{column}_users", ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "couples",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        _when("created_at"),
        sa.Column("group_platform", sa.String(16), nullable=True),
        sa.Column("group_chat_id", sa.String(64), nullable=True),
        sa.Column("group_thread_id", sa.String(64), nullable=True),
        _when("group_linked_at", nullable=True),
        sa.Column("link_platform", sa.String(16), nullable=True),
        sa.Column("link_chat_id", sa.String(64), nullable=True),
        sa.Column("link_thread_id", sa.String(64), nullable=True),
        sa.Column("link_by", sa.Integer(), nullable=True),
        sa.Column("codeword", sa.String(32), nullable=True),
        sa.Column("codeword_proposed", sa.String(32), nullable=True),
        sa.Column("codeword_by", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_couples"),
        _user_fk("couples", "link_by", "SET NULL"),
        _user_fk("couples", "codeword_by", "SET NULL"),
        sa.UniqueConstraint("group_platform", "group_chat_id", name="uq_couples_group_platform"),
    )
    op.create_table(
        "couple_members",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("couple_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(64), nullable=True),
        _when("joined_at"),
        sa.PrimaryKeyConstraint("id", name="pk_couple_members"),
        sa.ForeignKeyConstraint(
            ["couple_id"],
            ["couples.id"],
            name="fk_couple_members_couple_id_couples",
            ondelete="CASCADE",
        ),
        _user_fk("couple_members", "user_id", "CASCADE"),
        sa.UniqueConstraint("user_id", name="uq_couple_members_user_id"),
    )
    op.create_index("ix_couple_members_couple", "couple_members", ["couple_id"])
    op.create_table(
        "pair_invites",
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        _when("created_at"),
        _when("expires_at"),
        _when("used_at", nullable=True),
        sa.PrimaryKeyConstraint("code", name="pk_pair_invites"),
        _user_fk("pair_invites", "user_id", "CASCADE"),
    )
    op.create_index("ix_pair_invites_user", "pair_invites", ["user_id"])
    op.create_table(
        "breaks",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("couple_id", sa.Integer(), nullable=True),
        sa.Column("caller_id", sa.Integer(), nullable=False),
        _when("started_at"),
        _when("ends_at"),
        _when("ended_at", nullable=True),
        sa.Column("ready", sa.String(64), nullable=False),
        sa.Column("timer_seq", sa.Integer(), nullable=False),
        sa.Column("long_rule", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_breaks"),
        sa.ForeignKeyConstraint(
            ["couple_id"], ["couples.id"], name="fk_breaks_couple_id_couples", ondelete="CASCADE"
        ),
        _user_fk("breaks", "caller_id", "CASCADE"),
    )
    op.create_index("ix_breaks_caller", "breaks", ["caller_id", "started_at"])
    op.create_index("ix_breaks_couple", "breaks", ["couple_id", "ended_at"])
    op.create_table(
        "rituals",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("couple_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        _when("opened_at"),
        _when("closed_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_rituals"),
        sa.ForeignKeyConstraint(
            ["couple_id"], ["couples.id"], name="fk_rituals_couple_id_couples", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_rituals_couple", "rituals", ["couple_id", "kind", "closed_at"])
    for table, columns in (
        (
            "ritual_answers",
            [
                sa.Column("item", sa.String(32), nullable=False),
                sa.Column("text", sa.Text(), nullable=False),
                sa.Column("shared", sa.Boolean(), nullable=False),
                _when("created_at"),
            ],
        ),
        ("ritual_turns", [_when("finished_at")]),
    ):
        unique = ["ritual_id", "user_id", "item"] if table == "ritual_answers" else None
        op.create_table(
            table,
            sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
            sa.Column("ritual_id", sa.Integer(), nullable=False),
            sa.Column("user_id", sa.Integer(), nullable=False),
            *columns,
            sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
            sa.ForeignKeyConstraint(
                ["ritual_id"],
                ["rituals.id"],
                name=f"fk_{table}_ritual_id_rituals",
                ondelete="CASCADE",
            ),
            _user_fk(table, "user_id", "CASCADE"),
            sa.UniqueConstraint(
                *(unique or ["ritual_id", "user_id"]), name=f"uq_{table}_ritual_id"
            ),
        )


def downgrade() -> None:
    for table in ("ritual_turns", "ritual_answers"):
        op.drop_table(table)
    op.drop_index("ix_rituals_couple", table_name="rituals")
    op.drop_table("rituals")
    op.drop_index("ix_breaks_couple", table_name="breaks")
    op.drop_index("ix_breaks_caller", table_name="breaks")
    op.drop_table("breaks")
    op.drop_index("ix_pair_invites_user", table_name="pair_invites")
    op.drop_table("pair_invites")
    op.drop_index("ix_couple_members_couple", table_name="couple_members")
    op.drop_table("couple_members")
    op.drop_table("couples")
