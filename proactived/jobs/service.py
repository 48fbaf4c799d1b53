"""Job transactions: a check-in or a periodic evaluation, the run record, the job's maintenance window and the
alerts it raises or clears are written together, so a crash can never leave a late job without its incident."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from proactived import dedup, ingest
from proactived.jobs import tables
from proactived.jobs.config import JobConfig, all_jobs
from proactived.jobs.states import Change, Finish, JobState, JobStatus, Signal, check_in, evaluate, status_of
from proactived.maintenance import events
from proactived.maintenance import tables as window_tables
from proactived.maintenance.service import Maintenance
from proactived.model import Alert, Status, source_fingerprint
from proactived.runtime import Runtime, dedup_settings
from proactived.store import incidents as incident_rows

SOURCE = "jobs"


@dataclass(frozen=True)
class CheckinResult:
    job: str
    signal: Signal
    run_id: str
    status: JobStatus


def job_alert(job: JobConfig, change: Change, now: datetime) -> Alert:
    """The alert a job problem raises or clears; its identity is the job and the problem, nothing else."""
    labels = {
        **job.labels,
        "alertname": change.problem.value,
        "job": job.name,
        "kind": job.kind,
        "severity": job.severity.value,
    }
    return Alert(
        source=SOURCE,
        source_kind=SOURCE,
        fingerprint=source_fingerprint(SOURCE, f"{job.name}/{change.problem.value}"),
        labels=labels,
        annotations=dict(change.annotations),
        severity=job.severity,
        source_severity=job.severity.value,
        status=Status.FIRING if change.firing else Status.RESOLVED,
        starts_at=now,
        ends_at=None if change.firing else now,
    )


class Jobs:
    """Check-ins and the periodic evaluation of every configured job."""

    def __init__(self, rt: Runtime, maintenance: Maintenance) -> None:
        self.rt = rt
        self.maintenance = maintenance

    def jobs(self) -> dict[str, JobConfig]:
        return all_jobs(self.rt.config)

    def check_in(self, job: JobConfig, signal: Signal, run_id: str | None, finish: Finish) -> CheckinResult:
        now = self.rt.clock.now()
        with self.rt.store.transaction() as conn:
            state, new = tables.load_state(conn, job.name, now)
            run = run_id or (state.run_id if signal is not Signal.START and state.run_id else uuid.uuid4().hex)
            updated, changes = check_in(job, state, signal, now, run, finish)
            tables.save_state(conn, updated, new=new)
            self._record_run(conn, job, signal, run, finish, now)
            self._windows(conn, job, signal, run, now)
            self._raise(conn, job, changes, now)
            stored = self.maintenance.sync(conn, now)
        self.maintenance.use(stored)
        events.job_checkin(job.name, signal.value, run, finish.exit_status)
        for change in changes:
            events.job_problem(job.name, change.problem.value, change.firing)
        return CheckinResult(job.name, signal, run, status_of(job, updated, now))

    def tick(self) -> int:
        """Evaluate every job once; returns how many alerts were raised or cleared."""
        now = self.rt.clock.now()
        jobs = self.jobs()
        raised: list[tuple[str, Change]] = []
        with self.rt.store.transaction() as conn:
            states = tables.load_states(conn, lock=True)
            for name, job in jobs.items():
                state = states.get(name)
                if state is None:
                    tables.save_state(conn, JobState(name=name, created_at=now), new=True)
                    continue
                updated, changes = evaluate(job, state, now)
                if changes:
                    tables.save_state(conn, updated, new=False)
                    self._raise(conn, job, changes, now)
                    raised += [(name, c) for c in changes]
            raised += self._retire_removed(conn, states, jobs, now)
        for name, change in raised:
            events.job_problem(name, change.problem.value, change.firing)
        return len(raised)

    def _retire_removed(
        self, conn: Connection, states: dict[str, JobState], jobs: dict[str, JobConfig], now: datetime
    ) -> list[tuple[str, Change]]:
        """A job removed from the config while its alerts fire: clear them (we raised them, we close them)."""
        cleared = []
        for name, state in states.items():
            if name in jobs or not state.firing:
                continue
            ghost = JobConfig(name=name)
            changes = [Change(p, False, {"summary": f"job {name} was removed from the configuration"})
                       for p in sorted(state.firing)]
            self._raise(conn, ghost, changes, now)
            tables.save_state(conn, JobState(name=name, created_at=state.created_at), new=False)
            cleared += [(name, c) for c in changes]
        return cleared

    def _record_run(
        self, conn: Connection, job: JobConfig, signal: Signal, run: str, finish: Finish, now: datetime
    ) -> None:
        if signal is Signal.START:
            tables.start_run(conn, job.name, job.kind, run, now)
        else:
            tables.finish_run(conn, job.name, job.kind, run, signal.value, finish.exit_status, finish.log_tail, now)

    def _windows(self, conn: Connection, job: JobConfig, signal: Signal, run: str, now: datetime) -> None:
        """A job that disturbs alerts mutes them from its start until it finishes or reaches max_runtime."""
        if not job.disturbs:
            return
        window_tables.end_for_job(conn, job.name, now)
        if signal is Signal.START:
            assert job.max_runtime is not None  # enforced by the config model
            reason = f"{job.kind} job {job.name} run {run} in progress"
            window_tables.create(conn, "job", job.name, list(job.disturbs), reason, f"job:{job.name}", now,
                                 now + job.max_runtime, now)

    def _raise(self, conn: Connection, job: JobConfig, changes: Sequence[Change], now: datetime) -> None:
        """Run the job's alerts through dedup inside this transaction (the path ``Ingestor.ingest`` takes)."""
        if not changes:
            return
        alerts = [job_alert(job, change, now) for change in changes]
        current = incident_rows.load_active(conn, (a.fingerprint for a in alerts), lock=True)
        result = dedup.apply(current, alerts, now, dedup_settings(self.rt.config))
        ingest.persist(conn, result, {}, now)

