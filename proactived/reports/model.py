"""The report's inputs and results as plain frozen data (what the store gives, what templates show)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

from proactived.reports.intervals import Interval
from proactived.reports.periods import Period


class IncidentSpans(NamedTuple):
    """One incident's firing intervals (epoch seconds; an ongoing one ends at ``now``).

    A named tuple, like ``Outage``: a year-long report makes one per incident, hundreds of thousands.
    """

    incident_id: str
    name: str
    labels: Mapping[str, str]
    severity: str
    down: tuple[Interval, ...]


@dataclass(frozen=True, slots=True)
class MaintenanceSpan:
    """A planned maintenance window as it happened: its matchers (Alertmanager syntax) and span."""

    start: datetime
    end: datetime
    matchers: tuple[str, ...]
    reason: str = ""


@dataclass(frozen=True, slots=True)
class JobRun:
    """One expected run of a job: ``status`` is success, failed, overrun, late (never started) or running."""

    job: str
    kind: str
    status: str
    started_at: datetime | None = None
    finished_at: datetime | None = None


class Outage(NamedTuple):
    """Merged down time of one service (overlapping or touching incidents become one outage).

    A named tuple rather than a frozen dataclass: a year-long report holds hundreds of thousands, and a
    tuple is built several times faster (``render.to_data`` writes it out field by field all the same).
    """

    start_ts: float  # epoch seconds (kept as floats, not datetimes, for the same reason)
    end_ts: float | None  # None: still down when the report was made
    duration: float  # seconds from detection to recovery (or to now)
    counted: float  # seconds inside the period and service hours, outside maintenance
    alerts: tuple[str, ...]
    incidents: int = 1
    acknowledged_after: float | None = None

    @property
    def start(self) -> datetime:
        return datetime.fromtimestamp(self.start_ts, UTC)

    @property
    def end(self) -> datetime | None:
        return None if self.end_ts is None else datetime.fromtimestamp(self.end_ts, UTC)


@dataclass(frozen=True)
class ServiceResult:
    """The figures of one service over the period."""

    name: str
    description: str
    target: float
    hours: str
    service_seconds: float  # time the SLA counts: period ∩ service hours minus planned maintenance
    downtime: float
    planned: float
    availability: float | None  # percent; None when the SLA counted no time at all
    budget_allowed: float
    budget_remaining: float  # negative when the budget is overspent
    sla_met: bool | None
    incidents: int  # incidents taking part in the counted outages
    outages: tuple[Outage, ...]
    mttr: float | None
    mtta: float | None
    mtbf: float | None
    longest: Outage | None
    noisy: tuple[tuple[str, int], ...]

    @property
    def problems(self) -> int:
        return len(self.outages)

    @property
    def budget_used_pct(self) -> float | None:
        if self.budget_allowed <= 0:
            return None if self.downtime == 0 else float("inf")
        return 100.0 * self.downtime / self.budget_allowed


@dataclass(frozen=True)
class JobResult:
    """The figures of one job over the period."""

    name: str
    kind: str
    runs: int
    succeeded: int
    failed: int
    late: int
    success_rate: float | None
    mean_duration: float | None


@dataclass(frozen=True)
class Report:
    """Everything a rendered report shows."""

    title: str
    period: Period
    generated_at: datetime
    observed_until: datetime  # the period end, or now for a period still running
    services: tuple[ServiceResult, ...]
    jobs: tuple[JobResult, ...]
    noisy: tuple[tuple[str, int], ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def breached(self) -> tuple[ServiceResult, ...]:
        return tuple(s for s in self.services if s.sla_met is False)
