"""What a report reads: incident down spans from the core tables, and three small protocols for the rest.

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

from sqlalchemy import Connection, Select, or_, select

from proactived.reports.model import IncidentSpans, JobRun, MaintenanceSpan
from proactived.store.schema import down_spans, report_routes


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


def _by_incident(conn: Connection) -> tuple[Any, ...]:
    """Spans grouped by incident id in byte order, as Python compares strings, whatever the collation.

    On SQLite this is the order of the table itself (clustered by its key), read without a sort.
    """
    c = down_spans.c
    if conn.dialect.name == "postgresql":
        return c.incident_id.collate("C"), c.seq
    return c.incident_id, c.seq


def _stream(conn: Connection, query: Select[Any]) -> Iterator[Sequence[Any]]:
    """The rows of ``query`` (columns without result processing) as the driver returns them, in batches.

    On SQLite the driver's own tuples are read from its cursor: they are cheaper to make than rows, and
    the garbage collector stops tracking tuples of plain values, where a year's worth of rows held in
    batches would otherwise keep triggering full collections. PostgreSQL streams from a server-side cursor.
    """
    if conn.dialect.name != "sqlite":
        yield from chain.from_iterable(conn.execute(query.execution_options(yield_per=_BATCH)).partitions())
        return
    result = conn.execute(query)
    try:
        while batch := result.cursor.fetchmany(_BATCH):
            yield from batch
    finally:
        result.close()


def incident_spans(conn: Connection, start: datetime, end: datetime, now: datetime) -> Iterator[IncidentSpans]:
    """Stream the down spans of every incident that may overlap ``[start, end)``, one incident at a time.

    The hot path of a year-long report (half a million spans). It reads the ``down_spans`` rows that ingest
    keeps (``proactived/store/spans.py``) as plain values, grouped by incident, and the few routes they
    point to (name, severity, labels: each label set decoded once and shared). An ongoing span ends at ``now``.
    """
    c = down_spans.c
    spans = (
        select(c.incident_id, c.route_id, c.started, c.ended)
        .where(c.started < end.timestamp(), or_(c.ended.is_(None), c.ended >= start.timestamp()))
        .order_by(*_by_incident(conn))
    )
    routes = _routes(conn)
    now_ts = now.timestamp()
    current: str | None = None
    route = -1
    down: list[tuple[float, float]] = []
    for incident_id, route_id, started, ended in _stream(conn, spans):
        if incident_id != current:
            if current is not None:
                yield IncidentSpans(current, *routes[route], tuple(down))
            current, route, down = incident_id, route_id, []
        if ended is not None:
            down.append((started, ended))
        elif now_ts > started:
            down.append((started, now_ts))
    if current is not None:
        yield IncidentSpans(current, *routes[route], tuple(down))


def _routes(conn: Connection) -> dict[int, tuple[str, dict[str, str], str]]:
    """Every route: (name, labels, severity) by id; routes of one label set share one decoded dict."""
    labels_seen: dict[str, dict[str, str]] = {}
    routes = {}
    r = report_routes.c
    for id_, name, severity, text in conn.execute(select(r.id, r.name, r.severity, r.labels)):
        labels = labels_seen.get(text)
        if labels is None:
            labels = labels_seen[text] = json.loads(text)
        routes[id_] = (sys.intern(name), labels, severity)
    return routes
