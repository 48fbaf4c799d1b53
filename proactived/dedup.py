"""Dedup: folds repeats of one alert into one incident, handles resolve, reopen and flapping — pure logic.

``apply(states, alerts, now, settings)`` and ``tick(states, now, settings)`` take the current incident
states and return what changed plus the actions downstream stages must take. Nothing here touches the
store or the clock.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from proactived.ids import time_ordered_id
from proactived.model import Alert, Severity, Status


class IncidentEvent(StrEnum):
    """What happened to an incident, as recorded in its history and sent downstream."""

    OPENED = "opened"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    ESCALATED = "escalated"
    FLAPPING = "flapping"
    STABLE = "stable"


@dataclass(frozen=True, slots=True)
class DedupSettings:
    """Tunables from the ``dedup`` config section."""

    reopen_window: timedelta = timedelta(hours=1)
    flap_threshold: int = 4
    flap_window: timedelta = timedelta(minutes=15)
    stable_for: timedelta = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Incident:
    """One alert's deduplicated life."""

    id: str
    fingerprint: str
    source: str
    source_kind: str
    name: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    severity: Severity
    source_severity: str
    status: Status
    first_seen: datetime
    last_seen: datetime
    starts_at: datetime
    resolved_at: datetime | None = None
    count: int = 1
    flapping: bool = False
    flap_count: int = 0
    transitions: tuple[datetime, ...] = ()
    generator_url: str = ""
    suppressed: str = ""


@dataclass(frozen=True, slots=True)
class Action:
    """Something downstream must do because an incident changed (written to the outbox)."""

    event: IncidentEvent
    incident_id: str
    fingerprint: str
    at: datetime
    status: Status


@dataclass
class DedupResult:
    """Outcome of one batch: incidents to insert, to rewrite, to bump, to retire; history and actions."""

    inserted: dict[str, Incident] = field(default_factory=dict)
    changed: dict[str, Incident] = field(default_factory=dict)
    repeated: dict[str, Incident] = field(default_factory=dict)
    retired: set[str] = field(default_factory=set)
    history: list[Action] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    ignored: int = 0

    def merge(self, other: DedupResult) -> None:
        """Add what ``other`` (a batch of other fingerprints) decided."""
        self.inserted.update(other.inserted)
        self.changed.update(other.changed)
        self.repeated.update(other.repeated)
        self.retired |= other.retired
        self.history.extend(other.history)
        self.actions.extend(other.actions)
        self.ignored += other.ignored

    def record(self, event: IncidentEvent, incident: Incident, at: datetime, *, quiet: bool = False) -> None:
        """Add ``event`` to the incident history, and to the actions unless ``quiet`` (flapping)."""
        action = Action(event, incident.id, incident.fingerprint, at, incident.status)
        self.history.append(action)
        if not quiet:
            self.actions.append(action)


def new_incident_id() -> str:
    """A globally unique incident id (no store round trip needed), in the order ids are made (``ids``)."""
    return time_ordered_id()


def open_incident(alert: Alert, now: datetime, incident_id: str) -> Incident:
    """A fresh incident for a firing alert."""
    return Incident(
        id=incident_id,
        fingerprint=alert.fingerprint,
        source=alert.source,
        source_kind=alert.source_kind,
        name=alert.name,
        labels=alert.labels,
        annotations=alert.annotations,
        severity=alert.severity,
        source_severity=alert.source_severity,
        status=Status.FIRING,
        first_seen=now,
        last_seen=now,
        starts_at=alert.starts_at,
        generator_url=alert.generator_url,
        suppressed=alert.suppressed,
    )


class _Batch:
    """Working state while one batch is applied; keeps the bookkeeping out of the rules."""

    def __init__(self, states: Mapping[str, Incident], settings: DedupSettings, new_id: Callable[[], str]):
        self.current = dict(states)
        self.settings = settings
        self.new_id = new_id
        self.result = DedupResult()
        self._orig_ids = {inc.id for inc in states.values()}

    def store(self, incident: Incident, *, full: bool) -> None:
        self.current[incident.fingerprint] = incident
        r = self.result
        if incident.id not in self._orig_ids:
            r.inserted[incident.id] = incident
        elif full or incident.id in r.changed:
            r.changed[incident.id] = incident
            r.repeated.pop(incident.id, None)
        else:
            r.repeated[incident.id] = incident


def _transition(incident: Incident, now: datetime, settings: DedupSettings) -> Incident:
    """Record a state change for flap detection, dropping changes older than the window."""
    recent = (*(t for t in incident.transitions if now - t < settings.flap_window), now)
    return replace(incident, transitions=recent)


