"""The outbox: actions decided in a transaction, executed later, claimed by compare-and-swap.

Two ways to consume a topic:
- ``claim`` / ``complete`` / ``retry`` / ``fail`` for actions with outside effects (sinks): a worker takes a
  lease on the oldest pending row of each key, acts, then records the outcome;
- ``take`` / ``finish`` for stages that only change the store: read and finish in the same transaction,
  ``finish`` failing if another process finished the rows first.
Rows of one key are handed out strictly in order: the next waits until the previous is done.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, func, or_, select, update

from proactived.errors import StoreError
from proactived.store.engine import QUEUED_WORK, insert_rows
from proactived.store.schema import flag, outbox


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One pending action."""

    id: int
    topic: str
    key: str
    event: str
    payload: Mapping[str, Any]
    created_at: datetime
    attempts: int


class ConcurrentUpdate(StoreError):
    """Another worker finished or claimed the row first; the transaction must roll back."""


def enqueue(conn: Connection, topic: str, key: str, event: str, payload: Mapping[str, Any], now: datetime) -> None:
    """Add one action, in the caller's transaction."""
    enqueue_many(conn, [(topic, key, event, payload)], now)


def enqueue_many(conn: Connection, items: Iterable[tuple[str, str, str, Mapping[str, Any]]], now: datetime) -> int:
    """Add several actions at once, in the caller's transaction; returns how many."""
    rows = [
        {
            "topic": t,
            "key": k,
            "event": e,
            "payload": dict(p),
            "created_at": now,
            "available_at": now,
            "attempts": 0,
            "failed": False,
        }
        for t, k, e, p in items
    ]
    if rows:
        insert_rows(conn, outbox, rows)
        conn.info[QUEUED_WORK] = True
    return len(rows)


def _heads(conn: Connection, topic: str, limit: int, now: datetime) -> list[Any]:
    """The oldest undone row of each key in ``topic``, if it is ready now (not backing off, not leased).

    Readiness is filtered in the query, so any number of keys in backoff cannot hide the ready ones.
    """
    firsts = (
        select(func.min(outbox.c.id).label("id"))
        .where(outbox.c.topic == topic, outbox.c.done_at.is_(None))
        .group_by(outbox.c.key)
        .subquery()
    )
    query = (
        select(outbox)
        .where(
            outbox.c.id.in_(select(firsts.c.id)),
            outbox.c.available_at <= now,
            or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until <= now),
        )
        .order_by(outbox.c.id)
        .limit(limit)
    )
    return list(conn.execute(query))


def _to_row(row: Any) -> OutboxRow:
    return OutboxRow(row.id, row.topic, row.key, row.event, row.payload, row.created_at, row.attempts)


def claim(
    conn: Connection, topic: str, worker: str, now: datetime, lease: timedelta, limit: int = 50
) -> list[OutboxRow]:
    """Lease up to ``limit`` ready rows (one per key) to ``worker``; only rows whose CAS succeeded return."""
    claimed = []
    for row in _heads(conn, topic, limit * 4, now):
        stmt = (
            update(outbox)
            .where(
                outbox.c.id == row.id,
                outbox.c.done_at.is_(None),
                or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until <= now),
            )
            .values(claimed_by=worker, claimed_until=now + lease, attempts=outbox.c.attempts + 1)
        )
        if conn.execute(stmt).rowcount == 1:
            claimed.append(_to_row(row))
            if len(claimed) >= limit:
                break
    return claimed


def _owned(row_id: int, worker: str) -> Any:
    return and_(outbox.c.id == row_id, outbox.c.claimed_by == worker, outbox.c.done_at.is_(None))


def complete(conn: Connection, row_id: int, worker: str, now: datetime) -> bool:
    """Mark a claimed row done; False if the lease was lost to another worker."""
    stmt = update(outbox).where(_owned(row_id, worker)).values(done_at=now, claimed_until=None, last_error=None)
    return conn.execute(stmt).rowcount == 1


def retry(conn: Connection, row_id: int, worker: str, error: str, available_at: datetime) -> bool:
    """Release a claimed row to be tried again at ``available_at``, recording why it failed."""
    stmt = (
        update(outbox)
        .where(_owned(row_id, worker))
        .values(claimed_by=None, claimed_until=None, available_at=available_at, last_error=error[:2000])
    )
    return conn.execute(stmt).rowcount == 1


def fail(conn: Connection, row_id: int, worker: str, error: str, now: datetime) -> bool:
    """Give up on a claimed row for good (a permanent error), keeping the error for operators."""
    stmt = (
        update(outbox)
        .where(_owned(row_id, worker))
        .values(done_at=now, failed=True, claimed_until=None, last_error=error[:2000])
    )
    return conn.execute(stmt).rowcount == 1


def take(conn: Connection, topic: str, now: datetime, limit: int = 500) -> list[OutboxRow]:
    """Ready rows of ``topic`` in id order, for a stage that finishes them in this same transaction."""
    query = (
        select(outbox)
        .where(outbox.c.topic == topic, outbox.c.done_at.is_(None), outbox.c.available_at <= now)
        .order_by(outbox.c.id)
        .limit(limit)
    )
    return [_to_row(row) for row in conn.execute(query)]


def finish(conn: Connection, row_ids: list[int], now: datetime) -> None:
    """Mark rows taken with ``take`` done; raise ConcurrentUpdate if any was already done elsewhere."""
    if not row_ids:
        return
    stmt = update(outbox).where(outbox.c.id.in_(row_ids), outbox.c.done_at.is_(None)).values(done_at=now)
    if conn.execute(stmt).rowcount != len(row_ids):
        raise ConcurrentUpdate("outbox rows were finished by another worker")


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """Backlog figures for metrics and readiness."""

    pending: dict[str, int]
    oldest: datetime | None
    failed: int


def stats(conn: Connection) -> OutboxStats:
    """Pending rows per topic, the oldest pending creation time, and permanently failed rows."""
    pending_q = select(outbox.c.topic, func.count()).where(outbox.c.done_at.is_(None)).group_by(outbox.c.topic)
    pending = {topic: n for topic, n in conn.execute(pending_q)}
    oldest = conn.execute(select(func.min(outbox.c.created_at)).where(outbox.c.done_at.is_(None))).scalar()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    failed = conn.execute(select(func.count()).select_from(outbox).where(flag(outbox.c.failed))).scalar() or 0
    return OutboxStats(pending, oldest, int(failed))


def purge_done(conn: Connection, before: datetime) -> int:
    """Delete successfully finished rows older than ``before``; failed ones stay for inspection."""
    stmt = delete(outbox).where(outbox.c.done_at.is_not(None), outbox.c.done_at < before, outbox.c.failed.is_(False))
    return int(conn.execute(stmt).rowcount)
