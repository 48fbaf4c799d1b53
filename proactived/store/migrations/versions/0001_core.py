"""Core tables: incidents, incident history, outbox.

Revision ID: 0001_core
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from proactived.store.schema import BigId, UTCDateTime

revision = "0001_core"
down_revision = None
branch_labels = ("core",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("fingerprint", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("source_kind", sa.String(50), nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("annotations", sa.JSON, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("source_severity", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("first_seen", UTCDateTime, nullable=False),
        sa.Column("last_seen", UTCDateTime, nullable=False),
        sa.Column("starts_at", UTCDateTime, nullable=False),
        sa.Column("resolved_at", UTCDateTime),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("flapping", sa.Boolean, nullable=False),
        sa.Column("flap_count", sa.Integer, nullable=False),
        sa.Column("transitions", sa.JSON, nullable=False),
        sa.Column("generator_url", sa.Text, nullable=False),
        sa.Column("suppressed", sa.Text, nullable=False),
        sa.Column("raw", sa.JSON),
    )
    op.create_index(
        "uq_incidents_active_fingerprint",
        "incidents",
        ["fingerprint"],
        unique=True,
        sqlite_where=sa.text("active"),
        postgresql_where=sa.text("active"),
    )
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_table(
        "incident_history",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("incident_id", sa.String(32), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_incident_history_incident_id", "incident_history", ["incident_id"])
    op.create_table(
        "outbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("topic", sa.String(50), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("event", sa.String(50), nullable=False),
        sa.Column("payload", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("available_at", UTCDateTime, nullable=False),
        sa.Column("claimed_by", sa.String(100)),
        sa.Column("claimed_until", UTCDateTime),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Column("done_at", UTCDateTime),
        sa.Column("failed", sa.Boolean, nullable=False, server_default="0"),
    )
    op.create_index("ix_outbox_pending", "outbox", ["topic", "done_at", "key", "id"])


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("incident_history")
    op.drop_table("incidents")
