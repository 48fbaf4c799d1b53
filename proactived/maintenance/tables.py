"""Maintenance rows: ``maintenance_windows`` (created through the API, the CLI or a job run) and
``planned_downtime`` (the actual span of every window, config ones included — what reports subtract).

``planned_downtime`` columns for reports: ``window_key`` (unique per span), ``origin`` (config | api | job),
``name``, ``reason``, ``matchers`` (JSON list of Alertmanager-syntax matchers: the labels the span covers),
``started_at``, ``planned_end``, ``ended_at`` (null while the window is active; the actual end, which is
earlier than ``planned_end`` when a window was ended early).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Connection, Index, String, Table, Text, insert, or_, select, update

from proactived.maintenance.windows import Window, parse_matcher_list
from proactived.store.schema import BigId, UTCDateTime, metadata

maintenance_windows = Table(
    "maintenance_windows",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("origin", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("matchers", JSON, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime),
    Index("ix_maintenance_windows_ends_at", "ends_at"),
)

planned_downtime = Table(
    "planned_downtime",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("window_key", String(255), nullable=False, unique=True),
    Column("origin", String(16), nullable=False),
    Column("name", String(200), nullable=False),
    Column("reason", Text, nullable=False),
    Column("matchers", JSON, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("planned_end", UTCDateTime, nullable=False),
    Column("ended_at", UTCDateTime),
)


def _window(row: Any) -> Window:
    origin = row.origin
    return Window(
        f"{origin}:{row.id}",
        origin,
        row.name,
        parse_matcher_list(row.matchers),
        row.reason,
        row.starts_at,
        row.ended_at if row.ended_at is not None else row.ends_at,
    )


def create(
    conn: Connection, origin: str, name: str, matchers: list[str], reason: str, created_by: str,
    starts_at: datetime, ends_at: datetime, now: datetime,
) -> int:
    result = conn.execute(
        insert(maintenance_windows).values(
            origin=origin, name=name, matchers=matchers, reason=reason, created_by=created_by, created_at=now,
            starts_at=starts_at, ends_at=ends_at, ended_at=None,
        )
    )
    assert result.inserted_primary_key is not None
    return int(result.inserted_primary_key[0])


def end(conn: Connection, window_id: int, now: datetime) -> bool:
    """End a window now (or cancel one not yet begun); False when it does not exist or is already over."""
    stmt = (
        update(maintenance_windows)
        .where(maintenance_windows.c.id == window_id, maintenance_windows.c.ended_at.is_(None),
               maintenance_windows.c.ends_at > now)
        .values(ended_at=now)
    )
    return conn.execute(stmt).rowcount == 1


def end_for_job(conn: Connection, job: str, now: datetime) -> int:
    """End the windows a job's runs opened."""
    stmt = (
        update(maintenance_windows)
        .where(maintenance_windows.c.origin == "job", maintenance_windows.c.name == job,
               maintenance_windows.c.ended_at.is_(None), maintenance_windows.c.ends_at > now)
        .values(ended_at=now)
    )
    return int(conn.execute(stmt).rowcount)


def current(conn: Connection, now: datetime) -> list[Window]:
    """Stored windows that are active or still to come."""
    query = select(maintenance_windows).where(
        maintenance_windows.c.ends_at > now,
        or_(maintenance_windows.c.ended_at.is_(None), maintenance_windows.c.ended_at > now),
    ).order_by(maintenance_windows.c.starts_at)
    return [_window(row) for row in conn.execute(query)]


def rows(conn: Connection, now: datetime) -> list[dict[str, Any]]:
    """Stored windows that are active or to come, as plain rows (for listings)."""
    query = select(maintenance_windows).where(
        maintenance_windows.c.ends_at > now, maintenance_windows.c.ended_at.is_(None)
    ).order_by(maintenance_windows.c.starts_at)
    return [dict(row._mapping) for row in conn.execute(query)]


def sync_downtime(conn: Connection, active: Iterable[Window], now: datetime) -> tuple[int, int]:
    """Open a downtime row for every active span not yet recorded; close those no longer active.

    A closed span ends at its planned end, or ``now`` when that is earlier (the window was ended early).
    Returns (opened, closed).
    """
    by_key = {w.key: w for w in active if w.active(now)}
    open_rows = {
        row.window_key: row
        for row in conn.execute(select(planned_downtime).where(planned_downtime.c.ended_at.is_(None)))
    }
    known = set(open_rows)
    if by_key:
        known |= set(conn.execute(
            select(planned_downtime.c.window_key).where(planned_downtime.c.window_key.in_(list(by_key)))
        ).scalars())
    opened = [w for key, w in by_key.items() if key not in known]
    if opened:
        conn.execute(insert(planned_downtime), [
            {"window_key": w.key, "origin": w.origin, "name": w.name, "reason": w.reason,
             "matchers": [str(m) for m in w.matchers], "started_at": w.starts_at, "planned_end": w.ends_at,
             "ended_at": None}
            for w in opened
        ])
    closed = 0
    for key, row in open_rows.items():
        if key in by_key:
            continue
        conn.execute(
            update(planned_downtime).where(planned_downtime.c.id == row.id)
            .values(ended_at=min(row.planned_end, now))
        )
        closed += 1
    return len(opened), closed


def downtime(conn: Connection, since: datetime | None = None) -> list[dict[str, Any]]:
    query = select(planned_downtime).order_by(planned_downtime.c.started_at)
    if since is not None:
        query = query.where(or_(planned_downtime.c.ended_at.is_(None), planned_downtime.c.ended_at > since))
    return [dict(row._mapping) for row in conn.execute(query)]
