"""Correlation: problems, their member incidents, and their timeline.

Revision ID: rules_0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from proactived.store.schema import BigId, UTCDateTime

revision = "rules_0001"
down_revision = None
branch_labels = ("rules",)
depends_on = "0001_core"


def upgrade() -> None:
    op.create_table(
        "problems",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("group_key", sa.Text, nullable=False),
        sa.Column("group_hash", sa.String(40), nullable=False),
        sa.Column("group_labels", sa.JSON, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ticket", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("root_cause_id", sa.String(32)),
        sa.Column("members", sa.Integer, nullable=False),
        sa.Column("firing", sa.Integer, nullable=False),
        sa.Column("live", sa.Integer, nullable=False),
        sa.Column("first_seen", UTCDateTime, nullable=False),
        sa.Column("episode_start", UTCDateTime, nullable=False),
        sa.Column("quiet_since", UTCDateTime),
        sa.Column("resolved_at", UTCDateTime),
        sa.Column("muted_by", sa.Text, nullable=False),
        sa.Column("mute_noted", sa.Boolean, nullable=False),
        sa.Column("previous_problem_id", sa.String(32)),
        sa.Column("pending_joins", sa.Integer, nullable=False),
        sa.Column("pending", sa.JSON, nullable=False),
        sa.Column("due_at", UTCDateTime),
        sa.Column("last_change", UTCDateTime),
    )
    op.create_index(
        "uq_problems_active_group",
        "problems",
        ["group_hash"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    op.create_index("ix_problems_due_at", "problems", ["due_at"])
    op.create_index("ix_problems_status", "problems", ["status"])
    op.create_table(
        "problem_members",
        sa.Column("problem_id", sa.String(32), primary_key=True),
        sa.Column("incident_id", sa.String(32), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("muted_by", sa.Text, nullable=False),
        sa.Column("joined_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_problem_members_incident_id", "problem_members", ["incident_id"])
    op.create_table(
        "problem_timeline",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("problem_id", sa.String(32), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
    )
    op.create_index("ix_problem_timeline_problem_id", "problem_timeline", ["problem_id"])


def downgrade() -> None:
    op.drop_table("problem_timeline")
    op.drop_table("problem_members")
    op.drop_table("problems")