def _firing(batch: _Batch, alert: Alert, now: datetime) -> None:
    settings, result = batch.settings, batch.result
    old = batch.current.get(alert.fingerprint)
    if old is None or (
        old.status is Status.RESOLVED and old.resolved_at is not None and now - old.resolved_at > settings.reopen_window
    ):
        if old is not None:
            result.retired.add(old.id)
        incident = open_incident(alert, now, batch.new_id())
        batch.store(incident, full=True)
        result.record(IncidentEvent.OPENED, incident, now)
        return
    refreshed = replace(
        old,
        last_seen=now,
        count=old.count + 1,
        annotations=alert.annotations,
        labels=alert.labels,
        generator_url=alert.generator_url or old.generator_url,
        suppressed=alert.suppressed,
        source_severity=alert.source_severity,
    )
    if old.status is Status.RESOLVED:
        _reopen(batch, refreshed, alert, now)
        return
    if alert.severity.rank < old.severity.rank:
        escalated = replace(refreshed, severity=alert.severity)
        batch.store(escalated, full=True)
        result.record(IncidentEvent.ESCALATED, escalated, now, quiet=old.flapping)
        return
    changed = alert.suppressed != old.suppressed or alert.severity is not old.severity
    batch.store(replace(refreshed, severity=alert.severity), full=changed)


def _change_state(
    batch: _Batch, incident: Incident, event: IncidentEvent, now: datetime, at: datetime | None = None
) -> None:
    """Store a fire/resolve change (recorded ``at``, default ``now``); past the flap threshold it goes quiet
    instead of downstream. Flapping is counted by when changes arrive, whatever time the source gives them."""
    settings = batch.settings
    incident = _transition(incident, now, settings)
    was_flapping = incident.flapping
    if was_flapping:
        incident = replace(incident, flap_count=incident.flap_count + 1)
    elif len(incident.transitions) >= settings.flap_threshold:
        incident = replace(incident, flapping=True, flap_count=len(incident.transitions))
    batch.store(incident, full=True)
    batch.result.record(event, incident, at or now, quiet=incident.flapping)
    if incident.flapping and not was_flapping:
        batch.result.record(IncidentEvent.FLAPPING, incident, now)


def _reopen(batch: _Batch, refreshed: Incident, alert: Alert, now: datetime) -> None:
    at = reopened_time(refreshed, alert, now)
    reopened = replace(refreshed, status=Status.FIRING, resolved_at=None, severity=alert.severity)
    _change_state(batch, reopened, IncidentEvent.REOPENED, now, at)


def reopened_time(incident: Incident, alert: Alert, now: datetime) -> datetime:
    """When the problem came back: the source's start time when it proves a new firing (after the incident was
    resolved, not after ``now``), e.g. Prometheus' ``activeAt`` before a ``for:`` clause let it fire; otherwise
    (a start time left over from the first firing, or none) when we heard."""
    if incident.resolved_at is not None and incident.resolved_at < alert.starts_at <= now:
        return alert.starts_at
    return now


def _resolved(batch: _Batch, alert: Alert, now: datetime) -> None:
    old = batch.current.get(alert.fingerprint)
    if old is None or old.status is Status.RESOLVED:
        batch.result.ignored += 1
        return
    at = resolved_time(old, alert, now)
    resolved = replace(old, status=Status.RESOLVED, resolved_at=at, last_seen=now)
    _change_state(batch, resolved, IncidentEvent.RESOLVED, now, at)


def resolved_time(incident: Incident, alert: Alert, now: datetime) -> datetime:
    """When the problem ended: the source's own end time when it gives one (Alertmanager's ``endsAt``,
    Zabbix' recovery clock), so a notification that arrives minutes late does not count as minutes of
    downtime; never before we last heard the alert firing, and never after ``now`` (a source's clock ahead
    of ours). Without an end time, when we heard."""
    if alert.ends_at is None:
        return now
    return min(now, max(incident.last_seen, alert.ends_at))


@dataclass(frozen=True, slots=True)
class RepeatState:
    """The few columns of a current incident that decide whether an alert is a plain repeat."""

    id: str
    status: Status
    severity: Severity
    suppressed: str


RunState = tuple[Status, Severity, str, str]  # status, severity, suppression, generator URL


def run_state(alert: Alert) -> RunState:
    """What must stay the same for an alert to continue a run."""
    return alert.status, alert.severity, alert.suppressed, alert.generator_url


