"""Status and metrics: partial indexes for what they count, so a call costs what is current, not the store's size.

``/api/v1/status`` and every ``/metrics`` scrape counted incidents by status, loaded the flapping ones and
counted the outbox's waiting and failed rows by scanning the tables: with 100,000 incidents and as many
outbox rows a status call took ≈100 ms of the store. The new indexes hold only current incidents (by status;
the flapping ones), waiting outbox rows (by topic and age) and failed ones. The status index over every
incident, retired ones included, is replaced by the one over current incidents: each query that used it
asks for current incidents.

Revision ID: 0010_status_indexes
Revises: 0009_down_spans
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_status_indexes"
down_revision = "0009_down_spans"
branch_labels = None
depends_on = None


def _partial(name: str, table: str, columns: list[str], condition: str) -> None:
    where = sa.text(condition)
    op.create_index(name, table, columns, sqlite_where=where, postgresql_where=where)


def upgrade() -> None:
    # Each index also holds the columns its condition reads, so that SQLite answers from the index alone.
    _partial("ix_incidents_active_status", "incidents", ["status", "active"], "active")
    op.drop_index("ix_incidents_status", table_name="incidents")
    _partial("ix_incidents_flapping", "incidents", ["flapping", "active", "fingerprint"], "active AND flapping")
    _partial("ix_outbox_waiting", "outbox", ["topic", "created_at", "done_at"], "done_at IS NULL")
    _partial("ix_outbox_failed", "outbox", ["failed", "id"], "failed")


def downgrade() -> None:
    op.drop_index("ix_outbox_failed", table_name="outbox")
    op.drop_index("ix_outbox_waiting", table_name="outbox")
    op.drop_index("ix_incidents_flapping", table_name="incidents")
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.drop_index("ix_incidents_active_status", table_name="incidents")
