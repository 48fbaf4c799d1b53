"""What a report reads: incident history from the core tables, and three small protocols for the rest.

``PlannedDowntime`` (maintenance windows), ``JobRuns`` (backup/update runs) and ``Acknowledgements``
(ticket acknowledgement times, for MTTA) are owned by other features; each has a null implementation
that says in the report that the figure is not recorded, so a report never silently shows a zero.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from typing import Any, Protocol

from sqlalchemy import Connection, Float, Select, String, Text, cast, extract, func, or_, select, type_coerce

from proactived.reports.compute import OPENING, down_intervals
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


_BATCH = 20_000


def _epoch_sql(conn: Connection, column: Any) -> Any:
    """Epoch seconds as a float computed by the database (to the millisecond on SQLite): no parsing in Python."""
    if conn.dialect.name == "sqlite":
        return func.round((func.julianday(type_coerce(column, String)) - 2440587.5) * 86400000.0) / 1000.0
    return cast(extract("epoch", column), Float)


def _by_id(conn: Connection, column: Any) -> Any:
    """Order incidents by id in byte order, as Python compares strings, whatever the database's collation.

    On SQLite the key is an expression rather than the column, which keeps it from walking the id index
    with one table lookup per row: a sequential scan and a sort read the same rows with much less work.
    """
    return column.collate("C") if conn.dialect.name == "postgresql" else column + ""


def _history_order(conn: Connection) -> tuple[Any, ...]:
    """History by incident id in byte order, then in the order it was written.

    On SQLite this is the order of the ``(incident_id, id, event, at)`` index, so the rows are read from it
    in order, without a sort and without touching the table.
    """
    history = incident_history.c
    if conn.dialect.name == "postgresql":
        return history.incident_id.collate("C"), history.id
    return history.incident_id, history.id


def _stream(conn: Connection, query: Select[Any]) -> Iterator[Sequence[Any]]:
    """The rows of ``query`` (columns without result processing) as the driver returns them, in batches.

    On SQLite the driver's own tuples are read from its cursor: they are cheaper to make than rows, and
    the garbage collector stops tracking tuples of plain values, where a year's worth of rows held in
    batches would otherwise keep triggering full collections. PostgreSQL streams from a server-side cursor.
    """
    if conn.dialect.name != "sqlite":
        yield from chain.from_iterable(conn.execution_options(yield_per=_BATCH).execute(query).partitions())
        return
    result = conn.execute(query)
    try:
        while batch := result.cursor.fetchmany(_BATCH):
            yield from batch
    finally:
        result.close()


def incident_spans(conn: Connection, start: datetime, end: datetime, now: datetime) -> Iterator[IncidentSpans]:
    """Stream the firing intervals of every incident that may overlap ``[start, end)``, one incident at a time.

    This is the hot path of a year-long report (a million history rows), so it reads only the columns it
    needs, as plain values: epoch seconds computed by the database, labels as JSON text decoded once per
    label set. Two reads in incident order, merged here in one pass: the incidents that may overlap the
    period (filtered by the database), and the history rows that open or close a span (id, time, event),
    which SQLite reads in order from an index that holds them.
    A join would repeat the incident's columns on each history row and make SQLite look each incident up
    row by row.
    """
    heads = (
        select(
            incidents.c.id,
            incidents.c.name,
            cast(incidents.c.labels, Text),
            incidents.c.severity,
            _epoch_sql(conn, incidents.c.starts_at),
        )
        .where(
            or_(incidents.c.starts_at < end, incidents.c.first_seen < end),
            or_(incidents.c.resolved_at.is_(None), incidents.c.resolved_at >= start),
        )
        .order_by(_by_id(conn, incidents.c.id))
    )
    history = (
        select(incident_history.c.incident_id, _epoch_sql(conn, incident_history.c.at), incident_history.c.event)
        .where(incident_history.c.event.in_(sorted({*OPENING, "resolved"})))  # the events that open or close a span
        .order_by(*_history_order(conn))
    )
    rows = _stream(conn, history)
    now_ts = now.timestamp()
    labels_seen: dict[str, dict[str, str]] = {}  # incidents of one fingerprint share one decoded dict
    row = next(rows, None)
    for incident_id, name, raw_labels, severity, started in _stream(conn, heads):
        while row is not None and row[0] < incident_id:  # history of an incident outside the period
            row = next(rows, None)
        events = []
        while row is not None and row[0] == incident_id:
            events.append((row[1], row[2]))
            row = next(rows, None)
        labels = labels_seen.get(raw_labels)
        if labels is None:
            labels = labels_seen[raw_labels] = json.loads(raw_labels)
        down = tuple(down_intervals(events, started, now_ts))
        yield IncidentSpans(incident_id, sys.intern(name), labels, severity, down)
