"""A poll ingests only what changed since the previous successful poll, and still reconciles with the store.

A steady poll — the source lists the same alerts as last time — validates nothing again, ingests nothing and
writes nothing. A changed alert is ingested, a vanished one resolves, a failed poll resolves nothing, and a
poller starting afresh (a restart) reconciles its source's open incidents with what the source lists.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from proactived.clock import ManualClock
from proactived.errors import StoreError
from proactived.gc_pause import collector_paused
from proactived.ingest import IngestSummary
from proactived.model import Alert, Severity, Status
from proactived.runtime import Runtime
from proactived.sources import alertmanager, build_source, prometheus
from proactived.sources.base import merged_table
from proactived.store.schema import incident_history, incidents, outbox
from tests.conftest import T0
from tests.fake_monitoring import ALERTMANAGER_ALERTS, FakeMonitoring, fake_monitoring
from tests.test_sources_polling import am_alert, current, poller, runtime, state


@pytest.fixture
def fake() -> Iterator[FakeMonitoring]:
    with fake_monitoring() as server:
        yield server


@pytest.fixture
def rt(tmp_path: Path, store_url: str, clock: ManualClock, fake: FakeMonitoring) -> Iterator[Runtime]:
    source = {"name": "am", "type": "alertmanager", "url": fake.url, "unreachable_after": 1, "interval": "30s"}
    runtime_ = runtime(tmp_path, store_url, clock, source)
    yield runtime_
    runtime_.store.close()


def stored(rt: Runtime) -> tuple[list[Any], int, int]:
    """Every incident row, and the number of history and outbox rows: equal before and after = nothing written."""
    with rt.store.reading() as conn:
        rows = [tuple(row) for row in conn.execute(select(incidents).order_by(incidents.c.id))]
        history = conn.execute(select(func.count()).select_from(incident_history)).scalar_one()
        queued = conn.execute(select(func.count()).select_from(outbox)).scalar_one()
    return rows, history, queued


def test_a_poll_listing_the_same_alerts_ingests_and_writes_nothing(
    rt: Runtime, fake: FakeMonitoring, clock: ManualClock
) -> None:
    p = poller(rt)
    fake.serve(ALERTMANAGER_ALERTS, [am_alert("host-a"), am_alert("host-b")])
    assert p.poll().ingested == 2
    before = stored(rt)
    for _ in range(3):
        clock.advance(timedelta(seconds=30))
        # Alertmanager moves these two on every re-send from Prometheus; they change nothing we keep
        fake.serve(ALERTMANAGER_ALERTS, [{**am_alert(h), "updatedAt": clock.now().isoformat(),
                                          "endsAt": (clock.now() + timedelta(minutes=4)).isoformat()}
                                         for h in ("host-a", "host-b")])  # fmt: skip
        outcome = p.poll()
        assert (outcome.ok, outcome.alerts, outcome.ingested) == (True, 2, 0)
    assert stored(rt) == before
    assert {i.count for i in current(rt)} == {1}  # count and last seen are those of the poll that saw a change


def test_a_changed_alert_is_ingested_and_only_it(rt: Runtime, fake: FakeMonitoring, clock: ManualClock) -> None:
    p = poller(rt)
    fake.serve(ALERTMANAGER_ALERTS, [am_alert("host-a"), am_alert("host-b")])
    p.poll()
    clock.advance(timedelta(seconds=30))
    worse = am_alert("host-b")
    worse["labels"] = {**worse["labels"], "severity": "critical"}
    worse["annotations"] = {"summary": "disk full on host-b"}
    fake.serve(ALERTMANAGER_ALERTS, [am_alert("host-a"), worse])
    assert p.poll().ingested == 1
    by_host = {i.labels["instance"]: i for i in current(rt)}
    assert by_host["host-b"].severity is Severity.CRITICAL
    assert by_host["host-b"].annotations == {"summary": "disk full on host-b"}
    assert (by_host["host-b"].count, by_host["host-b"].last_seen) == (2, clock.now())
    assert (by_host["host-a"].count, by_host["host-a"].last_seen) == (1, T0)


def test_an_alert_that_vanishes_after_steady_polls_resolves(rt: Runtime, fake: FakeMonitoring) -> None:
    p = poller(rt)
    fake.serve(ALERTMANAGER_ALERTS, [am_alert("host-a"), am_alert("host-b")])
    p.poll()
    assert p.poll().ingested == 0
    fake.serve(ALERTMANAGER_ALERTS, [am_alert("host-b")])
    outcome = p.poll()
    assert (outcome.resolved, outcome.ingested) == (1, 1)
    assert state(rt) == {"DiskFull/host-a": "resolved", "DiskFull/host-b": "firing"}
    fake.serve(ALERTMANAGER_ALERTS, [am_alert("host-a"), am_alert("host-b")])
    assert p.poll().ingested == 1  # it came back: reopened
    assert state(rt) == {"DiskFull/host-a": "firing", "DiskFull/host-b": "firing"}


def test_a_failed_poll_resolves_nothing_and_the_next_one_compares_with_the_last_success(
    rt: Runtime, fake: FakeMonitoring
) -> None:
    p = poller(rt)
    fake.serve(ALERTMANAGER_ALERTS, [am_alert("host-a"), am_alert("host-b")])
    p.poll()
    fake.fail(503)
    assert p.poll().error_kind == "http"
    assert state(rt) == {"DiskFull/host-a": "firing", "DiskFull/host-b": "firing", "SourceUnreachable/am": "firing"}
    fake.heal()
    outcome = p.poll()
    assert (outcome.ok, outcome.resolved, outcome.ingested) == (True, 1, 1)  # only our own alert resolves
    assert state(rt) == {"DiskFull/host-a": "firing", "DiskFull/host-b": "firing", "SourceUnreachable/am": "resolved"}


class FailingIngestor:
    """Refuses every batch as a store outage would; records what it was given."""

    def __init__(self) -> None:
        self.batches: list[list[Alert]] = []

    def ingest(self, alerts: Sequence[Alert], source: str = "push") -> IngestSummary:
        self.batches.append(list(alerts))
        raise StoreError("store write failed: disk I/O error")


def test_a_change_a_store_failure_kept_out_is_ingested_by_the_next_poll(rt: Runtime, fake: FakeMonitoring) -> None:
    p = poller(rt)
    fake.serve(ALERTMANAGER_ALERTS, [am_alert("host-a")])
    p.poll()
    fake.serve(ALERTMANAGER_ALERTS, [{**am_alert("host-a"), "annotations": {"summary": "now 99 %"}}])
    failing = FailingIngestor()
    working, rt.ingestor = rt.ingestor, failing  # type: ignore[assignment]  # a fake with the one method used
    assert p.poll().error_kind == "store"
    rt.ingestor = working
    assert [a.annotations for a in failing.batches[0]] == [{"summary": "now 99 %"}]
    assert p.poll().ingested == 1  # the same change again: the failed poll taught the poller nothing
    (incident,) = current(rt)
    assert incident.annotations == {"summary": "now 99 %"}


def test_a_restarted_poller_reconciles_the_store_with_what_the_source_lists(
    rt: Runtime, fake: FakeMonitoring, clock: ManualClock
) -> None:
    fake.serve(ALERTMANAGER_ALERTS, [am_alert("host-a"), am_alert("host-b"), am_alert("host-c")])
    poller(rt).poll()
    clock.advance(timedelta(minutes=5))
    fake.serve(ALERTMANAGER_ALERTS, [am_alert("host-a"), am_alert("host-d")])  # b and c ended while we were down
    restarted = poller(rt)  # nothing in memory: only the store knows what is open
    outcome = restarted.poll()
    assert (outcome.opened, outcome.resolved) == (1, 2)
    assert state(rt) == {
        "DiskFull/host-a": "firing",
        "DiskFull/host-b": "resolved",
        "DiskFull/host-c": "resolved",
        "DiskFull/host-d": "firing",
    }
    assert restarted.poll().ingested == 0


def test_an_incident_resolved_elsewhere_fires_again_while_the_source_lists_its_alert(
    rt: Runtime, fake: FakeMonitoring
) -> None:
    p = poller(rt)
    fake.serve(ALERTMANAGER_ALERTS, [am_alert("host-a")])
    p.poll()
    (incident,) = current(rt)
    resolve = Alert(source="am", source_kind="push", fingerprint=incident.fingerprint, labels=incident.labels,
                    annotations={}, severity=incident.severity, source_severity="warning", status=Status.RESOLVED,
                    starts_at=incident.starts_at)  # fmt: skip
    rt.ingestor.ingest([resolve], source="push")  # a push naming the polled source
    assert state(rt) == {"DiskFull/host-a": "resolved"}
    assert p.poll().ingested == 1
    assert state(rt) == {"DiskFull/host-a": "firing"}


def test_an_unchanged_api_alert_is_not_normalised_again_unless_the_severity_table_changed() -> None:
    payload = [am_alert("host-a"), am_alert("host-b")]
    first = alertmanager.normalise(payload, "am", T0)
    resent = [{**a, "updatedAt": "2026-11-02T08:01:00Z", "endsAt": "2026-11-02T09:06:00Z"} for a in payload]
    resent[1]["annotations"] = {"summary": "changed"}
    again = alertmanager.normalise(resent, "am", T0, previous=first.known)
    assert again.alerts[0] is first.alerts[0]
    assert again.alerts[1] is not first.alerts[1] and again.alerts[1].annotations == {"summary": "changed"}

    source = build_source(
        alertmanager.AlertmanagerConfig(name="am", type="alertmanager", url="http://127.0.0.1:9"), lambda: T0
    )
    assert isinstance(source, alertmanager.AlertmanagerSource)
    source.reuse.remember(merged_table({}, {}), first)
    assert source.reuse.offer(merged_table({}, {})) is first.known
    assert source.reuse.offer(merged_table({"warning": Severity.HIGH}, {})) == {}


def test_an_unchanged_prometheus_alert_is_not_normalised_again_though_its_value_moved() -> None:
    def body(value: str, summary: str) -> dict[str, Any]:
        alert = {"labels": {"alertname": "Load", "instance": "h1", "severity": "warning"}, "state": "firing",
                 "annotations": {"summary": summary}, "activeAt": "2026-11-02T08:00:00Z", "value": value}  # fmt: skip
        return {"status": "success", "data": {"alerts": [alert]}}

    first = prometheus.normalise(body("1.5e+00", "high load"), "prom", T0)
    (again,) = prometheus.normalise(body("2.5e+00", "high load"), "prom", T0, previous=first.known).alerts
    assert again is first.alerts[0]
    (changed,) = prometheus.normalise(body("2.5e+00", "very high"), "prom", T0, previous=first.known).alerts
    assert changed is not first.alerts[0] and changed.annotations == {"summary": "very high"}
    assert changed.fingerprint == again.fingerprint


def test_the_collector_pause_nests_and_leaves_a_disabled_collector_disabled() -> None:
    assert gc.isenabled()
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer block still runs
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