class Run(ABC):
    """Consecutive alerts of one fingerprint in one state (``RunState``).

    Folding a batch into runs is what lets it cost one store read and at most one write per fingerprint, however
    many repeats it carries. ``apply`` over a run's ``alerts()`` (its first alert, then its last one once for
    each further repeat) stores exactly what it would over the alerts themselves: a repeat in the same state
    changes only what a later repeat overwrites (last-seen time, annotations, labels, the source's severity word)
    and the counter, which still moves once per alert. Subclasses say how the two alerts are had (built already,
    or built only when asked).
    """

    __slots__ = ("count", "fingerprint", "state")

    def __init__(self, fingerprint: str, state: RunState) -> None:
        self.fingerprint = fingerprint
        self.state = state
        self.count = 1

    @property
    def status(self) -> Status:
        return self.state[0]

    @property
    def severity(self) -> Severity:
        return self.state[1]

    @property
    def suppressed(self) -> str:
        return self.state[2]

    @property
    def generator_url(self) -> str:
        return self.state[3]

    @abstractmethod
    def first(self) -> Alert:
        """The run's first alert (or one that ``apply`` treats alike)."""

    @abstractmethod
    def last(self) -> Alert:
        """The run's latest alert."""

    def annotations(self) -> Mapping[str, str]:
        """The latest annotations (a plain repeat writes only these, the counter and the last-seen time)."""
        return self.last().annotations

    def alerts(self) -> Iterator[Alert]:
        """Alerts that ``apply`` folds into the same incident as the run's own."""
        yield self.first()
        if self.count > 1:
            last = self.last()
            for _ in range(self.count - 1):
                yield last


class AlertRun(Run):
    """A run of alerts that are already built."""

    __slots__ = ("_first", "_last")

    def __init__(self, alert: Alert) -> None:
        super().__init__(alert.fingerprint, run_state(alert))
        self._first = self._last = alert

    def first(self) -> Alert:
        return self._first

    def last(self) -> Alert:
        return self._last

    def repeat(self, alert: Alert) -> None:
        self._last = alert
        self.count += 1


def fold(alerts: Iterable[Alert]) -> list[Run]:
    """``alerts`` (in order) as runs, in the order each run began."""
    runs: list[Run] = []
    current: dict[str, AlertRun] = {}
    for alert in alerts:
        run = current.get(alert.fingerprint)
        if run is not None and run.state == run_state(alert):
            run.repeat(alert)
        else:
            current[alert.fingerprint] = run = AlertRun(alert)
            runs.append(run)
    return runs


def split_repeats(states: Mapping[str, RepeatState], runs: Sequence[Run]) -> tuple[list[Run], list[Alert]]:
    """Separate plain repeats (they only bump count, last-seen and annotations) from alerts that need ``apply``.

    A fingerprint's alerts are plain repeats when its incident is firing and they form one firing run with the
    incident's severity and suppression: ``apply`` would then change nothing but the counter, the last-seen time
    and the annotations (no history, no actions). Any other run sends all of its fingerprint's alerts to
    ``apply``, in their order.
    """
    runs_of: dict[str, int] = {}
    for run in runs:
        runs_of[run.fingerprint] = runs_of.get(run.fingerprint, 0) + 1
    plain: list[Run] = []
    for run in runs:
        state = states.get(run.fingerprint)
        if (
            state is not None
            and runs_of[run.fingerprint] == 1
            and state.status is Status.FIRING
            and run.status is Status.FIRING
            and run.severity is state.severity
            and run.suppressed == state.suppressed
        ):
            plain.append(run)
    done = {run.fingerprint for run in plain}
    return plain, [alert for run in runs if run.fingerprint not in done for alert in run.alerts()]


def apply(
    states: Mapping[str, Incident],
    alerts: Sequence[Alert],
    now: datetime,
    settings: DedupSettings,
    new_id: Callable[[], str] = new_incident_id,
) -> DedupResult:
    """Fold ``alerts`` (in order) into the latest incident of each fingerprint in ``states``."""
    batch = _Batch(states, settings, new_id)
    for alert in alerts:
        if alert.status is Status.FIRING:
            _firing(batch, alert, now)
        else:
            _resolved(batch, alert, now)
    return batch.result


def tick(states: Iterable[Incident], now: datetime, settings: DedupSettings) -> DedupResult:
    """Time-driven changes: a flapping incident quiet for ``stable_for`` stops flapping and reports its state.

    A flapping incident that settles resolved sends the resolve it held back, so a ticket opened for it
    is closed; one that settles firing sends ``stable``.
    """
    batch = _Batch({inc.fingerprint: inc for inc in states}, settings, new_incident_id)
    for incident in list(batch.current.values()):
        if not incident.flapping or not incident.transitions:
            continue
        if now - incident.transitions[-1] < settings.stable_for:
            continue
        settled = replace(incident, flapping=False, transitions=())
        batch.store(settled, full=True)
        event = IncidentEvent.RESOLVED if settled.status is Status.RESOLVED else IncidentEvent.STABLE
        batch.result.record(event, settled, now)
    return batch.result
