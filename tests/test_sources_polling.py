"""Poll semantics against a local server speaking the Alertmanager/Grafana API, with an injected clock.

Polls are called directly (no scheduler), so time only moves when the test moves the ManualClock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from proactived.clock import ManualClock
from proactived.daemon import build_runtime
from proactived.dedup import Incident
from proactived.model import Status
from proactived.runtime import Runtime
from proactived.sources import build_source, metrics
from proactived.sources.poller import UNREACHABLE, SourcePoller
from proactived.store import incidents as incident_rows
from proactived.store import outbox
from tests.fake_monitoring import ALERTMANAGER_ALERTS, GRAFANA_ALERTS, FakeMonitoring, fake_monitoring
from tests.running import make_config, running_daemon


def am_alert(instance: str, state: str = "active", silenced: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "labels": {"alertname": "DiskFull", "instance": instance, "severity": "warning"},
        "annotations": {"summary": f"disk almost full on {instance}"},
        "fingerprint": f"fp-{instance}",
        "startsAt": "2026-11-02T08:00:00Z",
        "endsAt": "2026-11-02T09:05:00Z",
        "updatedAt": "2026-11-02T08:00:00Z",
        "receivers": [{"name": "webhook"}],
        "status": {"state": state, "silencedBy": list(silenced), "inhibitedBy": []},
    }


@pytest.fixture
def fake() -> Iterator[FakeMonitoring]:
    with fake_monitoring() as server:
        yield server


def runtime(tmp_path: Path, store_url: str, clock: ManualClock, source: dict[str, Any]) -> Runtime:
    config = make_config(tmp_path, store_url, sources=[source])
    return build_runtime(config, tmp_path / "proactived.yaml", clock)


@pytest.fixture
def rt(tmp_path: Path, store_url: str, clock: ManualClock, fake: FakeMonitoring) -> Iterator[Runtime]:
    source = {"name": "am", "type": "alertmanager", "url": fake.url, "unreachable_after": 3, "interval": "30s"}
    runtime_ = runtime(tmp_path, store_url, clock, source)
    yield runtime_
    runtime_.store.close()


def poller(rt: Runtime) -> SourcePoller:
    return SourcePoller(rt, build_source(rt.config.sources[0], rt.clock.now))


def current(rt: Runtime) -> list[Incident]:
    with rt.store.transaction() as conn:
        return incident_rows.list_incidents(conn)


def state(rt: Runtime) -> dict[str, str]:
    """alertname/instance (or source) → status of every current incident."""
    return {f"{i.name}/{i.labels.get('instance') or i.labels.get('source')}": i.status.value for i in current(rt)}


def test_it_resolves_what_a_successful_poll_no_longer_lists(rt: Runtime, fake: FakeMonitoring) -> None:
    p = poller(rt)
    fake.serve(ALERTMANAGER_ALERTS, [am_alert("host-a"), am_alert("host-b")])
    assert p.poll().opened == 2
    assert p.poll().opened == 0  # a repeat is the same incident
    fake.serve(ALERTMANAGER_ALERTS, [am_alert("host-b")])
    outcome = p.poll()
    assert (outcome.ok, outcome.resolved) == (True, 1)
    assert state(rt) == {"DiskFull/host-a": "resolved", "DiskFull/host-b": "firing"}
    assert fake.seen[0].query == [("active", "true")]


def test_a_source_down_for_ten_minutes_keeps_its_incidents_open_and_raises_one_incident(
    rt: Runtime, fake: FakeMonitoring, clock: ManualClock
) -> None:
    p = poller(rt)
    fake.serve(ALERTMANAGER_ALERTS, [am_alert("host-a"), am_alert("host-b")])
    p.poll()
    errors_before = metrics.ERRORS.labels("am", "http")._value.get()
    fake.fail(503)
    for _ in range(20):  # every 30 s for 10 minutes
        clock.advance(timedelta(seconds=30))
        assert p.poll().error_kind == "http"
    assert state(rt) == {"DiskFull/host-a": "firing", "DiskFull/host-b": "firing", f"{UNREACHABLE}/am": "firing"}
    (own,) = [i for i in current(rt) if i.name == UNREACHABLE]
    assert own.source == "proactived" and own.count == 18  # raised at the 3rd failure, repeats folded in
    assert own.labels == {"alertname": UNREACHABLE, "source": "am", "source_type": "alertmanager", "severity": "high"}
    assert "HTTP 503" in own.annotations["description"]
    assert metrics.ERRORS.labels("am", "http")._value.get() - errors_before == 20

    fake.heal()
    clock.advance(timedelta(seconds=30))
    assert p.poll().ok
    assert state(rt) == {"DiskFull/host-a": "firing", "DiskFull/host-b": "firing", f"{UNREACHABLE}/am": "resolved"}
    assert metrics.LAST_SUCCESS.labels("am")._value.get() == clock.now().timestamp()


def test_fewer_failures_than_the_threshold_raise_nothing(rt: Runtime, fake: FakeMonitoring) -> None:
    p = poller(rt)
    fake.fail(500)
    assert [p.poll().ok, p.poll().ok] == [False, False]
    fake.heal()
    fake.serve(ALERTMANAGER_ALERTS, [])
    assert p.poll().ok and current(rt) == []
    fake.fail(500)
    assert [p.poll().ok, p.poll().ok] == [False, False]  # the count started again
    assert current(rt) == []


def test_an_unreachable_port_and_a_bad_payload_are_failed_polls_that_change_nothing(
    rt: Runtime, fake: FakeMonitoring
) -> None:
    p = poller(rt)
    fake.serve(ALERTMANAGER_ALERTS, [am_alert("host-a")])
    p.poll()
    with rt.store.transaction() as conn:
        pending = outbox.stats(conn).pending
    fake.serve(ALERTMANAGER_ALERTS, {"alerts": "not a list"})
    assert p.poll().error_kind == "payload"
    fake.serve(ALERTMANAGER_ALERTS, [{**am_alert("host-a"), "labels": "x"}])
    assert p.poll().error_kind == "payload"
    with rt.store.transaction() as conn:
        assert outbox.stats(conn).pending == pending
    assert state(rt) == {"DiskFull/host-a": "firing"}

    dead = runtime(rt.config_path.parent / "b", "", ManualClock(rt.clock.now()), {
        "name": "gone", "type": "prometheus", "url": "http://127.0.0.1:9", "unreachable_after": 1,
    })  # fmt: skip
    try:
        assert poller(dead).poll().error_kind == "connection"
        assert state(dead) == {f"{UNREACHABLE}/gone": "firing"}
    finally:
        dead.store.close()


def test_a_silenced_alert_is_not_announced_but_not_resolved_either(rt: Runtime, fake: FakeMonitoring) -> None:
    p = poller(rt)
    fake.serve(ALERTMANAGER_ALERTS, [am_alert("host-a")])
    p.poll()
    fake.serve(
        ALERTMANAGER_ALERTS, [am_alert("host-a", "suppressed", ("silence-1",)), am_alert("host-b", "suppressed")]
    )
    assert p.poll().opened == 0
    assert state(rt) == {"DiskFull/host-a": "firing"}  # silencing is not recovering
    fake.serve(ALERTMANAGER_ALERTS, [])
    p.poll()
    assert state(rt) == {"DiskFull/host-a": "resolved"}


def test_included_suppressed_alerts_carry_the_reason(
    tmp_path: Path, store_url: str, clock: ManualClock, fake: FakeMonitoring
) -> None:
    source = {"name": "am", "type": "alertmanager", "url": fake.url, "include_suppressed": True, "filter": ['job="x"']}
    rt = runtime(tmp_path, store_url, clock, source)
    try:
        fake.serve(ALERTMANAGER_ALERTS, [am_alert("host-a", "suppressed", ("silence-1",))])
        poller(rt).poll()
        (incident,) = current(rt)
        assert incident.suppressed == "alertmanager silenced by silence-1"
        assert fake.seen[-1].query == [("active", "true"), ("filter", 'job="x"')]
    finally:
        rt.store.close()


def test_it_polls_grafana_with_the_service_account_token(
    tmp_path: Path, store_url: str, clock: ManualClock, fake: FakeMonitoring
) -> None:
    fake.token = "glsa_0123456789abcdef"
    source = {"name": "graf", "type": "grafana", "url": fake.url, "bearer_token": fake.token, "unreachable_after": 1}
    rt = runtime(tmp_path, store_url, clock, source)
    alert = {**am_alert("web1"), "labels": {"alertname": "High CPU", "__alert_rule_uid__": "u1", "instance": "web1"}}
    try:
        fake.serve(GRAFANA_ALERTS, [alert])
        assert poller(rt).poll().opened == 1
        (incident,) = current(rt)
        assert incident.fingerprint == "graf:fp-web1" and incident.source_kind == "grafana"
        assert incident.labels == {"alertname": "High CPU", "instance": "web1"}
        assert fake.seen[-1].headers["Authorization"] == f"Bearer {fake.token}"
    finally:
        rt.store.close()
    bad = {**source, "bearer_token": "wrong-token"}
    rt = runtime(tmp_path, store_url, clock, bad)
    try:
        assert poller(rt).poll().error_kind == "auth"
        assert state(rt) == {"High CPU/web1": "firing", f"{UNREACHABLE}/graf": "firing"}
    finally:
        rt.store.close()


def test_a_slow_source_blocks_neither_other_sources_nor_webhooks(tmp_path: Path) -> None:
    with fake_monitoring() as slow, fake_monitoring() as fast:
        slow.delay = 3.0
        slow.serve(ALERTMANAGER_ALERTS, [])
        fast.serve(ALERTMANAGER_ALERTS, [am_alert("host-f")])
        sources = [
            {"name": "slow", "type": "alertmanager", "url": slow.url, "interval": "1s", "timeout": "10s"},
            {"name": "fast", "type": "alertmanager", "url": fast.url, "interval": "1s"},
        ]
        with running_daemon(make_config(tmp_path, sources=sources)) as d:
            deadline = time.monotonic() + 10
            while not slow.seen and time.monotonic() < deadline:
                time.sleep(0.05)
            started = time.monotonic()  # the slow source is now inside its 3 s request
            while len(fast.seen) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            body = {"version": "4", "status": "firing", "alerts": []}
            answered = d.post("/api/v1/webhooks/alertmanager", body)
            elapsed = time.monotonic() - started
            assert answered.status_code == 200
            assert len(fast.seen) >= 2 and elapsed < 2.5, f"fast source or webhook waited {elapsed:.1f}s"
            assert len(slow.seen) == 1
            text = requests.get(d.url + "/metrics", timeout=5).text
            assert 'proactived_source_up{source="fast"} 1.0' in text
            assert 'proactived_source_alerts_seen{source="fast"} 1.0' in text
            assert {i.labels["instance"] for i in current(d.rt) if i.status is Status.FIRING} == {"host-f"}


def test_a_reload_replaces_only_the_sources_whose_config_changed(rt: Runtime, fake: FakeMonitoring) -> None:
    def jobs() -> dict[str, float]:
        polls = [job for job in rt.scheduler.get_jobs() if job.id.startswith("source:")]
        return {job.id: job.trigger.interval.total_seconds() for job in polls}

    assert jobs()["source:am"] == 30
    base = rt.config.model_dump(mode="python", exclude={"sources"})
    grafana = {"name": "graf", "type": "grafana", "url": fake.url, "interval": "1m"}
    changed = {"name": "am", "type": "alertmanager", "url": fake.url, "interval": "10s"}
    rt.apply_config(type(rt.config).model_validate({**base, "sources": [changed, grafana]}))
    assert jobs() == {"source:am": 10, "source:graf": 60}
    rt.apply_config(type(rt.config).model_validate({**base, "sources": []}))
    assert jobs() == {}
