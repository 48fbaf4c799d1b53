"""Intake: accepted push requests waiting for the dedup stage.

Revision ID: 0002_intake
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from proactived.store.schema import BigId, UTCDateTime

revision = "0002_intake"
down_revision = None
branch_labels = ("intake",)
depends_on = "0001_core"


def upgrade() -> None:
    op.create_table(
        "intake",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("alerts", sa.Integer, nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("intake")
