"""Reports: index incident history by incident with the columns a report reads, in place of the incident-only index.

An incident's history rows are then found and read from the index alone, in order, so a report joins each
incident in its period to its opening and closing events without sorting the whole history table. The new
index starts with ``incident_id``, so it serves every lookup the index it replaces served, and ingest still
writes one index entry per history row.

Revision ID: 0008_history_spans
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0008_history_spans"
down_revision = None
branch_labels = ("history_spans",)
depends_on = "0001_core"


def upgrade() -> None:
    op.create_index("ix_incident_history_spans", "incident_history", ["incident_id", "id", "event", "at"])
    op.drop_index("ix_incident_history_incident_id", table_name="incident_history")


def downgrade() -> None:
    op.create_index("ix_incident_history_incident_id", "incident_history", ["incident_id"])
    op.drop_index("ix_incident_history_spans", table_name="incident_history")
