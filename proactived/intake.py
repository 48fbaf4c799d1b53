"""The push intake: a checked request body is stored as received, then a stage deduplicates it.

``POST /api/v1/alerts`` answers ``200`` once the body is committed to the ``intake`` table, which is as durable
as the incidents themselves, so a burst is accepted at the speed of checking and storing it. The ``intake``
stage then turns each stored body into alerts and runs them through the ingest step, deleting the row in the
same transaction: every accepted request is deduplicated exactly once, in arrival order, across crashes.
While requests keep arriving (less than ``quiet_seconds`` apart) the stage waits so that accepting is not
slowed by deduplicating, but never longer than ``max_wait_seconds`` behind the oldest waiting request, and not
at all once the backlog has reached half its bound: a steady stream is deduplicated in rounds about a second
apart instead of waiting for a pause that never comes. Past the bound requests are answered ``503``.
``?wait=true`` instead deduplicates in the request and answers with what it did.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from proactived import telemetry
from proactived.errors import InputError, StoreError
from proactived.ingest import Ingestor, IngestSummary
from proactived.model import Alert, Severity
from proactived.sources.push import KIND, alert_items, build_one, load_push
from proactived.store import Store
from proactived.store.engine import insert_rows
from proactived.store.schema import intake as intake_table

QUIET_SECONDS = 0.1
MAX_WAIT_SECONDS = 1.0  # the longest a stored request waits for a pause in arrivals before it is deduplicated
DRAIN_BATCH = 20  # chunks per stage round
CHUNK_REQUESTS = 100  # stored requests joined into one dedup transaction, at most
CHUNK_ALERTS = 2_000  # alerts per dedup transaction, at most (a single larger request is still taken whole)
MAX_BACKOFF_SECONDS = 5.0
MAX_STORED_ALERTS = 10**9  # re-checking a stored request: its size was accepted already


@dataclass(frozen=True)
class Backlog:
    """What waits in the intake table."""

    requests: int
    alerts: int
    oldest: datetime | None


class _TakenElsewhere(Exception):
    """The stored request was gone when its dedup tried to delete it."""


class Intake:
    """Stores checked push requests and drains them into the ingest step."""

    def __init__(
        self,
        store: Store,
        ingestor: Ingestor,
        max_queued_alerts: Callable[[], int],
        severity_table: Callable[[], dict[str, Severity] | None],
        *,
        quiet_seconds: float = QUIET_SECONDS,
        max_wait_seconds: float = MAX_WAIT_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.ingestor = ingestor
        self.max_queued_alerts = max_queued_alerts
        self.severity_table = severity_table
        self.quiet_seconds = quiet_seconds
        self.max_wait_seconds = max_wait_seconds
        self._monotonic = monotonic
        self._waiting_since: float | None = None  # when the stage first held back for arrivals, this round
        self._drain_lock = threading.Lock()  # one drainer at a time keeps arrival order
        self._count_lock = threading.Lock()
        self._last_accept = 0.0
        self._accepts = 0
        self._failures = 0
        self._retry_at = 0.0
        backlog = self.backlog()
        self._queued_requests, self._queued_alerts = backlog.requests, backlog.alerts

    # ------------------------------------------------------------------ accepting

    def full(self) -> bool:
        """True when the backlog has reached its bound: new requests must be refused (503) until it drains."""
        return self._queued_alerts >= self.max_queued_alerts()

    def accept(self, body: bytes, received_at: datetime, *, max_alerts: int) -> int:
        """Check ``body`` and store it for the stage; returns how many alerts it carried.

        InputError (nothing stored) when any alert is invalid; StoreError when it could not be stored.
        """
        alerts = len(load_push(body, max_alerts=max_alerts))
        if alerts == 0:
            return 0
        with self.store.transaction() as conn:
            insert_rows(conn, intake_table, [{"received_at": received_at, "alerts": alerts, "body": body}])
        with self._count_lock:
            self._queued_requests += 1
            self._queued_alerts += alerts
            self._last_accept = self._monotonic()
            self._accepts += 1
        return alerts

    def ingest_now(self, alerts: list[Alert]) -> IngestSummary:
        """Deduplicate in the caller (``?wait=true``): what is queued first, so order is kept, then ``alerts``."""
        with self._drain_lock:
            while self._drain_chunk():
                pass
            return self.ingestor.ingest(alerts, source=KIND)

    # ------------------------------------------------------------------ draining

    def run_once(self) -> int:
        """The ``intake`` stage: deduplicate stored requests; returns how many it handled (0 = idle or waiting)."""
        if self._queued_requests == 0 or self._deferring() or self._monotonic() < self._retry_at:
            return 0
        handled = 0
        try:
            with self._drain_lock:
                while handled < DRAIN_BATCH and not (handled and self._deferring()) and self._drain_chunk():
                    handled += 1
        except StoreError as exc:
            self._failures += 1
            self._retry_at = self._monotonic() + min(MAX_BACKOFF_SECONDS, QUIET_SECONDS * 2**self._failures)
            if self._failures == 1:  # once per outage, not once per retry
                telemetry.event("intake_store_error", logging.WARNING, error=str(exc), queued=self._queued_requests)
            return handled
        self._failures = 0
        self._waiting_since = None  # the next wait for a pause starts afresh
        return handled

    def drain(self, budget: float) -> None:
        """Deduplicate what is stored for up to ``budget`` seconds (a clean stop); the rest waits for the next start."""
        deadline = time.monotonic() + budget
        with self._drain_lock:
            while time.monotonic() < deadline and self._drain_chunk():
                pass

    def _deferring(self) -> bool:
        """Requests are arriving, the backlog is below half its bound and the stage has not yet waited
        ``max_wait_seconds`` for a pause: accepting goes first. The first time it holds back starts that wait;
        a round that deduplicates ends it (``run_once``)."""
        now = self._monotonic()
        if now - self._last_accept >= self.quiet_seconds or self._queued_alerts * 2 >= self.max_queued_alerts():
            return False
        if self._waiting_since is None:
            self._waiting_since = now
        return now - self._waiting_since < self.max_wait_seconds

    def _drain_chunk(self) -> bool:
        """Deduplicate the oldest stored requests, up to CHUNK_ALERTS alerts in one transaction.

        One chunk costs one read of the repeats' state and one commit however many requests it joins, so a
        backlog drains faster the longer it is. False when nothing is stored.
        """
        accepts = self._accepts
        with self.store.reading() as conn:
            heads = conn.execute(
                select(intake_table.c.id, intake_table.c.alerts).order_by(intake_table.c.id).limit(CHUNK_REQUESTS)
            ).all()
            if not heads:
                with self._count_lock:
                    if self._accepts == accepts:  # nothing was accepted meanwhile: the counters must be zero
                        self._queued_requests, self._queued_alerts = 0, 0
                return False
            ids: list[int] = []
            total = 0
            for row_id, count in heads:
                if ids and total + count > CHUNK_ALERTS:
                    break
                ids.append(row_id)
                total += count
            taken = conn.execute(
                select(intake_table.c.id, intake_table.c.received_at, intake_table.c.body)
                .where(intake_table.c.id.in_(ids))
                .order_by(intake_table.c.id)
            ).all()

        def delete_rows(conn: Any) -> None:
            if conn.execute(intake_table.delete().where(intake_table.c.id.in_(ids))).rowcount != len(ids):
                raise _TakenElsewhere()  # another daemon on the same store drained some: roll this back

        alerts: list[Alert] = []
        table = self.severity_table()
        for row in taken:
            alerts.extend(self._build(row.id, row.body, row.received_at, table))
        with contextlib.suppress(_TakenElsewhere):
            self.ingestor.ingest(alerts, source=KIND, also=delete_rows, count=False)
        with self._count_lock:
            self._queued_requests = max(0, self._queued_requests - len(taken))
            self._queued_alerts = max(0, self._queued_alerts - total)
        return True

    def _build(self, row_id: int, body: bytes, received_at: datetime, table: dict[str, Severity] | None) -> list[Alert]:
        """The alerts of one stored request. It was checked when accepted, so it is only decoded here; if it
        no longer builds (a later version checks differently), it is logged with what is wrong and skipped."""
        try:
            return [build_one(item, received_at, table) for item in alert_items(json.loads(body))]
        except Exception:  # any failure means: check it properly to say what is wrong
            exc = _refusal(body)
            telemetry.event("intake_rejected", logging.ERROR, request=row_id, field=exc.field, error=exc.message)
            return []

    # ------------------------------------------------------------------ reporting

    def backlog(self) -> Backlog:
        """Read from the store (for status, and the counters at start)."""
        with self.store.reading() as conn:
            return read_backlog(conn)


def read_backlog(conn: Connection) -> Backlog:
    """What waits in the intake table, read in the caller's connection."""
    requests, alerts, oldest = conn.execute(
        select(func.count(), func.coalesce(func.sum(intake_table.c.alerts), 0), func.min(intake_table.c.received_at))
    ).one()
    return Backlog(int(requests), int(alerts), oldest)


def _refusal(body: bytes) -> InputError:
    """Why a stored request no longer builds: the check's own error, or a generic one if it passes."""
    try:
        load_push(body, max_alerts=MAX_STORED_ALERTS)
    except InputError as exc:
        return exc
    return InputError("body", "stored request could not be built into alerts")
