"""Down spans: the times each incident was down, kept up to date as incidents change, for reports to read.

A report over a year would otherwise rebuild these from a million history rows and the wide incidents
table. The spans follow the incident's history (``spans_of`` is the rule, applied to a whole history):
an ``opened`` starts a span at the source's start time when that is earlier, a ``reopened`` at the time the
history records, a ``resolved`` ends the open span (never before it started); an event that would open a
span while one is open, or close one while none is, changes nothing. A span's route is the incident's
current name, severity and labels, moved along when they change (an escalation re-routes every span).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping

from sqlalchemy import Connection, bindparam, case, func, select

from proactived.dedup import DedupResult, Incident
from proactived.store.engine import insert_rows
from proactived.store.schema import down_spans, report_routes

OPENING = frozenset({"opened", "reopened"})
SPAN_EVENTS = frozenset({*OPENING, "resolved"})
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)

Span = tuple[float, float | None]  # (started, ended); ended None while the incident still fires


def route_of(name: str, severity: str, labels: Mapping[str, str]) -> tuple[int, str]:
    """The id of a route and its labels as stored (canonical JSON).

    The id is a 63-bit hash of what the route holds, so every writer finds it without asking the database.
    """
    text = _ENCODER.encode(labels)
    digest = hashlib.blake2b(f"{name}\0{severity}\0{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1, text


def spans_of(events: Iterable[tuple[float, str]], started: float) -> list[Span]:
    """The spans of one incident's whole history ``(at, event)`` in order (``started``: the source's start time)."""
    spans: list[Span] = []
    open_since: float | None = None
    for at, event in events:
        if event in OPENING and open_since is None:
            open_since = min(started, at) if event == "opened" else at
        elif event == "resolved" and open_since is not None:
            spans.append((open_since, max(at, open_since)))
            open_since = None
    if open_since is not None:
        spans.append((open_since, None))
    return spans


def _route_ids(conn: Connection, incidents: Iterable[Incident]) -> dict[str, int]:
    """The route id of each incident (by incident id), storing the routes not stored yet."""
    routes: dict[int, tuple[str, str, str]] = {}
    ids: dict[str, int] = {}
    for inc in incidents:
        route, text = route_of(inc.name, inc.severity.value, inc.labels)
        routes.setdefault(route, (inc.name, inc.severity.value, text))
        ids[inc.id] = route
    if not routes:
        return ids
    rows = [(route, name, severity, text) for route, (name, severity, text) in routes.items()]
    if conn.dialect.name == "sqlite":
        sql = "INSERT OR IGNORE INTO report_routes (id, name, severity, labels) VALUES (?, ?, ?, ?)"
        conn.exec_driver_sql(sql, rows)
    else:
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        names = ("id", "name", "severity", "labels")
        stmt = pg_insert(report_routes).on_conflict_do_nothing(index_elements=["id"])
        conn.execute(stmt, [dict(zip(names, row, strict=True)) for row in rows])
    return ids


def write(conn: Connection, result: DedupResult) -> None:
    """Bring the spans of the incidents ``result`` touched up to date, in the caller's transaction.

    New incidents' spans are worked out here and inserted in bulk. For the others the span events are
    applied in rounds (every incident's first event, then every second one, …), each round as one
    statement per kind, guarded as the module docstring says; then changed incidents are re-routed.
    """
    events: dict[str, list[tuple[float, str]]] = {}
    for action in result.history:
        if action.event.value in SPAN_EVENTS:
            events.setdefault(action.incident_id, []).append((action.at.timestamp(), action.event.value))
    if not events and not result.changed:
        return
    routes = _route_ids(conn, [*result.inserted.values(), *result.changed.values()])
    rows = []
    for iid, inc in result.inserted.items():
        route = routes[iid]
        for seq, (started, ended) in enumerate(spans_of(events.pop(iid, ()), inc.starts_at.timestamp())):
            rows.append({"incident_id": iid, "seq": seq, "started": started, "ended": ended, "route_id": route})
    insert_rows(conn, down_spans, rows)
    starts = {iid: inc.starts_at.timestamp() for iid, inc in result.changed.items()}
    for round_ in _rounds(events, starts):
        _apply(conn, round_, routes)
    reroute = [{"b_id": iid, "b_route": routes[iid]} for iid in result.changed]
    if reroute:
        conn.execute(
            down_spans.update()
            .where(down_spans.c.incident_id == bindparam("b_id"), down_spans.c.route_id != bindparam("b_route"))
            .values(route_id=bindparam("b_route")),
            reroute,
        )


def _rounds(
    events: Mapping[str, list[tuple[float, str]]], starts: Mapping[str, float]
) -> Iterator[list[tuple[str, float, str]]]:
    """Every incident's k-th span event, for k = 0, 1, …; an ``opened`` counts from the earlier start."""
    depth = max((len(e) for e in events.values()), default=0)
    for k in range(depth):
        yield [
            (iid, min(at, starts.get(iid, at)) if event == "opened" else at, event)
            for iid, e in events.items()
            if len(e) > k
            for at, event in (e[k],)
        ]


def _apply(conn: Connection, round_: list[tuple[str, float, str]], routes: Mapping[str, int]) -> None:
    c = down_spans.c
    closes = [{"b_id": iid, "b_at": at} for iid, at, event in round_ if event == "resolved"]
    # an incident that opens a span here is among the changed ones (its "opened" came with its insert, and
    # a reopen rewrites it), so its route is known
    opens = [{"b_id": iid, "b_at": at, "b_route": routes[iid]} for iid, at, event in round_ if event in OPENING]
    if closes:
        at = bindparam("b_at", type_=c.ended.type)
        ended = case((c.started > at, c.started), else_=at)
        conn.execute(
            down_spans.update()
            .where(c.incident_id == bindparam("b_id"), c.ended.is_(None))
            .values(ended=ended),
            closes,
        )  # fmt: skip
    if opens:
        # numbered after the incident's other spans, and only when none of them is open
        mine = down_spans.alias("mine")
        source = (
            select(
                bindparam("b_id", type_=c.incident_id.type),
                func.coalesce(func.max(mine.c.seq) + 1, 0),
                bindparam("b_at", type_=c.started.type),
                bindparam("b_route", type_=c.route_id.type),
            )
            .where(mine.c.incident_id == bindparam("b_id"))
            .having(func.count(mine.c.ended) == func.count())  # none of its spans is open
        )
        conn.execute(down_spans.insert().from_select(["incident_id", "seq", "started", "route_id"], source), opens)


