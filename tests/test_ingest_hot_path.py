"""The ingest hot path (plain repeats bumped in SQL, bulk inserts through the driver) stores what dedup decides."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from proactived import dedup
from proactived import ingest as ingest_module
from proactived.clock import ManualClock
from proactived.dedup import DedupSettings, RepeatState
from proactived.ingest import Ingestor
from proactived.model import Severity, Status
from proactived.store import Store, outbox
from proactived.store import incidents as incident_rows
from tests.builders import alert
from tests.conftest import T0

SETTINGS = DedupSettings()


@pytest.fixture
def ingestor(store: Store, clock: ManualClock) -> Ingestor:
    return Ingestor(store, clock, lambda: SETTINGS)


def test_it_sends_only_unchanged_firing_alerts_of_firing_incidents_down_the_repeat_path() -> None:
    firing = alert(host="a")
    other = alert(host="b")
    resolving = alert(host="c")
    states = {
        firing.fingerprint: RepeatState("i1", Status.FIRING, Severity.CRITICAL, ""),
        other.fingerprint: RepeatState("i2", Status.FIRING, Severity.WARNING, ""),
        resolving.fingerprint: RepeatState("i3", Status.FIRING, Severity.CRITICAL, ""),
    }
    batch = [firing, other, firing, replace(resolving, status=Status.RESOLVED), resolving, alert(host="new")]

    plain, rest = dedup.split_repeats(states, dedup.fold(batch))

    assert [(run.fingerprint, run.count) for run in plain] == [(firing.fingerprint, 2)]
    # a severity change, a resolve (with its fingerprint's later alerts, in order) and a new alert need apply
    assert [(a.labels["host"], a.status) for a in rest] == [
        ("b", Status.FIRING),
        ("c", Status.RESOLVED),
        ("c", Status.FIRING),
        ("new", Status.FIRING),
    ]


@pytest.mark.parametrize("slice_size", [1, 2, 2_000])  # fingerprints per step of one transaction
def test_it_stores_repeats_as_the_pure_dedup_would(
    store: Store, ingestor: Ingestor, clock: ManualClock, monkeypatch: pytest.MonkeyPatch, slice_size: int
) -> None:
    monkeypatch.setattr(ingest_module, "SLICE_FINGERPRINTS", slice_size)
    batches = [
        [alert(host="web1"), alert(host="web2")],
        [alert(host="web1"), alert(host="web1"), replace(alert(host="web2"), annotations={"summary": "changed"})],
        [alert(host="web1", severity=Severity.CRITICAL), alert(host="web2", status=Status.RESOLVED)],
        [alert(host="web2"), alert(host="web1")],
    ]
    expected: dict[str, dedup.Incident] = {}
    for batch in batches:
        result = dedup.apply(expected, batch, clock.now(), SETTINGS)
        for incident in (*result.inserted.values(), *result.changed.values(), *result.repeated.values()):
            expected[incident.fingerprint] = incident
        ingestor.ingest(batch)
        clock.advance(timedelta(seconds=10))

    with store.reading() as conn:
        stored = {i.fingerprint: i for i in incident_rows.list_incidents(conn)}
    for fingerprint, want in expected.items():
        got = stored[fingerprint]
        assert (got.count, got.last_seen, got.status, got.severity, dict(got.annotations)) == (
            want.count,
            want.last_seen,
            want.status,
            want.severity,
            dict(want.annotations),
        )
        assert got.transitions == want.transitions


def test_it_queues_nothing_and_writes_no_history_for_plain_repeats(
    store: Store, ingestor: Ingestor, clock: ManualClock
) -> None:
    ingestor.ingest([alert(host="web1")])
    with store.reading() as conn:
        before = outbox.stats(conn)
    clock.advance(timedelta(seconds=5))
    summary = ingestor.ingest([alert(host="web1")] * 3)

    with store.reading() as conn:
        (incident,) = incident_rows.list_incidents(conn)
        assert outbox.stats(conn) == before
        assert [event for event, _, _ in incident_rows.history_of(conn, incident.id)] == ["opened"]
    assert (summary.accepted, summary.opened, incident.count) == (3, 0, 4)
    assert incident.last_seen == clock.now()


def test_it_wakes_outbox_workers_only_after_a_commit_that_queued_work(store: Store, clock: ManualClock) -> None:
    woken: list[int] = []
    store.on_commit(lambda: woken.append(1))
    ingestor = Ingestor(store, clock, lambda: SETTINGS)

    ingestor.ingest([alert(host="web1")])  # opens: queues an incident event
    assert len(woken) == 1
    ingestor.ingest([alert(host="web1")])  # a repeat queues nothing
    with store.transaction() as conn:  # an idle worker's empty claim
        outbox.take(conn, "incident-none", clock.now())
    assert len(woken) == 1


def test_a_batch_applied_in_slices_reports_and_queues_what_one_step_would(
    store: Store, ingestor: Ingestor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_module, "SLICE_FINGERPRINTS", 2)
    batch = [alert(host=h) for h in ("a", "b", "c", "a", "d", "e")] + [alert(host="c", status=Status.RESOLVED)]

    summary = ingestor.ingest(batch)

    assert (summary.accepted, summary.opened, summary.resolved) == (7, 5, 1)
    with store.reading() as conn:
        queued = [row.payload for row in outbox.take(conn, "incident", T0 + timedelta(days=1), limit=100)]
    assert sorted(p["event"] for p in queued) == ["opened"] * 5 + ["resolved"]
    c = alert(host="c").fingerprint
    assert [p["event"] for p in queued if p["fingerprint"] == c] == ["opened", "resolved"]  # in order
