"""Table definitions of the core state: incidents, their history, and the outbox of pending actions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    literal_column,
    text,
)
from sqlalchemy.sql.elements import ColumnClause
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "pk": "pk_%(table_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    }
)

BigId = BigInteger().with_variant(Integer(), "sqlite")


def flag(column: Column[bool]) -> ColumnClause[Any]:
    """A boolean column as a bare condition, ``WHERE incidents.active``, on every backend.

    SQLAlchemy writes ``where(incidents.c.active)`` as ``incidents.active = 1`` on SQLite, and SQLite uses a
    partial index (``… WHERE active``) only for a query that states its condition the same way: with ``= 1``
    it scanned the whole table, e.g. once per 500 fingerprints when ingest loaded current incidents.
    """
    assert isinstance(column.table, Table)
    return literal_column(f"{column.table.name}.{column.name}")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


incidents = Table(
    "incidents",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("fingerprint", String(255), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("source", String(200), nullable=False),
    Column("source_kind", String(50), nullable=False),
    Column("name", Text, nullable=False),
    Column("labels", JSON, nullable=False),
    Column("annotations", JSON, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("source_severity", String(100), nullable=False),
    Column("status", String(16), nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime),
    Column("count", BigInteger, nullable=False),
    Column("flapping", Boolean, nullable=False),
    Column("flap_count", Integer, nullable=False),
    Column("transitions", JSON, nullable=False),
    Column("generator_url", Text, nullable=False),
    Column("suppressed", Text, nullable=False),
    Column("raw", JSON),
    Index(
        "uq_incidents_active_fingerprint",
        "fingerprint",
        unique=True,
        sqlite_where=text("active"),
        postgresql_where=text("active"),
    ),
    # Current incidents only (migration 0010_status_indexes): counted by status, and the flapping ones found,
    # without reading retired rows or the table; /api/v1/status, /metrics and the flap tick read them.
    # Each also holds the columns its condition reads, so that SQLite answers from the index alone.
    Index(
        "ix_incidents_active_status", "status", "active", sqlite_where=text("active"), postgresql_where=text("active")
    ),
    Index(
        "ix_incidents_flapping",
        "flapping",
        "active",
        "fingerprint",
        sqlite_where=text("active AND flapping"),
        postgresql_where=text("active AND flapping"),
    ),
)

incident_history = Table(
    "incident_history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("incident_id", String(32), nullable=False),
    Column("event", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    # An incident's history in order, with what a report reads from it (migration 0008_history_spans).
    Index("ix_incident_history_spans", "incident_id", "id", "event", "at"),
)

# What a report reads, kept as incidents change (migration 0009_down_spans, proactived/store/spans.py): each
# time an incident was down, in epoch seconds (``ended`` empty while it still fires), and the name, severity
# and labels it is reported under (one route per distinct combination, shared by every span that has it).
report_routes = Table(
    "report_routes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=False),  # a hash of the rest (spans.route_of)
    Column("name", Text, nullable=False),
    Column("severity", String(16), nullable=False),
    Column("labels", Text, nullable=False),
)

down_spans = Table(
    "down_spans",
    metadata,
    Column("incident_id", String(32), primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),  # the incident's spans numbered from 0, in order
    Column("started", Float, nullable=False),
    Column("ended", Float),
    Column("route_id", BigInteger, nullable=False),
    # Clustered by incident on SQLite: one B-tree to write, and a report reads it in order without a sort.
    sqlite_with_rowid=False,
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("topic", String(50), nullable=False),
    Column("key", String(255), nullable=False),
    Column("event", String(50), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("available_at", UTCDateTime, nullable=False),
    Column("claimed_by", String(100)),
    Column("claimed_until", UTCDateTime),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    Column("done_at", UTCDateTime),
    Column("failed", Boolean, nullable=False, server_default="0"),
    Index("ix_outbox_pending", "topic", "done_at", "key", "id"),
    # What is still waiting, and what failed, without scanning the finished rows (0010_status_indexes).
    Index(
        "ix_outbox_waiting",
        "topic",
        "created_at",
        "done_at",
        sqlite_where=text("done_at IS NULL"),
        postgresql_where=text("done_at IS NULL"),
    ),
    Index("ix_outbox_failed", "failed", "id", sqlite_where=text("failed"), postgresql_where=text("failed")),
)


# Accepted push requests not yet deduplicated: the request's body as received, in arrival order.
intake = Table(
    "intake",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("alerts", Integer, nullable=False),
    Column("body", LargeBinary, nullable=False),
)
