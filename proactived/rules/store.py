"""Problem tables and their rows: problems, members, timeline; loads only what a correlation step needs."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    bindparam,
    func,
    select,
    text,
    update,
)

from proactived.dedup import Incident
from proactived.model import Severity, Status
from proactived.rules.correlate import State
from proactived.rules.problem import Member, Outcome, Problem, ProblemStatus, TicketState
from proactived.rules.ruleset import group_hash
from proactived.store.engine import insert_rows
from proactived.store.incidents import load_by_ids, row_to_incident
from proactived.store.schema import BigId, UTCDateTime, flag, incidents, metadata

_CHUNK = 500

problems = Table(
    "problems",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("rule", String(200), nullable=False),
    Column("group_key", Text, nullable=False),
    Column("group_hash", String(40), nullable=False),
    Column("group_labels", JSON, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("ticket", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("root_cause_id", String(32)),
    Column("members", Integer, nullable=False),
    Column("firing", Integer, nullable=False),
    Column("live", Integer, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("episode_start", UTCDateTime, nullable=False),
    Column("quiet_since", UTCDateTime),
    Column("resolved_at", UTCDateTime),
    Column("muted_by", Text, nullable=False),
    Column("mute_noted", Boolean, nullable=False),
    Column("previous_problem_id", String(32)),
    Column("pending_joins", Integer, nullable=False),
    Column("pending", JSON, nullable=False),
    Column("due_at", UTCDateTime),
    Column("last_change", UTCDateTime),
    Index(
        "uq_problems_active_group",
        "group_hash",
        unique=True,
        sqlite_where=text("active"),
        postgresql_where=text("active"),
    ),
    Index("ix_problems_due_at", "due_at"),
    Index("ix_problems_status", "status"),
)

problem_members = Table(
    "problem_members",
    metadata,
    Column("problem_id", String(32), primary_key=True),
    Column("incident_id", String(32), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("muted_by", Text, nullable=False),
    Column("joined_at", UTCDateTime, nullable=False),
    Index("ix_problem_members_incident_id", "incident_id"),
)

problem_timeline = Table(
    "problem_timeline",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("problem_id", String(32), nullable=False, index=True),
    Column("at", UTCDateTime, nullable=False),
    Column("text", Text, nullable=False),
)


def _to_problem(row: Any) -> Problem:
    return Problem(
        id=row.id,
        rule=row.rule,
        group_key=row.group_key,
        group_labels=row.group_labels,
        first_seen=row.first_seen,
        episode_start=row.episode_start,
        status=ProblemStatus(row.status),
        ticket=TicketState(row.ticket),
        severity=Severity(row.severity),
        root_cause_id=row.root_cause_id,
        members=row.members,
        firing=row.firing,
        live=row.live,
        quiet_since=row.quiet_since,
        resolved_at=row.resolved_at,
        muted_by=row.muted_by,
        mute_noted=row.mute_noted,
        previous_problem_id=row.previous_problem_id,
        pending_joins=row.pending_joins,
        pending=tuple(row.pending),
        due_at=row.due_at,
        last_change=row.last_change,
    )


def _problem_row(p: Problem) -> dict[str, Any]:
    return {
        "id": p.id,
        "rule": p.rule,
        "group_key": p.group_key,
        "group_hash": group_hash(p.rule, p.group_key),
        "group_labels": dict(p.group_labels),
        "active": True,
        "status": p.status.value,
        "ticket": p.ticket.value,
        "severity": p.severity.value,
        "root_cause_id": p.root_cause_id,
        "members": p.members,
        "firing": p.firing,
        "live": p.live,
        "first_seen": p.first_seen,
        "episode_start": p.episode_start,
        "quiet_since": p.quiet_since,
        "resolved_at": p.resolved_at,
        "muted_by": p.muted_by,
        "mute_noted": p.mute_noted,
        "previous_problem_id": p.previous_problem_id,
        "pending_joins": p.pending_joins,
        "pending": list(p.pending),
        "due_at": p.due_at,
        "last_change": p.last_change,
    }


def _member_row(m: Member) -> dict[str, Any]:
    return {
        "problem_id": m.problem_id,
        "incident_id": m.incident.id,
        "status": m.status.value,
        "severity": m.severity.value,
        "muted_by": m.muted_by,
        "joined_at": m.joined_at,
    }


def _to_member(row: Any, incident: Incident) -> Member:
    return Member(row.problem_id, incident, Status(row.status), Severity(row.severity), row.muted_by, row.joined_at)


def _joined() -> Any:
    """Member columns (prefixed ``m_``) joined with their incident's row."""
    m = problem_members.c
    cols = [
        m.problem_id.label("m_problem_id"),
        m.status.label("m_status"),
        m.severity.label("m_severity"),
        m.muted_by.label("m_muted_by"),
        m.joined_at.label("m_joined_at"),
    ]
    return select(incidents, *cols).join(problem_members, incidents.c.id == m.incident_id)


