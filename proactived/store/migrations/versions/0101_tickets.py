"""Tickets: the desk ticket of each problem and its state.

Revision ID: 0101_tickets
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from proactived.store.schema import UTCDateTime

revision = "0101_tickets"
down_revision = None
branch_labels = ("tickets",)
depends_on = "0001_core"


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("problem_id", sa.String(64), primary_key=True),
        sa.Column("sink", sa.String(100), nullable=False),
        sa.Column("external_key", sa.String(255), nullable=False),
        sa.Column("external_id", sa.String(100)),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("desk_status", sa.String(100), nullable=False),
        sa.Column("last_action", sa.String(16), nullable=False),
        sa.Column("last_action_at", UTCDateTime, nullable=False),
        sa.Column("last_note_at", UTCDateTime),
        sa.Column("created_at", UTCDateTime),
        sa.Column("resolved_at", UTCDateTime),
        sa.Column("acknowledged_at", UTCDateTime),
        sa.Column("previous_problem_id", sa.String(64)),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("last_error", sa.Text),
    )
    op.create_index("ix_tickets_external_key", "tickets", ["external_key"])


def downgrade() -> None:
    op.drop_table("tickets")
