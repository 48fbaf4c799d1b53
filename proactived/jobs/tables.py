"""Job rows: ``job_state`` (one per job, the lifecycle between check-ins) and ``job_runs`` (every run, for reports).

``job_runs`` is what availability and job reports read: one row per run with ``job``, ``kind``, ``run_id``,
``started_at`` (null when only a finish was reported), ``finished_at`` (null while running), ``duration_seconds``,
``status`` (running | success | fail | unfinished: superseded by a later start without a finish),
``exit_status`` and ``log_tail``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Connection, Float, Index, Integer, String, Table, Text, insert, select, update

from proactived.jobs.states import JobState, Problem
from proactived.store.schema import BigId, UTCDateTime, metadata

job_state = Table(
    "job_state",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_checkin", UTCDateTime),
    Column("run_id", String(100)),
    Column("run_started_at", UTCDateTime),
    Column("last_result", String(16), nullable=False),
    Column("last_finished_at", UTCDateTime),
    Column("last_exit_status", Integer),
    Column("firing", JSON, nullable=False),
)

job_runs = Table(
    "job_runs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("job", String(100), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("run_id", String(100), nullable=False),
    Column("started_at", UTCDateTime),
    Column("finished_at", UTCDateTime),
    Column("duration_seconds", Float),
    Column("status", String(16), nullable=False),
    Column("exit_status", Integer),
    Column("log_tail", Text, nullable=False),
    Index("ix_job_runs_job_run_id", "job", "run_id"),
    Index("ix_job_runs_started_at", "started_at"),
)


def _state(row: Any) -> JobState:
    return JobState(
        name=row.name,
        created_at=row.created_at,
        last_checkin=row.last_checkin,
        run_id=row.run_id,
        run_started_at=row.run_started_at,
        last_result=row.last_result,
        last_finished_at=row.last_finished_at,
        last_exit_status=row.last_exit_status,
        firing=frozenset(Problem(p) for p in row.firing),
    )


def _values(state: JobState) -> dict[str, Any]:
    return {
        "created_at": state.created_at,
        "last_checkin": state.last_checkin,
        "run_id": state.run_id,
        "run_started_at": state.run_started_at,
        "last_result": state.last_result,
        "last_finished_at": state.last_finished_at,
        "last_exit_status": state.last_exit_status,
        "firing": sorted(p.value for p in state.firing),
    }


def load_states(conn: Connection, *, lock: bool = False) -> dict[str, JobState]:
    """Every stored job state (``lock``: SELECT … FOR UPDATE, so two daemons never both raise one alert)."""
    query = select(job_state)
    if lock and conn.dialect.name != "sqlite":
        query = query.with_for_update()
    return {row.name: _state(row) for row in conn.execute(query)}


def load_state(conn: Connection, name: str, now: datetime) -> tuple[JobState, bool]:
    """One job's state, locked; a job seen for the first time starts ``now`` (second item: it is new)."""
    query = select(job_state).where(job_state.c.name == name)
    if conn.dialect.name != "sqlite":
        query = query.with_for_update()
    row = conn.execute(query).first()
    return (_state(row), False) if row is not None else (JobState(name=name, created_at=now), True)


def save_state(conn: Connection, state: JobState, *, new: bool) -> None:
    if new:
        conn.execute(insert(job_state).values(name=state.name, **_values(state)))
    else:
        conn.execute(update(job_state).where(job_state.c.name == state.name).values(**_values(state)))


def start_run(conn: Connection, job: str, kind: str, run_id: str, now: datetime) -> None:
    """Record a run starting; an earlier run still marked running is closed as ``unfinished``."""
    conn.execute(
        update(job_runs)
        .where(job_runs.c.job == job, job_runs.c.status == "running", job_runs.c.run_id != run_id)
        .values(status="unfinished")
    )
    conn.execute(
        insert(job_runs).values(
            job=job, kind=kind, run_id=run_id, started_at=now, status="running", log_tail="", exit_status=None
        )
    )


def finish_run(
    conn: Connection, job: str, kind: str, run_id: str, status: str, exit_status: int | None, log_tail: str,
    now: datetime,
) -> float | None:
    """Record a run's end; a finish without a recorded start becomes a run of unknown duration."""
    row = conn.execute(
        select(job_runs.c.id, job_runs.c.started_at)
        .where(job_runs.c.job == job, job_runs.c.run_id == run_id, job_runs.c.finished_at.is_(None))
        .order_by(job_runs.c.id.desc())
        .limit(1)
    ).first()
    values = {"finished_at": now, "status": status, "exit_status": exit_status, "log_tail": log_tail}
    if row is None:
        conn.execute(insert(job_runs).values(job=job, kind=kind, run_id=run_id, started_at=None, **values))
        return None
    duration: float = (now - row.started_at).total_seconds()
    conn.execute(update(job_runs).where(job_runs.c.id == row.id).values(duration_seconds=duration, **values))
    return duration


def recent_runs(conn: Connection, job: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    """The newest runs first (of one job, or of all)."""
    query = select(job_runs).order_by(job_runs.c.id.desc()).limit(limit)
    if job is not None:
        query = query.where(job_runs.c.job == job)
    return [dict(row._mapping) for row in conn.execute(query)]