def _to_joined_member(row: Any) -> Member:
    return Member(
        row.m_problem_id,
        row_to_incident(row),
        Status(row.m_status),
        Severity(row.m_severity),
        row.m_muted_by,
        row.m_joined_at,
    )


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    wanted = list(dict.fromkeys(values))
    for start in range(0, len(wanted), _CHUNK):
        yield wanted[start : start + _CHUNK]


def load_state(
    conn: Connection,
    incidents_by_id: dict[str, Incident],
    hashes: Iterable[str],
    problem_ids: Iterable[str] = (),
    lock: bool = False,
) -> State:
    """Problems touched by these incidents or group hashes, their members among the incidents, their roots."""
    state = State()
    member_rows = []
    for chunk in _chunks(incidents_by_id):
        member_rows += list(conn.execute(select(problem_members).where(problem_members.c.incident_id.in_(chunk))))
    wanted = {r.problem_id for r in member_rows} | set(problem_ids)
    found: list[Any] = []
    for chunk in _chunks(wanted):
        found += _select(conn, problems.c.id.in_(chunk), lock)
    for chunk in _chunks(hashes):
        found += _select(conn, and_(flag(problems.c.active), problems.c.group_hash.in_(chunk)), lock)
    for row in found:
        state.add_problem(_to_problem(row))
    for row in member_rows:
        if row.problem_id in state.problems:
            state.add_member(_to_member(row, incidents_by_id[row.incident_id]))
    _load_roots(conn, state)
    return state


def _select(conn: Connection, where: Any, lock: bool) -> list[Any]:
    query = select(problems).where(where)
    if lock and conn.dialect.name != "sqlite":
        query = query.with_for_update()
    return list(conn.execute(query))


def _load_roots(conn: Connection, state: State) -> None:
    roots = {(p.id, p.root_cause_id) for p in state.problems.values() if p.root_cause_id}
    missing = [key for key in roots if key not in state.members]
    for chunk in _chunks(pid for pid, _ in missing):
        query = _joined().where(problem_members.c.problem_id.in_(chunk))
        query = query.where(problem_members.c.incident_id.in_([iid for pid, iid in missing if pid in chunk]))
        for row in conn.execute(query):
            state.add_member(_to_joined_member(row))


def load_firing_members(conn: Connection, state: State, problem_ids: Iterable[str]) -> None:
    """Add every firing member of these problems (root-cause re-election, mute re-check)."""
    for chunk in _chunks(problem_ids):
        query = _joined().where(
            problem_members.c.problem_id.in_(chunk), problem_members.c.status == Status.FIRING.value
        )
        for row in conn.execute(query):
            state.add_member(_to_joined_member(row))


def load_due(conn: Connection, now: datetime, limit: int = 500) -> State:
    """Open problems whose next look is due, with their root causes."""
    state = State()
    query = select(problems).where(problems.c.due_at <= now, problems.c.status == ProblemStatus.OPEN.value)
    for row in conn.execute(query.order_by(problems.c.due_at).limit(limit)):
        state.add_problem(_to_problem(row))
    _load_roots(conn, state)
    return state


