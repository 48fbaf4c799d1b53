"""The ingest step: normalised alerts in, dedup applied, incidents and outbox rows written in one transaction."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from proactived import dedup, telemetry
from proactived.clock import Clock
from proactived.dedup import Action, DedupResult, DedupSettings, Run
from proactived.errors import StoreError
from proactived.model import Alert
from proactived.store import Store, outbox
from proactived.store import incidents as incident_rows

TOPIC_INCIDENT = "incident"
SLICE_FINGERPRINTS = 2_000  # fingerprints whose state one step reads and writes at a time (bounds its memory)
Extra = Callable[[Any], None]
_ATTEMPTS = 3


@dataclass(frozen=True)
class IngestSummary:
    """What one batch did."""

    accepted: int
    opened: int
    resolved: int
    reopened: int
    ignored: int


def incident_payload(action: Action) -> dict[str, Any]:
    """The outbox payload announcing one incident event to the correlation stage."""
    return {
        "incident_id": action.incident_id,
        "fingerprint": action.fingerprint,
        "event": action.event.value,
        "status": action.status.value,
        "at": action.at.isoformat(),
    }


def persist(conn: Any, result: DedupResult, raw: dict[str, Any], now: Any) -> None:
    """Write a dedup result and its actions in the caller's transaction."""
    incident_rows.write_result(conn, result, raw)
    outbox.enqueue_many(
        conn, [(TOPIC_INCIDENT, a.incident_id, a.event.value, incident_payload(a)) for a in result.actions], now
    )


def _slices(runs: Sequence[Run], size: int) -> Iterator[Sequence[Run]]:
    """``runs`` in slices of at most ``size`` fingerprints, every run of a fingerprint in the same slice and
    the runs of a slice in their order (so a fingerprint's events keep their order; across slices a later
    fingerprint's may come first)."""
    slice_of: dict[str, int] = {}
    for run in runs:
        slice_of.setdefault(run.fingerprint, len(slice_of) // size)
    if len(slice_of) <= size:
        yield runs
        return
    for index in range((len(slice_of) - 1) // size + 1):
        yield [run for run in runs if slice_of[run.fingerprint] == index]


class Ingestor:
    """Runs dedup against the store; a 2xx for a batch is only possible after ``ingest`` returned."""

    def __init__(self, store: Store, clock: Clock, settings: Callable[[], DedupSettings]) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings

    def ingest(
        self, alerts: Sequence[Alert], source: str = "push", *, also: Extra | None = None, count: bool = True
    ) -> IngestSummary:
        """Persist ``alerts`` durably; raise StoreError when they could not be (nothing then is kept).

        ``also`` runs in the same transaction (the intake deletes the stored request it came from);
        ``count=False`` leaves them out of the received-alerts metric (the intake counted them on arrival).
        """
        return self.ingest_runs(dedup.fold(alerts), source, also=also, count=count)

    def ingest_runs(
        self, runs: Sequence[Run], source: str = "push", *, also: Extra | None = None, count: bool = True
    ) -> IngestSummary:
        """``ingest`` for alerts already folded into runs (``dedup.fold``; the intake folds stored requests)."""
        started = time.perf_counter()
        alerts = sum(run.count for run in runs)
        result = self._with_retry(runs, also)
        counts = {e: 0 for e in dedup.IncidentEvent}
        for action in result.history:
            counts[action.event] += 1
        names = {i.fingerprint: i.name for i in (*result.inserted.values(), *result.changed.values())}
        for action in result.actions:
            telemetry.incident_event(action.event.value, action.incident_id, names.get(action.fingerprint, ""))
        if count:
            telemetry.alerts_received(source, "accepted", alerts)
        telemetry.batch_ingested(
            source,
            alerts,
            counts[dedup.IncidentEvent.OPENED],
            counts[dedup.IncidentEvent.RESOLVED],
            time.perf_counter() - started,
        )
        return IngestSummary(
            alerts,
            counts[dedup.IncidentEvent.OPENED],
            counts[dedup.IncidentEvent.RESOLVED],
            counts[dedup.IncidentEvent.REOPENED],
            result.ignored,
        )

    def _with_retry(self, runs: Sequence[Run], also: Extra | None) -> DedupResult:
        """Another process may create the same incident concurrently (unique index): re-read and retry."""
        for attempt in range(_ATTEMPTS):
            try:
                return self._once(runs, also)
            except StoreError:
                if attempt == _ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _once(self, runs: Sequence[Run], also: Extra | None) -> DedupResult:
        now = self.clock.now()
        result = DedupResult()
        with self.store.transaction() as conn:
            if also is not None:
                also(conn)
            for part in _slices(runs, SLICE_FINGERPRINTS):
                result.merge(self._apply(conn, part, now))
        return result

    def _apply(self, conn: Any, runs: Sequence[Run], now: datetime) -> DedupResult:
        """Deduplicate ``runs`` in the caller's transaction: plain repeats bumped, the rest through ``apply``."""
        known = incident_rows.load_repeat_states(conn, (run.fingerprint for run in runs), lock=True)
        plain, rest = dedup.split_repeats({fp: k[0] for fp, k in known.items()}, runs)
        incident_rows.bump_repeats(
            conn,
            [
                (known[run.fingerprint][0].id, run.count, now, run.annotations(), known[run.fingerprint][1])
                for run in plain
            ],
        )
        if not rest:
            return DedupResult()
        wanted = (a.fingerprint for a in rest if a.fingerprint in known)  # others have no incident
        states = incident_rows.load_active(conn, wanted, lock=True)
        result = dedup.apply(states, rest, now, self.settings())
        persist(conn, result, {a.fingerprint: dict(a.raw) for a in rest if a.raw is not None}, now)
        return result

    def tick(self) -> int:
        """Settle incidents that stopped flapping; returns how many changed."""
        now = self.clock.now()
        with self.store.transaction() as conn:
            result = dedup.tick(incident_rows.load_flapping(conn), now, self.settings())
            persist(conn, result, {}, now)
        return len(result.changed)
