"""Polling: one APScheduler job and one worker thread per source; what a successful or failed poll changes.

A successful poll ingests what the source reports and resolves this source's open incidents that it no
longer lists. A failed poll changes nothing of them: after ``unreachable_after`` failures in a row the
daemon raises its own ``SourceUnreachable`` alert instead, resolved by the next successful poll.

Only what changed is ingested: an alert equal to the one the previous successful poll listed, whose incident
the store still has firing, is left alone — so a steady poll writes nothing, and such an incident's count
and last-seen time stay those of the poll that last saw it change (the source's last successful poll is the
``proactived_source_last_success_timestamp_seconds`` metric). The store, not this memory, says which
incidents are firing, so the first poll after a restart (or after a resolve from elsewhere) reconciles.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from apscheduler.executors.pool import ThreadPoolExecutor
from sqlalchemy import Connection, select

from proactived import telemetry
from proactived.config.secrets import redact
from proactived.errors import InputError, StoreError, TransportError
from proactived.model import Alert, Severity, Status, fingerprint_of
from proactived.sources import build_source, metrics
from proactived.sources.base import Collected, PollConfig, Source, merged_table
from proactived.store import incidents as incident_rows
from proactived.store.schema import flag, incidents

if TYPE_CHECKING:
    from proactived.config.models import Config
    from proactived.runtime import Runtime

SELF = "proactived"
UNREACHABLE = "SourceUnreachable"
_AUTH_HINTS = ("http 401", "http 403", "not authori", "password", "re-login", "session terminated")


@dataclass(frozen=True)
class PollOutcome:
    """What one poll did (for tests and the log)."""

    ok: bool
    alerts: int = 0
    opened: int = 0
    resolved: int = 0
    error_kind: str = ""
    ingested: int = 0  # alerts and resolves handed to the ingestor: 0 when nothing changed


def unreachable_alert(config: PollConfig, status: Status, now: datetime, detail: str = "") -> Alert:
    """The daemon's own alert about a source it cannot poll; one fingerprint per source."""
    labels = {"alertname": UNREACHABLE, "source": config.name, "source_type": config.type, "severity": "high"}
    annotations = {"summary": f"proactived cannot poll the {config.type} source {config.name}"}
    if detail:
        annotations["description"] = redact(detail)[:2000]
    return Alert(
        source=SELF,
        source_kind=SELF,
        fingerprint=fingerprint_of(SELF, labels),
        labels=labels,
        annotations=annotations,
        severity=Severity.HIGH,
        source_severity="high",
        status=status,
        starts_at=now,
        ends_at=now if status is Status.RESOLVED else None,
        generator_url=config.url,
    )


def error_kind(exc: BaseException) -> str:
    """A small closed set for the ``kind`` metric label."""
    if isinstance(exc, InputError):
        return "payload"
    if isinstance(exc, TransportError):
        text = str(exc).lower()
        if "timed out" in text:
            return "timeout"
        if any(hint in text for hint in _AUTH_HINTS):
            return "auth"
        if "http " in text:
            return "http"
        return "api" if exc.permanent else "connection"
    return "internal"


def resolves(conn: Connection, source: str, fingerprints: set[str]) -> list[Alert]:
    """A resolve alert for each of ``source``'s firing incidents in ``fingerprints`` (those that left a poll).

    Full rows are read only for these: a poll that lists everything again decodes no incident's labels.
    """
    firing = (flag(incidents.c.active), incidents.c.source == source, incidents.c.status == Status.FIRING.value)
    gone = sorted(fingerprints)
    found: list[Alert] = []
    for start in range(0, len(gone), 500):
        found.extend(_resolves(conn, source, firing, gone[start : start + 500]))
    return found


def _resolves(conn: Connection, source: str, firing: tuple[Any, ...], fingerprints: list[str]) -> list[Alert]:
    query = select(
        incidents.c.fingerprint,
        incidents.c.source_kind,
        incidents.c.labels,
        incidents.c.severity,
        incidents.c.source_severity,
        incidents.c.starts_at,
    ).where(*firing, incidents.c.fingerprint.in_(fingerprints))
    return [
        Alert(
            source=source,
            source_kind=row.source_kind,
            fingerprint=row.fingerprint,
            labels=row.labels,
            annotations={},
            severity=Severity(row.severity),
            source_severity=row.source_severity,
            status=Status.RESOLVED,
            starts_at=row.starts_at,
        )
        for row in conn.execute(query)
    ]


