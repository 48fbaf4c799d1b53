"""A job's lifecycle as pure functions: ``(job, state, now)`` in, new state and alert changes out.

Three problems can be open for a job, each its own alert: ``JobLate`` (no check-in by the scheduled time
plus grace), ``JobFailed`` (the last run reported failure) and ``JobOverrun`` (a run has been going longer
than ``max_runtime``). Any check-in ends lateness; a new start or any finish ends an overrun; only a
success ends a failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

from proactived.durations import format_duration
from proactived.jobs.config import JobConfig


class JobStatus(StrEnum):
    """What ``proactived jobs`` shows."""

    NEW = "new"  # no check-in yet and not yet due
    UP = "up"
    RUNNING = "running"
    LATE = "late"
    FAILED = "failed"
    OVERRUN = "overrun"


class Problem(StrEnum):
    """The alert names a job can raise."""

    LATE = "JobLate"
    FAILED = "JobFailed"
    OVERRUN = "JobOverrun"


class Signal(StrEnum):
    """A check-in."""

    START = "start"
    SUCCESS = "success"
    FAIL = "fail"


@dataclass(frozen=True)
class JobState:
    """What the store remembers of one job between check-ins."""

    name: str
    created_at: datetime
    last_checkin: datetime | None = None
    run_id: str | None = None  # the run in progress
    run_started_at: datetime | None = None
    last_result: str = ""  # success | fail
    last_finished_at: datetime | None = None
    last_exit_status: int | None = None
    firing: frozenset[Problem] = frozenset()


@dataclass(frozen=True)
class Change:
    """An alert to raise (``firing``) or clear, with the annotations that explain it."""

    problem: Problem
    firing: bool
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Finish:
    """What a success or fail check-in reports about its run."""

    exit_status: int | None = None
    log_tail: str = ""
    run_id: str | None = None


def due_at(job: JobConfig, state: JobState) -> datetime | None:
    """When the next check-in is expected (None for an unscheduled job)."""
    if state.last_checkin is None:
        return job.next_slot(state.created_at)
    return job.due_after_checkin(state.last_checkin)


def is_overrun(job: JobConfig, state: JobState, now: datetime) -> bool:
    started = state.run_started_at
    return started is not None and job.max_runtime is not None and now >= started + job.max_runtime


def is_late(job: JobConfig, state: JobState, now: datetime) -> bool:
    due = due_at(job, state)
    return due is not None and now >= due + job.grace


def status_of(job: JobConfig, state: JobState, now: datetime) -> JobStatus:
    """The state shown to operators, derived from the stored state and the time."""
    if state.run_id is not None and is_overrun(job, state, now):
        return JobStatus.OVERRUN
    if is_late(job, state, now):
        return JobStatus.LATE
    if state.run_id is not None:
        return JobStatus.RUNNING
    if state.last_result == "fail":
        return JobStatus.FAILED
    return JobStatus.UP if state.last_result == "success" else JobStatus.NEW


def evaluate(job: JobConfig, state: JobState, now: datetime) -> tuple[JobState, list[Change]]:
    """The periodic check: raise JobLate and JobOverrun once, when their time has come."""
    changes: list[Change] = []
    if Problem.LATE not in state.firing and is_late(job, state, now):
        due = due_at(job, state)
        assert due is not None
        last = f"{state.last_checkin:%Y-%m-%d %H:%M:%S}Z" if state.last_checkin else "never"
        changes.append(
            Change(
                Problem.LATE,
                True,
                {
                    "summary": f"{job.kind} job {job.name} did not check in by {due + job.grace:%Y-%m-%d %H:%M}Z",
                    "description": f"Expected at {due:%Y-%m-%d %H:%M}Z (schedule {job.describe_schedule()}, "
                    f"grace {format_duration(job.grace)}); last check-in: {last}.",
                },
            )
        )
    if Problem.OVERRUN not in state.firing and state.run_id is not None and is_overrun(job, state, now):
        assert state.run_started_at is not None and job.max_runtime is not None
        changes.append(
            Change(
                Problem.OVERRUN,
                True,
                {
                    "summary": f"{job.kind} job {job.name} is running longer than {format_duration(job.max_runtime)}",
                    "description": f"Run {state.run_id} started at {state.run_started_at:%Y-%m-%d %H:%M:%S}Z "
                    "and has not finished.",
                    "run_id": state.run_id,
                },
            )
        )
    return _apply(state, changes), changes


def check_in(
    job: JobConfig, state: JobState, signal: Signal, now: datetime, run_id: str, finish: Finish | None = None
) -> tuple[JobState, list[Change]]:
    """A start, success or fail check-in; ``run_id`` is the run it belongs to."""
    changes = [Change(Problem.LATE, False, {"summary": f"{job.name} checked in ({signal.value})"})]
    if signal is Signal.START:
        new = replace(state, last_checkin=now, run_id=run_id, run_started_at=now)
        changes.append(Change(Problem.OVERRUN, False, {"summary": f"{job.name} started a new run"}))
        return _apply(new, _only_open(state, changes)), _only_open(state, changes)
    finish = finish or Finish()
    duration = now - state.run_started_at if state.run_started_at and state.run_id == run_id else None
    new = replace(
        state,
        last_checkin=now,
        run_id=None if state.run_id in (None, run_id) else state.run_id,
        run_started_at=None if state.run_id in (None, run_id) else state.run_started_at,
        last_result=signal.value,
        last_finished_at=now,
        last_exit_status=finish.exit_status,
    )
    changes.append(Change(Problem.OVERRUN, False, {"summary": f"{job.name} finished ({signal.value})"}))
    if signal is Signal.SUCCESS:
        changes.append(Change(Problem.FAILED, False, {"summary": f"{job.name} succeeded"}))
        kept = _only_open(state, changes)
        return _apply(new, kept), kept
    kept = [*_only_open(state, changes), Change(Problem.FAILED, True, _failure(job, run_id, finish, duration))]
    return _apply(new, kept), kept


def _failure(job: JobConfig, run_id: str, finish: Finish, duration: object) -> dict[str, str]:
    status = "" if finish.exit_status is None else f" with exit status {finish.exit_status}"
    notes = {
        "summary": f"{job.kind} job {job.name} failed{status}",
        "run_id": run_id,
        "exit_status": "" if finish.exit_status is None else str(finish.exit_status),
        "log_tail": finish.log_tail,
    }
    if duration is not None:
        notes["duration"] = str(duration).split(".")[0]
    return {k: v for k, v in notes.items() if v}


def _only_open(state: JobState, changes: list[Change]) -> list[Change]:
    """Clearing a problem that is not open says nothing; drop it."""
    return [c for c in changes if c.firing or c.problem in state.firing]


def _apply(state: JobState, changes: list[Change]) -> JobState:
    firing = set(state.firing)
    for change in changes:
        (firing.add if change.firing else firing.discard)(change.problem)
    return replace(state, firing=frozenset(firing))
