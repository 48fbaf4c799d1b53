"""Store-backed report inputs read from the tables of the maintenance, jobs, rules and sinks features.

Those tables belong to other features' migrations, so they are described here with lightweight
``table()`` constructs (only the columns read, nothing registered on the shared metadata) and used only
when the database has them; otherwise the report says the figure is not recorded.

- ``planned_downtime`` (maintenance): ``matchers`` JSON list, ``started_at``, ``planned_end``, ``ended_at``;
- ``job_runs`` (jobs): ``job``, ``kind``, ``started_at``, ``finished_at``, ``status`` (success | fail |
  unfinished | running); a ``JobLate`` incident (source ``jobs``, label ``job``) is a missed run;
- ``tickets`` (sinks) ``acknowledged_at`` per ``problem_id``, and ``problem_members`` (rules) mapping
  problems to incidents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import JSON, String, column, func, inspect, select, table

from proactived.reports.inputs import Inputs
from proactived.reports.model import JobRun, MaintenanceSpan
from proactived.store import Store
from proactived.store.schema import UTCDateTime, incident_history, incidents

ACK_GRACE = timedelta(days=7)  # an outage late in the period may be acknowledged after it ends

_planned = table(
    "planned_downtime",
    column("matchers", JSON),
    column("reason", String),
    column("started_at", UTCDateTime),
    column("planned_end", UTCDateTime),
    column("ended_at", UTCDateTime),
)
_runs = table(
    "job_runs",
    column("job", String),
    column("kind", String),
    column("status", String),
    column("started_at", UTCDateTime),
    column("finished_at", UTCDateTime),
)
_tickets = table("tickets", column("problem_id", String), column("acknowledged_at", UTCDateTime))
_members = table("problem_members", column("problem_id", String), column("incident_id", String))
_STATUS = {"success": "success", "fail": "failed", "unfinished": "failed", "running": "running"}


@dataclass(frozen=True)
class StoredPlannedDowntime:
    store: Store
    now: datetime

    def spans(self, start: datetime, end: datetime) -> list[MaintenanceSpan]:
        ended = func.coalesce(_planned.c.ended_at, _planned.c.planned_end)
        query = select(_planned).where(_planned.c.started_at < end, ended > start)
        with self.store.reading() as conn:
            rows = list(conn.execute(query))
        return [
            MaintenanceSpan(
                r.started_at,
                min(r.ended_at or r.planned_end, self.now),
                tuple(r.matchers),
                r.reason,
            )
            for r in rows
        ]


@dataclass(frozen=True)
class StoredJobRuns:
    store: Store

    def runs(self, start: datetime, end: datetime) -> list[JobRun]:
        begun = func.coalesce(_runs.c.started_at, _runs.c.finished_at)
        query = select(_runs).where(begun >= start, begun < end)
        late = (
            select(incidents.c.labels, incident_history.c.at)
            .join(incidents, incidents.c.id == incident_history.c.incident_id)
            .where(
                incidents.c.source == "jobs",
                incidents.c.name == "JobLate",
                incident_history.c.event.in_(("opened", "reopened")),
                incident_history.c.at >= start,
                incident_history.c.at < end,
            )
        )
        with self.store.reading() as conn:
            runs = [JobRun(r.job, r.kind, _STATUS.get(r.status, r.status), r.started_at, r.finished_at)
                    for r in conn.execute(query)]  # fmt: skip
            kinds = {r.job: r.kind for r in runs}
            for labels, _at in conn.execute(late):
                job = labels.get("job", "?")
                runs.append(JobRun(job, labels.get("kind", kinds.get(job, "")), "late"))
        return runs


@dataclass(frozen=True)
class StoredAcknowledgements:
    store: Store

    def first_acks(self, start: datetime, end: datetime) -> dict[str, float]:
        query = (
            select(_members.c.incident_id, func.min(_tickets.c.acknowledged_at))
            .select_from(_tickets.join(_members, _members.c.problem_id == _tickets.c.problem_id))
            .where(_tickets.c.acknowledged_at >= start, _tickets.c.acknowledged_at < end + ACK_GRACE)
            .group_by(_members.c.incident_id)
        )
        with self.store.reading() as conn:
            return {iid: _as_utc(at).timestamp() for iid, at in conn.execute(query) if at is not None}


def _as_utc(value: object) -> datetime:
    """``min()`` loses the column type on SQLite (naive text comes back): read it as UTC."""
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def inputs_for(store: Store, now: datetime) -> Inputs:
    """The inputs this database can give: stored ones where the owning feature's tables exist."""
    with store.reading() as conn:
        names = set(inspect(conn).get_table_names())
    base = Inputs()
    return Inputs(
        planned=StoredPlannedDowntime(store, now) if "planned_downtime" in names else base.planned,
        jobs=StoredJobRuns(store) if "job_runs" in names else base.jobs,
        acks=StoredAcknowledgements(store) if {"tickets", "problem_members"} <= names else base.acks,
    )
