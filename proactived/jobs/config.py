"""Job definitions (``jobs:`` and the optional ``jobs_dir`` folder) and when each job is expected to check in."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from proactived import schedules
from proactived.config.base import ConfigModel, Duration
from proactived.config.secrets import Secret
from proactived.errors import ConfigError
from proactived.model import Severity
from proactived.rules.matchers import parse_matcher

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")


class JobConfig(ConfigModel):
    """One scheduled task that checks in: when it should run, how long it may take, what its alerts carry."""

    name: str
    """Unique job name; check-ins address it as /api/v1/jobs/NAME/…."""
    kind: Literal["backup", "update", "other"] = "other"
    """What the job does; carried as the `kind` label of its alerts (rules route backups and updates)."""
    schedule: str | None = None  # five-field cron, evaluated in ``timezone``
    """Five-field cron expression of when a run should start, evaluated in `timezone`."""
    every: Duration | None = None  # or a period counted from the last check-in
    """Instead of `schedule`: a run is due this long after the last check-in."""
    timezone: str = "UTC"
    """IANA time zone of `schedule` (e.g. Europe/Berlin); daylight-saving changes are handled."""
    grace: Duration = timedelta(minutes=30)
    """How long after its due time a run may start before the job is late."""
    max_runtime: Duration | None = None
    """A run still going after this long is overrun (and its `disturbs` window ends)."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Labels added to the job's alerts (host, service, team…), for rules and reports."""
    severity: Severity = Severity.HIGH
    """Severity of the job's late/failed/overrun alerts."""
    token: Secret | None = None
    """Bearer token accepted for this job's check-ins besides the global one (secret; `token_file` works too)."""
    disturbs: list[str] = Field(default_factory=list)  # matchers of alerts muted while a run is in progress
    """Matchers of alerts this job disturbs: muted as maintenance from its start to its finish or max_runtime."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError("use 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        schedules.zone(value)
        return value

    @field_validator("disturbs")
    @classmethod
    def _matchers(cls, value: list[str]) -> list[str]:
        for text in value:
            parse_matcher(text)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> JobConfig:
        if self.schedule is not None and self.every is not None:
            raise ValueError("give either schedule (cron) or every (a period), not both")
        if self.schedule is not None:
            schedules.cron(self.schedule, self.timezone)
        if self.every is not None and self.every <= timedelta(0):
            raise ValueError("every must be longer than 0s")
        if self.disturbs and self.max_runtime is None:
            raise ValueError("a job that disturbs alerts needs max_runtime, so its maintenance window always ends")
        return self

    def next_slot(self, after: datetime) -> datetime | None:
        """The first scheduled time strictly after ``after`` (None without a schedule)."""
        if self.every is not None:
            return after + self.every
        if self.schedule is None:
            return None
        return schedules.next_fire(schedules.cron(self.schedule, self.timezone), after)

    def due_after_checkin(self, checkin: datetime) -> datetime | None:
        """When the run after the one that checked in at ``checkin`` is due.

        A check-in counts for the scheduled time nearest to it, so a run starting a little early (clock skew,
        cron running a job skipped by a daylight-saving jump) does not leave its own slot unanswered.
        """
        first = self.next_slot(checkin)
        if first is None or self.every is not None:
            return first
        second = self.next_slot(first)
        if second is not None and first - checkin < (second - first) / 2:
            return second
        return first

    def describe_schedule(self) -> str:
        if self.every is not None:
            from proactived.durations import format_duration

            return f"every {format_duration(self.every)}"
        return f"{self.schedule} ({self.timezone})" if self.schedule else "unscheduled"


class JobsFolder(str):
    """The ``jobs_dir`` path, carrying the jobs read from it when the config was validated."""

    jobs: tuple[JobConfig, ...] = ()


def _load_dir(value: str | None, info: ValidationInfo) -> JobsFolder | None:
    """Read every ``*.yaml`` file of the folder now, so ``proactived check`` and reloads report their errors."""
    if value is None:
        return None
    earlier = info.data.get("jobs") or []
    folder = JobsFolder(value)
    folder.jobs = tuple(load_job_dir(Path(value), [job.name for job in earlier]))
    return folder


JobsDir = Annotated[str, AfterValidator(_load_dir)]


def check_unique(jobs: list[JobConfig]) -> list[JobConfig]:
    seen: set[str] = set()
    for job in jobs:
        if job.name in seen:
            raise ValueError(f"job {job.name!r} is defined twice")
        seen.add(job.name)
    return jobs


UniqueJobs = Annotated[list[JobConfig], AfterValidator(check_unique)]


class _JobFile(ConfigModel):
    jobs: UniqueJobs = Field(default_factory=list)


def load_job_dir(folder: Path, taken: list[str]) -> list[JobConfig]:
    """Every job of ``folder/*.yaml`` (each file: ``jobs: [...]``); ConfigError with located problems."""
    from proactived.config.load import validate_document
    from proactived.config.yamlsource import YamlSyntaxError, read_yaml

    if not folder.is_dir():
        raise ValueError(f"{folder} is not a readable directory")
    found: list[JobConfig] = []
    problems: list[str] = []
    names = set(taken)
    for path in sorted(folder.glob("*.yaml")):
        try:
            jobs = validate_document(read_yaml(path), _JobFile).jobs
        except YamlSyntaxError as exc:
            problems.append(str(exc))
            continue
        except ConfigError as exc:
            problems.extend(exc.problems)
            continue
        for job in jobs:
            if job.name in names:
                problems.append(f"{path}: jobs: job {job.name!r} is defined twice")
            names.add(job.name)
            found.append(job)
    if problems:
        raise ConfigError(problems)
    return found


def all_jobs(config: Any) -> dict[str, JobConfig]:
    """The jobs of the config file and of its ``jobs_dir``, by name."""
    folder = config.jobs_dir
    extra = folder.jobs if isinstance(folder, JobsFolder) else ()
    return {job.name: job for job in (*config.jobs, *extra)}
