"""Reports: keep each incident's down spans and their route (name, severity, labels) beside the history.

A report then reads one narrow row per span instead of the whole history and the wide incidents table
(``proactived/store/spans.py``). Spans of the incidents already stored are worked out from their history
here, in incident order, a batch at a time.

Revision ID: 0009_down_spans
Revises: 0008_history_spans
Create Date: 2026-12-01
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

from proactived.store.schema import UTCDateTime
from proactived.store.spans import SPAN_EVENTS, route_of, spans_of

revision = "0009_down_spans"
down_revision = "0008_history_spans"
branch_labels = None
depends_on = None

_BATCH = 5_000
_incidents = sa.table(
    "incidents",
    sa.column("id", sa.String),
    sa.column("name", sa.Text),
    sa.column("severity", sa.String),
    sa.column("labels", sa.Text),
    sa.column("starts_at", UTCDateTime),
)
_history = sa.table(
    "incident_history",
    sa.column("id", sa.BigInteger),
    sa.column("incident_id", sa.String),
    sa.column("event", sa.String),
    sa.column("at", UTCDateTime),
)


def upgrade() -> None:
    routes = op.create_table(
        "report_routes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("labels", sa.Text, nullable=False),
    )
    spans = op.create_table(
        "down_spans",
        sa.Column("incident_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("started", sa.Float, nullable=False),
        sa.Column("ended", sa.Float),
        sa.Column("route_id", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("incident_id", "seq", name="pk_down_spans"),
        sqlite_with_rowid=False,
    )
    assert routes is not None and spans is not None
    _backfill(op.get_bind(), routes, spans)


def _backfill(conn: sa.Connection, routes: sa.Table, spans: sa.Table) -> None:
    known: set[int] = set()
    rows: list[dict[str, Any]] = []
    for iid, name, severity, labels, starts_at, events in _histories(conn):
        route, text = route_of(name, severity, labels)
        if route not in known:
            conn.execute(routes.insert(), {"id": route, "name": name, "severity": severity, "labels": text})
            known.add(route)
        rows.extend(
            {"incident_id": iid, "seq": seq, "started": s, "ended": e, "route_id": route}
            for seq, (s, e) in enumerate(spans_of(events, starts_at.timestamp()))
        )
        if len(rows) >= _BATCH:
            conn.execute(spans.insert(), rows)
            rows.clear()
    if rows:
        conn.execute(spans.insert(), rows)


def _histories(conn: sa.Connection) -> Iterator[tuple[str, str, str, dict[str, str], Any, list[tuple[float, str]]]]:
    """Each incident with its span events in order, both read in incident id order and merged."""
    by_bytes = conn.dialect.name == "postgresql"  # ids compared as Python compares them, whatever the collation
    head_id = _incidents.c.id.collate("C") if by_bytes else _incidents.c.id
    history_id = _history.c.incident_id.collate("C") if by_bytes else _history.c.incident_id
    heads = sa.select(_incidents).order_by(head_id)
    history = (
        sa.select(_history.c.incident_id, _history.c.at, _history.c.event)
        .where(_history.c.event.in_(sorted(SPAN_EVENTS)))
        .order_by(history_id, _history.c.id)
    )
    rows = iter(conn.execute(history.execution_options(yield_per=_BATCH)))
    row = next(rows, None)
    for head in conn.execute(heads.execution_options(yield_per=_BATCH)):
        while row is not None and row.incident_id < head.id:
            row = next(rows, None)
        events = []
        while row is not None and row.incident_id == head.id:
            events.append((row.at.timestamp(), row.event))
            row = next(rows, None)
        labels = json.loads(head.labels) if isinstance(head.labels, str) else head.labels
        yield head.id, head.name, head.severity, labels, head.starts_at, events


def downgrade() -> None:
    op.drop_table("down_spans")
    op.drop_table("report_routes")
