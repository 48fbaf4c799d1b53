"""Ingest against the real store (SQLite, and PostgreSQL when configured): incidents, history, outbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from proactived.clock import ManualClock
from proactived.dedup import DedupSettings
from proactived.ingest import Ingestor
from proactived.model import Status
from proactived.store import Store, outbox
from proactived.store import incidents as incident_rows
from proactived.store.schema import incidents
from proactived.store.schema import outbox as outbox_table
from tests.builders import alert

SETTINGS = DedupSettings()


@pytest.fixture
def ingestor(store: Store, clock: ManualClock) -> Ingestor:
    return Ingestor(store, clock, lambda: SETTINGS)


def events(store: Store) -> list[str]:
    with store.reading() as conn:
        return [row.event for row in conn.execute(select(outbox_table).order_by(outbox_table.c.id))]


def test_it_keeps_one_incident_for_100_posts_of_the_same_alert(
    store: Store, ingestor: Ingestor, clock: ManualClock
) -> None:
    for _ in range(100):
        ingestor.ingest([alert(host="web1")])
        clock.advance(timedelta(seconds=1))
    with store.reading() as conn:
        found = incident_rows.list_incidents(conn)
    assert len(found) == 1
    assert found[0].count == 100
    assert found[0].last_seen - found[0].first_seen == timedelta(seconds=99)
    assert events(store) == ["opened"]


def test_it_resolves_and_reopens_the_same_incident(store: Store, ingestor: Ingestor, clock: ManualClock) -> None:
    ingestor.ingest([alert(host="web1")])
    clock.advance(timedelta(minutes=5))
    ingestor.ingest([alert(host="web1", status=Status.RESOLVED)])
    with store.reading() as conn:
        (closed,) = incident_rows.list_incidents(conn)
    assert closed.status is Status.RESOLVED
    clock.advance(timedelta(minutes=10))
    summary = ingestor.ingest([alert(host="web1")])
    assert summary.reopened == 1
    with store.reading() as conn:
        (reopened,) = incident_rows.list_incidents(conn)
        history = incident_rows.history_of(conn, reopened.id)
    assert reopened.id == closed.id and reopened.status is Status.FIRING
    assert [h[0] for h in history] == ["opened", "resolved", "reopened"]
    assert events(store) == ["opened", "resolved", "reopened"]


def test_a_refire_after_the_window_is_a_new_incident_and_the_old_one_is_kept(
    store: Store, ingestor: Ingestor, clock: ManualClock
) -> None:
    ingestor.ingest([alert(host="web1")])
    ingestor.ingest([alert(host="web1", status=Status.RESOLVED)])
    clock.advance(SETTINGS.reopen_window + timedelta(seconds=1))
    ingestor.ingest([alert(host="web1")])
    with store.reading() as conn:
        total = conn.execute(select(func.count()).select_from(incidents)).scalar()
        current = incident_rows.list_incidents(conn)
    assert total == 2
    assert len(current) == 1 and current[0].status is Status.FIRING


def test_a_batch_of_mixed_new_and_repeated_alerts_is_one_transaction(store: Store, ingestor: Ingestor) -> None:
    ingestor.ingest([alert(host=f"h{i}") for i in range(600)])
    summary = ingestor.ingest([alert(host=f"h{i}") for i in range(1200)])
    assert summary.opened == 600
    with store.reading() as conn:
        counts = sorted({i.count for i in incident_rows.list_incidents(conn, limit=5000)})
    assert counts == [1, 2]


def test_flapping_settles_through_the_store(store: Store, ingestor: Ingestor, clock: ManualClock) -> None:
    for n in range(6):
        ingestor.ingest([alert(host="web1", status=Status.FIRING if n % 2 == 0 else Status.RESOLVED)])
        clock.advance(timedelta(seconds=20))
    with store.reading() as conn:
        (flapping,) = incident_rows.list_incidents(conn)
    assert flapping.flapping and flapping.status is Status.RESOLVED
    clock.advance(SETTINGS.stable_for)
    assert ingestor.tick() == 1
    assert events(store) == ["opened", "resolved", "reopened", "resolved", "flapping", "resolved"]


def test_outbox_claim_is_compare_and_swap_and_ordered_per_key(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    with store.transaction() as conn:
        outbox.enqueue_many(
            conn, [("ticket", "p1", "open", {}), ("ticket", "p1", "update", {}), ("ticket", "p2", "open", {})], now
        )
    lease = timedelta(seconds=30)
    with store.transaction() as conn:
        first = outbox.claim(conn, "ticket", "worker-a", now, lease)
    with store.transaction() as conn:
        second = outbox.claim(conn, "ticket", "worker-b", now, lease)
    assert [(r.key, r.event) for r in first] == [("p1", "open"), ("p2", "open")]
    assert second == []  # both heads are leased; p1's update waits for p1's open
    with store.transaction() as conn:
        assert not outbox.complete(conn, first[0].id, "worker-b", now)  # not the owner
        assert outbox.complete(conn, first[0].id, "worker-a", now)
        assert [r.event for r in outbox.claim(conn, "ticket", "worker-b", now, lease)] == ["update"]


def test_an_expired_lease_can_be_claimed_again(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    with store.transaction() as conn:
        outbox.enqueue(conn, "ticket", "p1", "open", {"x": 1}, now)
        (row,) = outbox.claim(conn, "ticket", "crashed-worker", now, timedelta(seconds=30))
    later = now + timedelta(seconds=31)
    with store.transaction() as conn:
        (again,) = outbox.claim(conn, "ticket", "worker-b", later, timedelta(seconds=30))
        assert again.id == row.id and again.attempts == 1
        assert not outbox.complete(conn, row.id, "crashed-worker", later)
        assert outbox.retry(conn, row.id, "worker-b", "desk 503", later + timedelta(seconds=5))
        assert outbox.claim(conn, "ticket", "worker-b", later, timedelta(seconds=30)) == []
        stats = outbox.stats(conn)
    assert stats.pending == {"ticket": 1}


def test_take_and_finish_detect_a_concurrent_finisher(store: Store, clock: ManualClock) -> None:
    now = clock.now()
    with store.transaction() as conn:
        outbox.enqueue(conn, "incident", "i1", "opened", {}, now)
        rows = outbox.take(conn, "incident", now)
        outbox.finish(conn, [r.id for r in rows], now)
    with pytest.raises(outbox.ConcurrentUpdate), store.transaction() as conn:
        outbox.finish(conn, [r.id for r in rows], now)
