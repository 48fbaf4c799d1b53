"""Job schedules in a time zone: daylight-saving changes produce no false lates, a missed night still does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from proactived.jobs.config import JobConfig
from proactived.jobs.states import JobState, Problem, Signal, check_in, evaluate

BERLIN = ZoneInfo("Europe/Berlin")


def nightly(schedule: str = "0 2 * * *") -> JobConfig:
    return JobConfig(name="backup", kind="backup", schedule=schedule, timezone="Europe/Berlin", grace="15m")


def local(day: datetime, hour: int, minute: int = 0) -> datetime:
    return day.replace(hour=hour, minute=minute, tzinfo=BERLIN).astimezone(UTC)


def run_nights(job: JobConfig, first: datetime, nights: int, at: tuple[int, int], skip: int | None = None) -> list:
    """Tick every 5 minutes for ``nights`` nights; the job checks in nightly at local ``at`` (cron's behaviour)."""
    state = JobState(name=job.name, created_at=local(first, 12))
    now = state.created_at
    raised = []
    runs = {
        local(first + timedelta(days=d), *at) for d in range(1, nights + 1) if skip is None or d != skip
    }
    end = local(first + timedelta(days=nights), 12)
    while now < end:
        now += timedelta(minutes=5)
        for start in [r for r in runs if r <= now]:
            runs.discard(start)
            state, _ = check_in(job, state, Signal.START, start, "r")
            state, _ = check_in(job, state, Signal.SUCCESS, start + timedelta(minutes=3), "r")
        state, changes = evaluate(job, state, now)
        raised += [(now, c.problem) for c in changes if c.firing]
    return raised


@pytest.mark.parametrize("schedule", ["0 2 * * *", "30 2 * * *", "0 3 * * *", "45 1 * * *"])
@pytest.mark.parametrize("first", [datetime(2026, 3, 25), datetime(2026, 10, 21)])
def test_daylight_saving_changes_in_the_jobs_time_zone_raise_no_false_late(first: datetime, schedule: str) -> None:
    job = nightly(schedule)
    minute, hour = (int(p) for p in schedule.split()[:2])
    # On 2026-03-29 02:00-03:00 does not exist in Berlin: the run lands an hour later in UTC terms.
    assert run_nights(job, first, 8, (hour, minute)) == []


def test_the_spring_forward_night_runs_at_three_and_is_not_late() -> None:
    job = nightly("30 2 * * *")
    state = JobState(name="backup", created_at=local(datetime(2026, 3, 28), 12))
    skipped_hour_run = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 03:00 CEST, cron's catch-up of 02:30
    state, _ = check_in(job, state, Signal.SUCCESS, skipped_hour_run, "r")
    state, changes = evaluate(job, state, local(datetime(2026, 3, 30), 1))
    assert changes == []


def test_a_missed_night_across_the_autumn_change_is_still_late_at_the_local_time() -> None:
    raised = run_nights(nightly(), datetime(2026, 10, 21), 8, (2, 0), skip=4)  # no run on 10-25
    # 02:15 local on 10-25 is still summer time (the clocks go back at 03:00): 00:15 UTC, raised once.
    assert raised == [(datetime(2026, 10, 25, 0, 15, tzinfo=UTC), Problem.LATE)]


def test_a_period_job_is_late_one_period_plus_grace_after_its_last_check_in() -> None:
    job = JobConfig(name="sync", every="6h", grace="10m")
    t0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
    state, _ = check_in(job, JobState(name="sync", created_at=t0), Signal.SUCCESS, t0, "r")
    assert evaluate(job, state, t0 + timedelta(hours=6, minutes=9))[1] == []
    assert [c.problem for c in evaluate(job, state, t0 + timedelta(hours=6, minutes=10))[1]] == [Problem.LATE]


def test_a_run_starting_a_little_early_answers_its_own_slot() -> None:
    job = nightly()
    state = JobState(name="backup", created_at=local(datetime(2026, 11, 1), 12))
    early = local(datetime(2026, 11, 2), 1, 59)
    state, _ = check_in(job, state, Signal.SUCCESS, early, "r")
    assert evaluate(job, state, local(datetime(2026, 11, 2), 3))[1] == []
    assert evaluate(job, state, local(datetime(2026, 11, 3), 2, 15))[1][0].problem is Problem.LATE


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"schedule": "0 2 * *"}, "bad cron expression"),
        ({"schedule": "0 2 * * *", "every": "1d"}, "not both"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"disturbs": ["host=db1"]}, "needs max_runtime"),
        ({"disturbs": ["host=~("], "max_runtime": "1h"}, "bad regular expression"),
        ({"name": "no spaces"}, "letters, digits"),
    ],
)
def test_bad_job_definitions_are_rejected_with_a_reason(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        JobConfig.model_validate({"name": "backup", **fields})