class SourcePoller:
    """Polls one source; keeps the count of consecutive failures and what the last successful poll listed."""

    def __init__(self, rt: Runtime, source: Source) -> None:
        self.rt = rt
        self.source = source
        self.config = source.config
        self.failures = 0
        self.listed: dict[str, Alert] = {}

    def poll(self) -> PollOutcome:
        """One poll; never raises (errors are counted, logged and, past the threshold, alerted)."""
        started = time.perf_counter()
        table = merged_table(self.rt.config.severity_map, self.config.severity_map)
        try:
            collected = self.source.collect(table)
        except (TransportError, InputError) as exc:
            return self._failed(error_kind(exc), str(exc), started)
        except Exception as exc:  # the poll boundary: a client library or a bug; counts as a failed poll
            telemetry.loop_error(f"source {self.config.name}", exc)
            return self._failed("internal", repr(exc), started)
        now = self.rt.clock.now()
        try:
            batch = self._batch(collected, now)
            summary = self.rt.ingestor.ingest(batch, source=self.config.name) if batch else None
        except StoreError as exc:  # the source answered: not its failure, and nothing was changed
            metrics.poll_failed(self.config.name, "store", str(exc), time.perf_counter() - started, self.failures)
            return PollOutcome(False, error_kind="store")
        self.listed = {a.fingerprint: a for a in collected.alerts}
        if self.failures >= self.config.unreachable_after:
            metrics.source_reachable(self.config.name)
        self.failures = 0
        firing = sum(1 for a in collected.alerts if a.status is Status.FIRING)
        opened, resolved = (summary.opened, summary.resolved) if summary else (0, 0)
        seconds = time.perf_counter() - started
        metrics.poll_succeeded(self.config.name, seconds, firing, opened, resolved, now.timestamp())
        return PollOutcome(True, firing, opened, resolved, ingested=len(batch))

    def _batch(self, collected: Collected, now: datetime) -> list[Alert]:
        """What the poll changes: new or changed alerts, firing ones whose incident the store does not have
        firing, resolves for firing incidents it no longer lists, and our own unreachable resolve."""
        seen = {a.fingerprint for a in collected.alerts} | collected.keep
        ours = unreachable_alert(self.config, Status.RESOLVED, now)
        with self.rt.store.reading() as conn:
            firing = incident_rows.firing_fingerprints(conn, self.config.name)
            gone = resolves(conn, self.config.name, firing - seen)
            mine = incident_rows.load_active(conn, [ours.fingerprint]).get(ours.fingerprint)
        if mine is not None and mine.status is Status.FIRING:
            gone.append(ours)
        changed = [
            a
            for a in collected.alerts
            if self._changed(a) or (a.status is Status.FIRING and a.fingerprint not in firing)
        ]
        return [*changed, *(_resolved_at(a, now) for a in gone)]

    def _changed(self, alert: Alert) -> bool:
        """New since the last successful poll, or different (a source that reuses its alerts hands the same one)."""
        before = self.listed.get(alert.fingerprint)
        return before is None or (before is not alert and before != alert)

    def _failed(self, kind: str, error: str, started: float) -> PollOutcome:
        self.failures += 1
        metrics.poll_failed(self.config.name, kind, error, time.perf_counter() - started, self.failures)
        if self.failures >= self.config.unreachable_after:
            if self.failures == self.config.unreachable_after:
                metrics.source_unreachable(self.config.name, self.failures)
            detail = f"{self.failures} polls in a row failed; last error ({kind}): {error}"
            alert = unreachable_alert(self.config, Status.FIRING, self.rt.clock.now(), detail)
            try:
                self.rt.ingestor.ingest([alert], source=SELF)
            except StoreError as exc:
                telemetry.store_error("source unreachable alert", exc)
        return PollOutcome(False, error_kind=kind)

    def close(self) -> None:
        self.source.close()


def _resolved_at(alert: Alert, now: datetime) -> Alert:
    return Alert(
        source=alert.source,
        source_kind=alert.source_kind,
        fingerprint=alert.fingerprint,
        labels=alert.labels,
        annotations=alert.annotations,
        severity=alert.severity,
        source_severity=alert.source_severity,
        status=Status.RESOLVED,
        starts_at=alert.starts_at,
        ends_at=now,
        generator_url=alert.generator_url,
    )


class Pollers:
    """The scheduled pollers of the running config; a reload replaces only the sources whose config changed."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.pollers: dict[str, SourcePoller] = {}

    def apply(self, config: Config) -> None:
        wanted = {s.name: s for s in config.sources}
        for name, poller in list(self.pollers.items()):
            if wanted.get(name) != poller.config:
                self._remove(name)
        for name, source_config in wanted.items():
            if name not in self.pollers:
                self._add(SourcePoller(self.rt, build_source(source_config, self.rt.clock.now)))

    def _add(self, poller: SourcePoller) -> None:
        name = poller.config.name
        self.pollers[name] = poller
        # its own thread, so a source that hangs until its timeout delays nothing else
        self.rt.scheduler.add_executor(ThreadPoolExecutor(max_workers=1), alias=f"source:{name}")
        self.rt.scheduler.add_job(
            poller.poll,
            "interval",
            seconds=poller.config.interval.total_seconds(),
            id=f"source:{name}",
            executor=f"source:{name}",
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),  # APScheduler runs on wall time; first poll at once
        )

    def _remove(self, name: str) -> None:
        poller = self.pollers.pop(name)
        self.rt.scheduler.remove_job(f"source:{name}")
        self.rt.scheduler.remove_executor(f"source:{name}")
        poller.close()


def install(rt: Runtime) -> None:
    """Schedule a poller per configured source; re-plan on reload."""
    pollers = Pollers(rt)
    pollers.apply(rt.config)
    rt.reload_hooks.append(pollers.apply)
