"""Pure availability arithmetic: incident spans, maintenance and job runs in; per-service SLA figures out.

Definitions (the README repeats them for report readers):
- *service time*: the period (up to ``now``) ∩ service hours, minus planned maintenance that applies to the service;
- *downtime*: the union of the service's firing incidents, merged, clipped to the service time;
- *availability* = 100 * (1 - downtime / service time); *error budget* = (1 - target) * service time;
- *outage* (a problem, as the report counts them): one merged down span with counted downtime > 0;
  *MTTR*: mean detection-to-recovery of recovered outages; *MTBF*: up service time / outages;
  *MTTA*: mean time from outage start to the first acknowledgement of one of its incidents' tickets.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from proactived.reports.config import ServiceConfig
from proactived.reports.hours import service_intervals
from proactived.reports.intervals import Interval, clip, intersect, normalise, subtract, total
from proactived.reports.model import (
    IncidentSpans,
    JobResult,
    JobRun,
    MaintenanceSpan,
    Outage,
    Report,
    ServiceResult,
)
from proactived.reports.periods import Period
from proactived.reports.routing import ServiceIndex
from proactived.rules.matchers import matches_all, parse_matchers

NOISY = 5

def _ts(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def hours_label(service: ServiceConfig) -> str:
    h = service.hours
    if h is None:
        return "24/7"
    names = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    runs: list[list[int]] = []
    for d in h.days:
        if runs and d == runs[-1][-1] + 1:
            runs[-1].append(d)
        else:
            runs.append([d])
    days = ", ".join(names[r[0]] if len(r) == 1 else f"{names[r[0]]}\N{EN DASH}{names[r[-1]]}" for r in runs)
    return f"{days} {h.start // 60:02d}:{h.start % 60:02d}\N{EN DASH}{h.end // 60:02d}:{h.end % 60:02d} {h.time_zone}"


def _planned_for(
    service: ServiceConfig, windows: Sequence[MaintenanceSpan], label_sets: Iterable[Mapping[str, str]]
) -> list[Interval]:
    """Windows that apply to the service: they match its declared labels or the labels of one of its alerts."""
    shape = {m.name: m.value for m in service.matchers() if m.type.value == "=" and m.value}
    candidates = [shape, *label_sets]
    spans = []
    for window in windows:
        matchers = [m for text in window.matchers for m in parse_matchers(text)]
        if any(matches_all(matchers, labels) for labels in candidates):
            spans.append((window.start.timestamp(), window.end.timestamp()))
    return normalise(spans)


class _Collected:
    """Per-service working set while incidents stream in."""

    __slots__ = ("acked", "alerts", "fires", "label_sets", "spans")

    def __init__(self) -> None:
        self.spans: list[tuple[float, float, int]] = []  # (start, end, slot of the incident)
        self.alerts: list[tuple[str, ...]] = []  # alert name per slot, as an outage of that incident alone lists it
        self.acked: dict[int, float] = {}  # first acknowledgement per slot, when known
        self.label_sets: dict[int, Mapping[str, str]] = {}  # by identity: the store shares one dict per label set
        self.fires: Counter[str] = Counter()


def _collect(
    services: Sequence[ServiceConfig],
    incidents: Iterable[IncidentSpans],
    start: float,
    end: float,
    acks: Mapping[str, float],
) -> tuple[list[_Collected], Counter[str]]:
    """Assign each incident's in-period spans to the services it belongs to (streaming: one pass, any order).

    Fires are counted per route and added up at the end, routes in the order of their lowest incident id:
    alerts that fired equally often are then ranked the same way whatever order the incidents came in.
    """
    index = ServiceIndex(services)
    collected = [_Collected() for _ in services]
    # What an incident's label set, severity and name decide, worked out once: the store hands out one
    # labels dict per label set (the route holds it, so its id stays unique while routes are kept).
    routes: dict[tuple[int, str, str], _Route] = {}
    for incident_id, name, labels, severity, down in incidents:
        spans = [(s, e) for s, e in down if e > start and s < end]
        if not spans:
            continue
        route = routes.get((id(labels), severity, name))
        if route is None:
            targets = tuple(collected[k] for k in index.services_for(labels, severity))
            for c in targets:
                c.label_sets[id(labels)] = labels
            route = routes[id(labels), severity, name] = _Route(labels, name, targets, incident_id)
        elif incident_id < route.first:
            route.first = incident_id
        route.fires += sum(1 for s, _ in spans if s >= start)
        alerts = route.alerts
        for c in route.targets:
            slot = len(c.alerts)
            c.alerts.append(alerts)
            if incident_id in acks:
                c.acked[slot] = acks[incident_id]
            c.spans.extend([(s, e, slot) for s, e in spans])
    everywhere: Counter[str] = Counter()
    for route in sorted(routes.values(), key=lambda r: r.first):
        name = route.alerts[0]
        everywhere[name] += route.fires
        for c in route.targets:
            c.fires[name] += route.fires
    return collected, everywhere


class _Route:
    """Where the incidents of one label set, severity and name go, and what they add up to."""

    __slots__ = ("alerts", "fires", "first", "labels", "targets")

    def __init__(self, labels: Mapping[str, str], name: str, targets: tuple[_Collected, ...], first: str) -> None:
        self.labels = labels  # held so that its id, the route's key, is not reused
        self.alerts = (name,)  # as an outage of one of these incidents alone lists it
        self.targets = targets
        self.first = first  # the lowest incident id seen
        self.fires = 0


def _outages(c: _Collected, countable: list[Interval], now: float) -> list[Outage]:
    """Merge the service's spans into outages and measure what of each the SLA counts.

    One pass over the spans sorted by start, walking ``countable`` alongside: outages come out in order
    and do not overlap, so neither list is searched again.
    """
    spans = c.spans
    spans.sort()
    outages: list[Outage] = []
    i, j, n = 0, 0, len(spans)
    while i < n:
        start, reach, slot = spans[i]
        k = i + 1
        while k < n and spans[k][0] <= reach:
            reach = max(reach, spans[k][1])
            k += 1
        while j < len(countable) and countable[j][1] <= start:
            j += 1
        counted, m = 0.0, j
        while m < len(countable) and countable[m][0] < reach:
            counted += min(reach, countable[m][1]) - max(start, countable[m][0])
            m += 1
        if counted > 0:
            slots = (slot,) if k == i + 1 else tuple({s for _, _, s in spans[i:k]})
            outages.append(_outage(c, slots, start, reach, counted, now))
        i = k
    return outages


def _outage(c: _Collected, slots: tuple[int, ...], start: float, end: float, counted: float, now: float) -> Outage:
    """One outage from ``start`` to ``end`` made of the incidents in ``slots``."""
    alerts = c.alerts[slots[0]] if len(slots) == 1 else tuple(sorted({c.alerts[s][0] for s in slots}))
    acked = [c.acked[s] for s in slots if c.acked.get(s, -1.0) >= start] if c.acked else []
    first_ack = min(acked) - start if acked else None
    return Outage(start, None if end >= now else end, end - start, counted, alerts, len(slots), first_ack)


def service_result(
    service: ServiceConfig,
    c: _Collected,
    start: float,
    end: float,
    now: float,
    windows: Sequence[MaintenanceSpan],
) -> ServiceResult:
    """The figures of one service from its collected incident spans."""
    in_hours = service_intervals(service.hours, start, end)
    planned = intersect(in_hours, clip(_planned_for(service, windows, c.label_sets.values()), start, end))
    countable = subtract(in_hours, planned)
    service_seconds = total(countable)
    outages = _outages(c, countable, now)
    downtime = sum(o.counted for o in outages)
    allowed = (1 - service.target / 100) * service_seconds
    availability = 100.0 * (1 - downtime / service_seconds) if service_seconds > 0 else None
    recovered = [o.duration for o in outages if o.end_ts is not None]
    acked = [o.acknowledged_after for o in outages if o.acknowledged_after is not None]
    return ServiceResult(
        name=service.name,
        description=service.description,
        target=service.target,
        hours=hours_label(service),
        service_seconds=service_seconds,
        downtime=downtime,
        planned=total(planned),
        availability=availability,
        budget_allowed=allowed,
        budget_remaining=allowed - downtime,
        sla_met=None if availability is None else availability >= service.target,
        incidents=sum(o.incidents for o in outages),
        outages=tuple(outages),
        mttr=_mean(recovered),
        mtta=_mean(acked),
        mtbf=(service_seconds - downtime) / len(outages) if outages else None,
        longest=max(outages, key=lambda o: o.counted) if outages else None,
        noisy=tuple(c.fires.most_common(NOISY)),
    )


def job_results(runs: Iterable[JobRun]) -> tuple[JobResult, ...]:
    """Per job: runs, successes, failures (failed or overrun), lates, success rate, mean duration."""
    by_job: dict[str, list[JobRun]] = {}
    for run in runs:
        by_job.setdefault(run.job, []).append(run)
    results = []
    for name in sorted(by_job):
        items = by_job[name]
        succeeded = sum(1 for r in items if r.status == "success")
        failed = sum(1 for r in items if r.status in ("failed", "overrun"))
        late = sum(1 for r in items if r.status == "late")
        finished = succeeded + failed
        durations = [(r.finished_at - r.started_at).total_seconds() for r in items if r.started_at and r.finished_at]
        results.append(
            JobResult(
                name=name,
                kind=items[0].kind,
                runs=sum(1 for r in items if r.status != "late"),
                succeeded=succeeded,
                failed=failed,
                late=late,
                success_rate=100.0 * succeeded / finished if finished else None,
                mean_duration=_mean(durations),
            )
        )
    return tuple(results)


def compute(
    title: str,
    period: Period,
    now: datetime,
    services: Sequence[ServiceConfig],
    incidents: Iterable[IncidentSpans],
    windows: Sequence[MaintenanceSpan] = (),
    job_runs: Iterable[JobRun] = (),
    acks: Mapping[str, float] | None = None,
    notes: Sequence[str] = (),
) -> Report:
    """The whole report for ``period`` as known at ``now`` (a running period is cut at ``now``)."""
    start = period.start.timestamp()
    end = max(start, min(period.end.timestamp(), now.timestamp()))
    collected, noisy = _collect(services, incidents, start, end, acks or {})
    collected.reverse()  # taken in service order, so each working set is freed once its figures are made
    results = tuple(service_result(s, collected.pop(), start, end, now.timestamp(), windows) for s in services)
    return Report(
        title=title,
        period=period,
        generated_at=now,
        observed_until=_ts(end),
        services=results,
        jobs=job_results(job_runs),
        noisy=tuple(noisy.most_common(10)),
        notes=tuple(notes),
    )
