"""Jobs and maintenance: job state, job runs, maintenance windows, planned downtime.

Revision ID: 0100_maintenance
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from proactived.store.schema import BigId, UTCDateTime

revision = "0100_maintenance"
down_revision = None
branch_labels = ("maintenance",)
depends_on = "0001_core"


def upgrade() -> None:
    op.create_table(
        "job_state",
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_checkin", UTCDateTime),
        sa.Column("run_id", sa.String(100)),
        sa.Column("run_started_at", UTCDateTime),
        sa.Column("last_result", sa.String(16), nullable=False),
        sa.Column("last_finished_at", UTCDateTime),
        sa.Column("last_exit_status", sa.Integer),
        sa.Column("firing", sa.JSON, nullable=False),
    )
    op.create_table(
        "job_runs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("job", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(100), nullable=False),
        sa.Column("started_at", UTCDateTime),
        sa.Column("finished_at", UTCDateTime),
        sa.Column("duration_seconds", sa.Float),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("exit_status", sa.Integer),
        sa.Column("log_tail", sa.Text, nullable=False),
    )
    op.create_index("ix_job_runs_job_run_id", "job_runs", ["job", "run_id"])
    op.create_index("ix_job_runs_started_at", "job_runs", ["started_at"])
    op.create_table(
        "maintenance_windows",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("matchers", sa.JSON, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("starts_at", UTCDateTime, nullable=False),
        sa.Column("ends_at", UTCDateTime, nullable=False),
        sa.Column("ended_at", UTCDateTime),
    )
    op.create_index("ix_maintenance_windows_ends_at", "maintenance_windows", ["ends_at"])
    op.create_table(
        "planned_downtime",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("window_key", sa.String(255), nullable=False, unique=True),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("matchers", sa.JSON, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("planned_end", UTCDateTime, nullable=False),
        sa.Column("ended_at", UTCDateTime),
    )


def downgrade() -> None:
    op.drop_table("planned_downtime")
    op.drop_table("maintenance_windows")
    op.drop_table("job_runs")
    op.drop_table("job_state")
