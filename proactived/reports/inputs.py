"""What a report reads: incident history from the core tables, and three small protocols for the rest.

``PlannedDowntime`` (maintenance windows), ``JobRuns`` (backup/update runs) and ``Acknowledgements``
(ticket acknowledgement times, for MTTA) are owned by other features; each has a null implementation
that says in the report that the figure is not recorded, so a report never silently shows a zero.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection, String, func, or_, select, type_coerce

from proactived.reports.compute import down_intervals
from proactived.reports.model import IncidentSpans, JobRun, MaintenanceSpan
from proactived.store.schema import incident_history, incidents


class PlannedDowntime(Protocol):
    """Maintenance windows that overlapped ``[start, end)``, with their matchers and actual span."""

    def spans(self, start: datetime, end: datetime) -> list[MaintenanceSpan]: ...


class JobRuns(Protocol):
    """Expected job runs (including missed ones, as ``late``) scheduled within ``[start, end)``."""

    def runs(self, start: datetime, end: datetime) -> list[JobRun]: ...


class Acknowledgements(Protocol):
    """First acknowledgement (epoch seconds) of the ticket covering each incident, for incidents in range."""

    def first_acks(self, start: datetime, end: datetime) -> dict[str, float]: ...


@dataclass(frozen=True)
class NotRecorded:
    """Stands in for a feature that is not installed: no data, and a note saying so."""

    note: str

    def spans(self, start: datetime, end: datetime) -> list[MaintenanceSpan]:
        return []

    def runs(self, start: datetime, end: datetime) -> list[JobRun]:
        return []

    def first_acks(self, start: datetime, end: datetime) -> dict[str, float]:
        return {}


@dataclass(frozen=True)
class Inputs:
    """The non-incident inputs of a report, with notes about the ones this installation lacks."""

    planned: PlannedDowntime = NotRecorded("Planned maintenance is not recorded by this installation.")
    jobs: JobRuns = NotRecorded("Job runs are not recorded by this installation.")
    acks: Acknowledgements = NotRecorded("MTTA needs ticket acknowledgement times, not recorded here.")
    extra_notes: tuple[str, ...] = field(default=())

    def notes(self) -> tuple[str, ...]:
        found = [p.note for p in (self.planned, self.jobs, self.acks) if isinstance(p, NotRecorded)]
        return (*found, *self.extra_notes)


def _epoch_sql(conn: Connection, column: Any) -> Any:
    """Epoch seconds computed by the database (to the millisecond on SQLite): no per-row parsing in Python."""
    if conn.dialect.name == "sqlite":
        return func.round((func.julianday(type_coerce(column, String)) - 2440587.5) * 86400000.0) / 1000.0
    return func.extract("epoch", column)


def incident_spans(conn: Connection, start: datetime, end: datetime, now: datetime) -> Iterator[IncidentSpans]:
    """Stream the firing intervals of every incident that may overlap ``[start, end)``, one incident at a time.

    One ordered pass over history joined to incidents; labels are decoded once per incident, timestamps
    read as raw values and converted directly (this is the hot path of a year-long report).
    """
    query = (
        select(
            incident_history.c.incident_id,
            _epoch_sql(conn, incident_history.c.at),
            incident_history.c.event,
            incidents.c.name,
            type_coerce(incidents.c.labels, String),
            incidents.c.severity,
            _epoch_sql(conn, incidents.c.starts_at),
        )
        .join(incidents, incidents.c.id == incident_history.c.incident_id)
        .where(
            or_(incidents.c.starts_at < end, incidents.c.first_seen < end),
            or_(incidents.c.resolved_at.is_(None), incidents.c.resolved_at >= start),
        )
        .order_by(incident_history.c.incident_id, incident_history.c.id)
        .execution_options(yield_per=20_000)
    )
    now_ts = now.timestamp()
    labels_seen: dict[Any, dict[str, str]] = {}  # incidents of one fingerprint share one decoded dict
    current: str | None = None
    events: list[tuple[float, str]] = []
    head: tuple[Any, ...] = ()
    for row in conn.execute(query):
        if row[0] != current:
            if current is not None:
                yield _spans(current, head, events, now_ts, labels_seen)
            current, head, events = row[0], (row[3], row[4], row[5], row[6]), []
        events.append((float(row[1]), row[2]))
    if current is not None:
        yield _spans(current, head, events, now_ts, labels_seen)


def _spans(
    incident_id: str,
    head: tuple[Any, ...],
    events: list[tuple[float, str]],
    now: float,
    labels_seen: dict[Any, dict[str, str]],
) -> IncidentSpans:
    name, raw_labels, severity, starts_at = head
    key = raw_labels if isinstance(raw_labels, str) else json.dumps(raw_labels, sort_keys=True)
    labels = labels_seen.get(key)
    if labels is None:
        labels = labels_seen[key] = raw_labels if isinstance(raw_labels, dict) else json.loads(raw_labels)
    down = down_intervals(events, float(starts_at), now)
    return IncidentSpans(incident_id, sys.intern(name), labels, severity, tuple(down))
