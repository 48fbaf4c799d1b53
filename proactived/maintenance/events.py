"""Named telemetry of jobs and maintenance: one function per event, each a log line and a metric."""

from __future__ import annotations

import logging

from prometheus_client import Counter

from proactived import telemetry

JOB_CHECKINS = Counter("proactived_job_checkins", "Job check-ins received", ["job", "signal"], registry=None)
JOB_PROBLEMS = Counter("proactived_job_problems", "Job alerts raised or cleared", ["problem", "firing"], registry=None)
WINDOWS = Counter("proactived_maintenance_windows", "Maintenance windows created or ended", ["event"], registry=None)
# Registered with the daemon's registry like the core metrics (this module is imported before core_api installs).
telemetry.ALL_METRICS.extend([JOB_CHECKINS, JOB_PROBLEMS, WINDOWS])


def job_checkin(job: str, signal: str, run_id: str, exit_status: int | None) -> None:
    JOB_CHECKINS.labels(job, signal).inc()
    telemetry.event("job_checkin", job=job, signal=signal, run_id=run_id, exit_status=exit_status)


def job_problem(job: str, problem: str, firing: bool) -> None:
    JOB_PROBLEMS.labels(problem, "firing" if firing else "resolved").inc()
    level = logging.WARNING if firing else logging.INFO
    telemetry.event("job_problem_" + ("raised" if firing else "cleared"), level, job=job, problem=problem)


def window_created(window_id: int, origin: str, name: str, matchers: str, until: str) -> None:
    WINDOWS.labels("created").inc()
    telemetry.event("maintenance_window_created", id=window_id, origin=origin, window=name, matchers=matchers,
                    until=until)


def window_ended(window_id: int | str, early: bool) -> None:
    WINDOWS.labels("ended").inc()
    telemetry.event("maintenance_window_ended", id=window_id, early=early)


def downtime_changed(opened: int, closed: int) -> None:
    if opened or closed:
        telemetry.event("planned_downtime_recorded", opened=opened, closed=closed)
