"""Reports: the delivery ledger (one row per report and period) and each report's schedule marks.

Revision ID: 0007_reports
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from proactived.store.schema import UTCDateTime

revision = "0007_reports"
down_revision = None
branch_labels = ("reports",)
depends_on = "0001_core"


def upgrade() -> None:
    op.create_table(
        "report_deliveries",
        sa.Column("report", sa.String(100), primary_key=True),
        sa.Column("period", sa.String(100), primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("claimed_by", sa.String(100), nullable=False),
        sa.Column("claimed_at", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("recipients", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
    )
    op.create_table(
        "report_schedules",
        sa.Column("report", sa.String(100), primary_key=True),
        sa.Column("registered_at", UTCDateTime, nullable=False),
        sa.Column("last_run", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("report_schedules")
    op.drop_table("report_deliveries")
