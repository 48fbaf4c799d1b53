"""Reads and writes incidents and their history; the only place that maps Incident to rows."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, update

from proactived.dedup import Action, DedupResult, Incident, RepeatState
from proactived.model import Severity, Status
from proactived.store import spans
from proactived.store.engine import insert_rows
from proactived.store.schema import flag, incident_history, incidents

_CHUNK = 500


def _row_to_incident(row: Any) -> Incident:
    return Incident(
        id=row.id,
        fingerprint=row.fingerprint,
        source=row.source,
        source_kind=row.source_kind,
        name=row.name,
        labels=row.labels,
        annotations=row.annotations,
        severity=Severity(row.severity),
        source_severity=row.source_severity,
        status=Status(row.status),
        first_seen=row.first_seen,
        last_seen=row.last_seen,
        starts_at=row.starts_at,
        resolved_at=row.resolved_at,
        count=row.count,
        flapping=row.flapping,
        flap_count=row.flap_count,
        transitions=tuple(datetime.fromtimestamp(t, UTC) for t in row.transitions),
        generator_url=row.generator_url,
        suppressed=row.suppressed,
    )


def _incident_to_row(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "fingerprint": incident.fingerprint,
        "active": True,
        "source": incident.source,
        "source_kind": incident.source_kind,
        "name": incident.name,
        "labels": dict(incident.labels),
        "annotations": dict(incident.annotations),
        "severity": incident.severity.value,
        "source_severity": incident.source_severity,
        "status": incident.status.value,
        "first_seen": incident.first_seen,
        "last_seen": incident.last_seen,
        "starts_at": incident.starts_at,
        "resolved_at": incident.resolved_at,
        "count": incident.count,
        "flapping": incident.flapping,
        "flap_count": incident.flap_count,
        "transitions": [t.timestamp() for t in incident.transitions],
        "generator_url": incident.generator_url,
        "suppressed": incident.suppressed,
    }


def load_active(conn: Connection, fingerprints: Iterable[str], *, lock: bool = False) -> dict[str, Incident]:
    """The current incident of each fingerprint that has one (``lock``: SELECT … FOR UPDATE)."""
    found: dict[str, Incident] = {}
    wanted = list(dict.fromkeys(fingerprints))
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        query = select(incidents).where(flag(incidents.c.active), incidents.c.fingerprint.in_(chunk))
        if lock and conn.dialect.name != "sqlite":
            query = query.with_for_update()
        for row in conn.execute(query):
            found[row.fingerprint] = _row_to_incident(row)
    return found


def load_repeat_states(
    conn: Connection, fingerprints: Iterable[str], *, lock: bool = False
) -> dict[str, tuple[RepeatState, Any]]:
    """For each fingerprint with a current incident: its RepeatState and its stored annotations.

    The hot path of ingest: only the columns dedup needs to recognise a plain repeat, read through the
    driver without SQLAlchemy's per-row type processing. Annotations come back as the stored value (JSON text
    on SQLite, already decoded on PostgreSQL), only to be compared.
    """
    found: dict[str, tuple[RepeatState, Any]] = {}
    wanted = list(dict.fromkeys(fingerprints))
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    tail = " FOR UPDATE" if lock and conn.dialect.name != "sqlite" else ""
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        sql = (
            "SELECT fingerprint, id, status, severity, suppressed, annotations FROM incidents "
            f"WHERE active AND fingerprint IN ({', '.join([mark] * len(chunk))}){tail}"
        )
        for fp, id_, status, severity, suppressed, stored in conn.exec_driver_sql(sql, tuple(chunk)):
            found[fp] = (RepeatState(id_, Status(status), Severity(severity), suppressed), stored)
    return found


def bump_repeats(conn: Connection, repeats: Sequence[tuple[str, int, datetime, Mapping[str, str], Any]]) -> None:
    """Apply plain repeats: (incident id, how many, last seen, latest annotations, stored annotations).

    The counter moves in SQL (``count + n``); annotations are written only when they changed. On SQLite the
    statements are bound through the driver directly, values converted once by the columns' own processors.
    """
    if not repeats:
        return
    dialect = conn.dialect
    to_json: Callable[[Any], Any] = incidents.c.annotations.type.bind_processor(dialect) or _same
    same: list[tuple[str, int, datetime]] = []
    changed: list[tuple[str, int, datetime, dict[str, str]]] = []
    for incident_id, n, last_seen, latest, stored in repeats:
        new = dict(latest)
        # SQLite hands back the JSON text it was given: compare text first, decode only when it differs
        unchanged = (to_json(new) == stored or json.loads(stored) == new) if isinstance(stored, str) else stored == new
        if unchanged:
            same.append((incident_id, n, last_seen))
        else:
            changed.append((incident_id, n, last_seen, new))
    if dialect.name == "sqlite":
        to_ts: Callable[[Any], Any] = incidents.c.last_seen.type.bind_processor(dialect) or _same
        if same:
            conn.exec_driver_sql(
                "UPDATE incidents SET count = count + ?, last_seen = ? WHERE id = ?",
                [(n, to_ts(last), i) for i, n, last in same],
            )
        if changed:
            conn.exec_driver_sql(
                "UPDATE incidents SET count = count + ?, last_seen = ?, annotations = ? WHERE id = ?",
                [(n, to_ts(last), to_json(ann), i) for i, n, last, ann in changed],
            )
        return
    stmt = update(incidents).where(incidents.c.id == bindparam("b_id"))
    bumped = {"count": incidents.c.count + bindparam("b_n"), "last_seen": bindparam("b_last")}
    if same:
        conn.execute(stmt.values(bumped), [{"b_id": i, "b_n": n, "b_last": last} for i, n, last in same])
    if changed:
        conn.execute(
            stmt.values({**bumped, "annotations": bindparam("b_ann")}),
            [{"b_id": i, "b_n": n, "b_last": last, "b_ann": ann} for i, n, last, ann in changed],
        )


def _same(value: Any) -> Any:
    return value


_FLAPPING = (flag(incidents.c.active), flag(incidents.c.flapping))  # the condition of ix_incidents_flapping


def count_flapping(conn: Connection) -> int:
    """How many current incidents are flapping (read from their partial index)."""
    return int(conn.execute(select(func.count()).select_from(incidents).where(*_FLAPPING)).scalar() or 0)


def load_flapping(conn: Connection) -> list[Incident]:
    """Active incidents currently marked flapping (for the periodic tick).

    Their fingerprints come from the flapping index alone, then their rows by fingerprint: asked for whole
    rows at once, SQLite walked every current incident instead.
    """
    fingerprints = conn.execute(select(incidents.c.fingerprint).where(*_FLAPPING)).scalars()
    return list(load_active(conn, fingerprints).values())


def write_result(conn: Connection, result: DedupResult, raw: Mapping[str, Any] | None = None) -> None:
    """Persist one dedup result: retire, insert, rewrite, bump, and append history."""
    raw = raw or {}
    if result.retired:
        conn.execute(update(incidents).where(incidents.c.id.in_(result.retired)).values(active=False))
    if result.inserted:
        rows = [{**_incident_to_row(inc), "raw": raw.get(inc.fingerprint)} for inc in result.inserted.values()]
        insert_rows(conn, incidents, rows)
    if result.changed:
        _rewrite(conn, list(result.changed.values()), raw)
    if result.repeated:
        _bump(conn, list(result.repeated.values()))
    if result.history:
        insert_rows(conn, incident_history, [_history_row(a) for a in result.history])
    spans.write(conn, result)


def _rewrite(conn: Connection, changed: Sequence[Incident], raw: Mapping[str, Any]) -> None:
    rows = []
    for inc in changed:
        row = _incident_to_row(inc)
        row["b_id"] = row.pop("id")
        row.pop("fingerprint")
        row["raw"] = raw.get(inc.fingerprint)
        rows.append(row)
    values: dict[str, Any] = {key: bindparam(key) for key in rows[0] if key != "b_id"}
    conn.execute(update(incidents).where(incidents.c.id == bindparam("b_id")).values(values), rows)


def _bump(conn: Connection, repeated: Sequence[Incident]) -> None:
    """The hot path: a repeat only moves the counter, the last-seen time and the latest annotations."""
    stmt = (
        update(incidents)
        .where(incidents.c.id == bindparam("b_id"))
        .values(count=bindparam("b_count"), last_seen=bindparam("b_last"), annotations=bindparam("b_ann"))
    )
    rows = [
        {"b_id": inc.id, "b_count": inc.count, "b_last": inc.last_seen, "b_ann": dict(inc.annotations)}
        for inc in repeated
    ]
    conn.execute(stmt, rows)


def _history_row(action: Action) -> dict[str, Any]:
    return {
        "incident_id": action.incident_id,
        "event": action.event.value,
        "status": action.status.value,
        "at": action.at,
    }


def list_incidents(conn: Connection, *, open_only: bool = False, limit: int = 1000) -> list[Incident]:
    """Current incidents, newest activity first."""
    query = select(incidents).where(flag(incidents.c.active))
    if open_only:
        query = query.where(incidents.c.status == Status.FIRING.value)
    query = query.order_by(incidents.c.last_seen.desc()).limit(limit)
    return [_row_to_incident(row) for row in conn.execute(query)]


def history_of(conn: Connection, incident_id: str) -> list[tuple[str, str, datetime]]:
    """(event, status, at) of one incident, oldest first."""
    query = (
        select(incident_history.c.event, incident_history.c.status, incident_history.c.at)
        .where(incident_history.c.incident_id == incident_id)
        .order_by(incident_history.c.id)
    )
    return [(row.event, row.status, row.at) for row in conn.execute(query)]


def count_by_status(conn: Connection) -> dict[str, int]:
    """Number of current incidents per status."""
    query = select(incidents.c.status, func.count()).where(flag(incidents.c.active)).group_by(incidents.c.status)
    return {status: n for status, n in conn.execute(query)}


def load_by_ids(conn: Connection, ids: Iterable[str]) -> dict[str, Incident]:
    """Incidents by id, current or retired (correlation keeps pointing at retired ones)."""
    found: dict[str, Incident] = {}
    wanted = list(dict.fromkeys(ids))
    for start in range(0, len(wanted), _CHUNK):
        query = select(incidents).where(incidents.c.id.in_(wanted[start : start + _CHUNK]))
        found.update((row.id, _row_to_incident(row)) for row in conn.execute(query))
    return found


def row_to_incident(row: Any) -> Incident:
    """An Incident from a row of ``incidents`` (for joins made by other modules)."""
    return _row_to_incident(row)


def firing_fingerprints(conn: Connection, source: str) -> set[str]:
    """The fingerprints of ``source``'s firing incidents: what a poll that no longer lists them resolves.

    One narrow read through the driver, cheap enough for every poll of a source with 10,000 open incidents.
    """
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = f"SELECT fingerprint FROM incidents WHERE active AND source = {mark} AND status = {mark}"
    return {fp for (fp,) in conn.exec_driver_sql(sql, (source, Status.FIRING.value))}