def write(conn: Connection, outcome: Outcome) -> None:
    """Persist one outcome: new problems (retiring the previous of their group), changes, members, timeline."""
    created = [p for pid, p in outcome.problems.items() if pid in outcome.created]
    retire = [p.previous_problem_id for p in created if p.previous_problem_id]
    for chunk in _chunks(retire):
        conn.execute(update(problems).where(problems.c.id.in_(chunk)).values(active=False))
    if created:
        insert_rows(conn, problems, [_problem_row(p) for p in created])
    changed = [_problem_row(p) for pid, p in outcome.problems.items() if pid not in outcome.created]
    if changed:
        for row in changed:
            row["b_id"] = row.pop("id")
            row.pop("active")
        values: dict[str, Any] = {key: bindparam(key) for key in changed[0] if key != "b_id"}
        conn.execute(update(problems).where(problems.c.id == bindparam("b_id")).values(values), changed)
    new = [_member_row(m) for key, m in outcome.members.items() if key in outcome.joined]
    if new:
        insert_rows(conn, problem_members, new)
    old = [_member_row(m) for key, m in outcome.members.items() if key not in outcome.joined]
    if old:
        for row in old:
            row["b_pid"], row["b_iid"] = row.pop("problem_id"), row.pop("incident_id")
        stmt = update(problem_members).where(
            problem_members.c.problem_id == bindparam("b_pid"), problem_members.c.incident_id == bindparam("b_iid")
        )
        conn.execute(stmt.values({k: bindparam(k) for k in old[0] if not k.startswith("b_")}), old)
    if outcome.timeline:
        insert_rows(
            conn, problem_timeline, [{"problem_id": p, "at": at, "text": t} for p, at, t in outcome.timeline]
        )


def view_parts(
    conn: Connection, problem: Problem, limit: int
) -> tuple[Incident | None, list[Incident], int, list[tuple[datetime, str]]]:
    """What a ticket shows of a problem: root incident, first ``limit`` symptoms (firing first), count, timeline."""
    root = (
        load_by_ids(conn, [problem.root_cause_id]).get(problem.root_cause_id or "") if problem.root_cause_id else None
    )
    query = (
        select(incidents)
        .join(problem_members, incidents.c.id == problem_members.c.incident_id)
        .where(
            problem_members.c.problem_id == problem.id, problem_members.c.incident_id != (problem.root_cause_id or "")
        )
        .order_by(problem_members.c.status, problem_members.c.joined_at, incidents.c.id)
        .limit(limit)
    )
    symptoms = [row_to_incident(row) for row in conn.execute(query)]
    total = problem.members - (1 if root is not None else 0)
    recent = (
        select(problem_timeline.c.at, problem_timeline.c.text)
        .where(problem_timeline.c.problem_id == problem.id)
        .order_by(problem_timeline.c.id.desc())
        .limit(50)
    )
    timeline = [(row.at, row.text) for row in conn.execute(recent)][::-1]
    return root, symptoms, total, timeline


def list_problems(conn: Connection, *, open_only: bool = False, limit: int = 1000) -> list[Problem]:
    """Problems, newest first."""
    query = select(problems)
    if open_only:
        query = query.where(problems.c.status == ProblemStatus.OPEN.value)
    return [_to_problem(r) for r in conn.execute(query.order_by(problems.c.first_seen.desc()).limit(limit))]


def members_of(conn: Connection, problem_id: str) -> list[tuple[str, str]]:
    """(incident id, member status) of one problem."""
    query = select(problem_members.c.incident_id, problem_members.c.status).where(
        problem_members.c.problem_id == problem_id
    )
    return [(r.incident_id, r.status) for r in conn.execute(query)]


def count_open(conn: Connection) -> int:
    query = select(func.count()).where(problems.c.status == ProblemStatus.OPEN.value)
    return int(conn.execute(query).scalar() or 0)


def timeline_of(conn: Connection, problem_id: str) -> list[tuple[datetime, str]]:
    query = select(problem_timeline.c.at, problem_timeline.c.text).where(problem_timeline.c.problem_id == problem_id)
    return [(r.at, r.text) for r in conn.execute(query.order_by(problem_timeline.c.id))]
