"""The push intake: a checked request body is stored as received, then a stage deduplicates it.

``POST /api/v1/alerts`` answers ``200`` once the body is committed to the ``intake`` table, which is as durable
as the incidents themselves, so a burst is accepted at the speed of checking and storing it. The ``intake``
stage then deduplicates stored requests in rounds: a round folds many requests into runs per fingerprint
(``push.Fold``) and runs them through the ingest step, deleting the rows in the same transaction, so every
accepted request is deduplicated exactly once, in arrival order, across crashes, and a fingerprint repeated
across the round costs one state read and at most one write. While requests keep arriving (less than
``quiet_seconds`` apart) the stage waits so that accepting is not slowed by deduplicating, but never longer
than ``max_wait_seconds``, and not at all once the backlog has reached half its bound: a steady stream is
deduplicated in rounds about a second apart instead of waiting for a pause that never comes. A request that
arrives during a round waits for it to end rather than racing it (``in_turn`` makes the correlation stage
take the same turns). Past the bound requests are answered ``503``.
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
from proactived.dispatch import Stage
from proactived.errors import InputError, StoreError
from proactived.ingest import Ingestor, IngestSummary
from proactived.model import Alert, Severity
from proactived.sources.push import KIND, Fold, alert_items, load_push
from proactived.store import Store
from proactived.store.engine import insert_rows
from proactived.store.schema import intake as intake_table

QUIET_SECONDS = 0.1
MAX_WAIT_SECONDS = 1.0  # the longest a stored request waits for a pause in arrivals before it is deduplicated
DRAIN_BATCH = 20  # dedup transactions per stage round
# One dedup transaction (a round) takes stored requests, each whole, until it holds ROUND_ALERTS alerts, more
# than ROUND_FINGERPRINTS fingerprints, or ROUND_CHANGES runs that likely change an incident (``Fold.changing``:
# opening one costs ≈0.4 ms and its alerts' memory, and a round holds the turn that accepting waits for).
ROUND_ALERTS = 100_000
ROUND_FINGERPRINTS = 10_000
ROUND_CHANGES = 2_000
SEEN_LIMIT = 200_000  # fingerprints remembered for that guess; forgotten all at once past it
ROUND_PAGE = 4  # stored requests read at a time
DELETE_IDS = 500  # stored requests deleted per statement
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
        self._arriving = 0  # requests being accepted now
        self._failures = 0
        self._retry_at = 0.0
        self._seen: set[str] = set()  # fingerprints earlier rounds deduplicated: a guess that sizes rounds
        backlog = self.backlog()
        self._queued_requests, self._queued_alerts = backlog.requests, backlog.alerts

    # ------------------------------------------------------------------ accepting

    def full(self) -> bool:
        """True when the backlog has reached its bound: new requests must be refused (503) until it drains."""
        return self._queued_alerts >= self.max_queued_alerts()

    def accept(self, body: bytes, received_at: datetime, *, max_alerts: int) -> int:
        """Check ``body`` and store it for the stage; returns how many alerts it carried.

        A round of the stage that is running is waited for first (it ends with the round), rather than raced
        for the interpreter and the write lock: interleaved, each slowed the other several times over. The
        stage sees the waiting request and lets accepting go first again after that round.

        InputError (nothing stored) when any alert is invalid; StoreError when it could not be stored.
        """
        with self._count_lock:
            self._arriving += 1
            self._last_accept = self._monotonic()
        try:
            with self._drain_lock:  # the running round's turn ends (or another stage's, ``in_turn``)
                pass
            alerts = len(load_push(body, max_alerts=max_alerts))
            if alerts == 0:
                return 0
            with self.store.transaction() as conn:
                insert_rows(conn, intake_table, [{"received_at": received_at, "alerts": alerts, "body": body}])
        finally:
            with self._count_lock:
                self._arriving -= 1
        with self._count_lock:
            self._queued_requests += 1
            self._queued_alerts += alerts
            self._last_accept = self._monotonic()
            self._accepts += 1
        return alerts

    def ingest_now(self, alerts: list[Alert]) -> IngestSummary:
        """Deduplicate in the caller (``?wait=true``): what is queued first, so order is kept, then ``alerts``."""
        with self._drain_lock:
            while self._drain_round():
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
                while handled < DRAIN_BATCH and self._drain_round():
                    handled += 1
                    if self._accepting():  # one round per wait for a pause, then accepting goes first again
                        break
        except StoreError as exc:
            self._failures += 1
            self._retry_at = self._monotonic() + min(MAX_BACKOFF_SECONDS, QUIET_SECONDS * 2**self._failures)
            if self._failures == 1:  # once per outage, not once per retry
                telemetry.event("intake_store_error", logging.WARNING, error=str(exc), queued=self._queued_requests)
            return handled
        self._failures = 0
        self._waiting_since = None  # the next wait for a pause starts afresh
        return handled

    def in_turn(self, stage: Stage) -> Stage:
        """``stage`` made to take turns with accepting as the intake's own rounds do (the correlation stage):
        it holds back while requests arrive, for at most ``max_wait_seconds``, and a request that arrives while
        it works waits for that unit of work to end instead of racing it for the interpreter."""

        def run() -> int:
            if self._deferring():
                return 0
            with self._drain_lock:
                handled = stage()
            if handled:
                self._waiting_since = None  # the next wait for a pause starts afresh
            return handled

        return run

    def drain(self, budget: float) -> None:
        """Deduplicate what is stored for up to ``budget`` seconds (a clean stop); the rest waits for the next start."""
        deadline = time.monotonic() + budget
        with self._drain_lock:
            while time.monotonic() < deadline and self._drain_round():
                pass

    def _accepting(self) -> bool:
        """Requests are arriving (one is being accepted, or the last came less than ``quiet_seconds`` ago) and
        the backlog is below half its bound: accepting goes first."""
        return (
            self._arriving > 0 or self._monotonic() - self._last_accept < self.quiet_seconds
        ) and self._queued_alerts * 2 < self.max_queued_alerts()

    def _deferring(self) -> bool:
        """Accepting goes first (``_accepting``) and the stage has not yet waited ``max_wait_seconds`` for a
        pause. The first time it holds back starts that wait; a round that deduplicates ends it (``run_once``)."""
        if not self._accepting():
            return False
        now = self._monotonic()
        if self._waiting_since is None:
            self._waiting_since = now
        return now - self._waiting_since < self.max_wait_seconds

    def _drain_round(self) -> bool:
        """Deduplicate the oldest stored requests in one transaction, as many as a round takes (``_round_full``).

        The requests are folded into runs as they are read (``push.Fold``), so a round costs one read of the
        repeats' state and at most one write per fingerprint however many repeats it carries, and one commit:
        the longer the backlog, the cheaper each alert. False when nothing is stored.
        """
        accepts = self._accepts
        fold = Fold(self.severity_table(), self._stored_body, self._seen)
        ids: list[int] = []
        taken = after = 0
        with self.store.reading() as conn:
            while not _round_full(fold, 0):
                page = conn.execute(
                    select(intake_table.c.id, intake_table.c.alerts, intake_table.c.received_at, intake_table.c.body)
                    .where(intake_table.c.id > after)
                    .order_by(intake_table.c.id)
                    .limit(ROUND_PAGE)
                ).all()
                for row in page:
                    if ids and _round_full(fold, row.alerts):
                        break
                    self._fold(fold, row.id, row.body, row.received_at)
                    ids.append(row.id)
                    taken += row.alerts  # as counted when accepted, also for a request that no longer folds
                else:
                    if len(page) == ROUND_PAGE:
                        after = page[-1].id
                        continue
                break
        if not ids:
            with self._count_lock:
                if self._accepts == accepts:  # nothing was accepted meanwhile: the counters must be zero
                    self._queued_requests, self._queued_alerts = 0, 0
            return False

        def delete_rows(conn: Any) -> None:
            deleted = 0
            for start in range(0, len(ids), DELETE_IDS):
                deleted += conn.execute(
                    intake_table.delete().where(intake_table.c.id.in_(ids[start : start + DELETE_IDS]))
                ).rowcount
            if deleted != len(ids):
                raise _TakenElsewhere()  # another daemon on the same store drained some: roll this back

        with contextlib.suppress(_TakenElsewhere):
            self.ingestor.ingest_runs(fold.runs, source=KIND, also=delete_rows, count=False)
        if len(self._seen) > SEEN_LIMIT:
            self._seen.clear()
        self._seen.update(run.fingerprint for run in fold.runs)
        with self._count_lock:
            self._queued_requests = max(0, self._queued_requests - len(ids))
            self._queued_alerts = max(0, self._queued_alerts - taken)
        return True

    @staticmethod
    def _fold(fold: Fold, row_id: int, body: bytes, received_at: datetime) -> None:
        """Fold one stored request. It was checked when accepted, so it is only decoded here; if it no longer
        folds (a later version checks differently), it is logged with what is wrong and skipped."""
        try:
            fold.add_request(row_id, alert_items(json.loads(body)), received_at)
        except Exception:  # any failure means: check it properly to say what is wrong
            exc = _refusal(body)
            telemetry.event("intake_rejected", logging.ERROR, request=row_id, field=exc.field, error=exc.message)

    def _stored_body(self, row_id: int) -> bytes:
        """A stored request read again (its round's transaction has deleted it, uncommitted: read apart)."""
        with self.store.reading() as conn:
            body: bytes = conn.execute(select(intake_table.c.body).where(intake_table.c.id == row_id)).scalar_one()
        return body

    # ------------------------------------------------------------------ reporting

    def backlog(self) -> Backlog:
        """Read from the store (for status, and the counters at start)."""
        with self.store.reading() as conn:
            return read_backlog(conn)


def _round_full(fold: Fold, more_alerts: int) -> bool:
    """The round cannot take a request of ``more_alerts`` alerts (0: any request)."""
    return fold.alerts + more_alerts > ROUND_ALERTS or len(fold) > ROUND_FINGERPRINTS or fold.changing >= ROUND_CHANGES


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
