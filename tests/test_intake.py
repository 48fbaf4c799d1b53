"""The push intake: a 200 means the request is stored; the intake stage deduplicates it exactly once, in order."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from proactived import intake as intake_module
from proactived import telemetry
from proactived.clock import ManualClock
from proactived.dedup import DedupSettings
from proactived.ingest import Ingestor
from proactived.intake import Intake
from proactived.store import Store
from proactived.store import incidents as incident_rows
from proactived.store.engine import insert_rows
from proactived.store.schema import intake as intake_table
from tests.conftest import T0
from tests.running import RunningDaemon, make_config, running_daemon

DOWN = {"labels": {"alertname": "Down", "host": "web1"}}
SLOW = {"labels": {"alertname": "Slow", "host": "web2"}}


def counts(store: Store) -> dict[str, tuple[str, int]]:
    """alertname -> (status, count) of every incident."""
    with store.reading() as conn:
        return {i.labels["alertname"]: (i.status.value, i.count) for i in incident_rows.list_incidents(conn)}


def stored_requests(store: Store) -> int:
    with store.reading() as conn:
        return int(conn.execute(select(func.count()).select_from(intake_table)).scalar_one())


def hold_the_stage(d: RunningDaemon) -> None:
    """Stop the intake stage and the drain at shutdown: what is accepted stays stored, like after a crash."""
    d.rt.dispatcher.stop()
    d.rt.stop_hooks.clear()


def test_a_push_is_answered_once_stored_and_then_deduplicated_by_the_stage(tmp_path: Path, store_url: str) -> None:
    with running_daemon(make_config(tmp_path, store_url)) as d:
        response = d.post("/api/v1/alerts", [DOWN, SLOW, DOWN], wait=False)
        assert response.status_code == 200
        assert response.json() == {"status": "success", "accepted": 3, "queued": 3}
        d.settle()
        assert counts(d.rt.store) == {"Down": ("firing", 2), "Slow": ("firing", 1)}
        assert stored_requests(d.rt.store) == 0


def test_accepted_pushes_survive_a_stop_before_dedup_and_count_once_after_restarts(
    tmp_path: Path, store_url: str
) -> None:
    config = make_config(tmp_path, store_url)
    with running_daemon(config) as d:
        hold_the_stage(d)
        for body in ([DOWN], [DOWN, SLOW], [{**SLOW, "status": "resolved"}]):
            assert d.post("/api/v1/alerts", body, wait=False).status_code == 200
        assert counts(d.rt.store) == {}
        assert stored_requests(d.rt.store) == 3
    with running_daemon(config) as d:
        d.settle()
        assert counts(d.rt.store) == {"Down": ("firing", 2), "Slow": ("resolved", 1)}
    with running_daemon(config) as d:  # a further restart finds nothing left to apply again
        d.settle()
        assert counts(d.rt.store) == {"Down": ("firing", 2), "Slow": ("resolved", 1)}
        assert stored_requests(d.rt.store) == 0


def test_a_clean_stop_deduplicates_what_it_accepted(tmp_path: Path, store_url: str) -> None:
    config = make_config(tmp_path, store_url)
    with running_daemon(config) as d:
        d.rt.dispatcher.stop()
        assert d.post("/api/v1/alerts", [DOWN], wait=False).status_code == 200
        store = d.rt.store
        assert stored_requests(store) == 1
    reopened = Store(config.store_url())
    try:
        assert counts(reopened) == {"Down": ("firing", 1)}
        assert stored_requests(reopened) == 0
    finally:
        reopened.close()


def test_wait_true_deduplicates_what_was_queued_before_it_first(tmp_path: Path, store_url: str) -> None:
    with running_daemon(make_config(tmp_path, store_url)) as d:
        hold_the_stage(d)
        assert d.post("/api/v1/alerts", [DOWN], wait=False).status_code == 200
        response = d.post("/api/v1/alerts", [{**DOWN, "status": "resolved"}], wait=True)
        assert response.status_code == 200
        body = response.json()
        assert (body["accepted"], body["queued"], body["opened"], body["resolved"]) == (1, 0, 0, 1)
        assert counts(d.rt.store) == {"Down": ("resolved", 1)}


def test_a_full_backlog_is_answered_503_with_retry_after_and_stores_nothing_more(
    tmp_path: Path, store_url: str
) -> None:
    with running_daemon(make_config(tmp_path, store_url, server={"max_queued_alerts": 3})) as d:
        hold_the_stage(d)
        assert d.post("/api/v1/alerts", [DOWN, SLOW], wait=False).status_code == 200
        assert d.post("/api/v1/alerts", [DOWN, SLOW], wait=False).status_code == 200
        refused = d.post("/api/v1/alerts", [DOWN], wait=False)
        assert refused.status_code == 503
        assert refused.headers["Retry-After"] == "5"
        assert "backlog" in refused.json()["error"]
        assert d.rt.status_providers["intake"]()["queued_alerts"] == 4
        assert stored_requests(d.rt.store) == 2
        # waiting clients are still served: they drain the backlog themselves, in order
        assert d.post("/api/v1/alerts", [SLOW], wait=True).status_code == 200
        assert counts(d.rt.store) == {"Down": ("firing", 2), "Slow": ("firing", 3)}
        assert d.post("/api/v1/alerts", [DOWN], wait=False).status_code == 200


def test_an_invalid_push_is_refused_whole_and_nothing_is_stored(tmp_path: Path, store_url: str) -> None:
    with running_daemon(make_config(tmp_path, store_url)) as d:
        hold_the_stage(d)
        response = d.post("/api/v1/alerts", [DOWN, {"labels": {"alertname": "X"}, "endsAt": "yesterday"}], wait=False)
        assert response.status_code == 400
        assert response.json()["field"] == "[1].endsAt"
        assert stored_requests(d.rt.store) == 0


def test_queued_pushes_are_counted_once_in_the_received_metric(tmp_path: Path, store_url: str) -> None:
    accepted = telemetry.ALERTS_RECEIVED.labels("push", "accepted")
    with running_daemon(make_config(tmp_path, store_url)) as d:
        before = accepted._value.get()
        assert d.post("/api/v1/alerts", [DOWN, SLOW], wait=False).status_code == 200
        d.settle()
        assert accepted._value.get() - before == 2


def test_the_stage_lets_a_burst_be_accepted_first_unless_half_the_bound_is_queued(store: Store) -> None:
    clock = ManualClock(T0)
    ingestor = Ingestor(store, clock, lambda: DedupSettings())
    bound = {"alerts": 100}
    intake = Intake(store, ingestor, lambda: bound["alerts"], lambda: None, quiet_seconds=3600)
    assert intake.accept(b'[{"labels": {"alertname": "A"}}]', T0, max_alerts=10) == 1
    assert intake.run_once() == 0, "requests are arriving: the stage waits"
    assert counts(store) == {}
    bound["alerts"] = 2  # one queued alert is half of this bound: accepting no longer goes first
    assert intake.run_once() == 1
    assert counts(store) == {"A": ("firing", 1)}
    assert intake.run_once() == 0


def test_a_steady_stream_is_deduplicated_at_most_max_wait_seconds_behind(store: Store) -> None:
    clock = ManualClock(T0)
    ticks = {"now": 0.0}
    intake = Intake(store, Ingestor(store, clock, lambda: DedupSettings()), lambda: 10**6, lambda: None,
                    quiet_seconds=0.5, max_wait_seconds=1.0, monotonic=lambda: ticks["now"])  # fmt: skip

    def arrive(name: str) -> None:
        assert intake.accept(b'[{"labels": {"alertname": "%s"}}]' % name.encode(), T0, max_alerts=10) == 1

    arrive("A")
    for step in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):  # a request every 0.1 s: never a pause
        ticks["now"] = step
        assert intake.run_once() == 0, f"at {step}s the stage still lets accepting go first"
        arrive(f"B{step}")
    ticks["now"] = 1.1
    assert intake.run_once() == 1, "waited a full second for a pause that did not come: deduplicate now"
    assert len(counts(store)) == 10 and stored_requests(store) == 0
    arrive("C")
    ticks["now"] = 1.2
    assert intake.run_once() == 0, "the next wait starts afresh"
    ticks["now"] = 2.2
    assert intake.run_once() == 1
    assert "C" in counts(store)


def test_stored_bodies_are_read_with_the_time_they_were_received(store: Store) -> None:
    clock = ManualClock(T0)
    intake = Intake(store, Ingestor(store, clock, lambda: DedupSettings()), lambda: 100, lambda: None, quiet_seconds=0)
    received = T0 - timedelta(hours=1)
    assert intake.accept(b'[{"labels": {"alertname": "A"}}]', received, max_alerts=10) == 1
    assert intake.run_once() == 1
    with store.reading() as conn:
        (incident,) = incident_rows.list_incidents(conn)
    assert incident.starts_at == received


def test_a_stored_request_that_no_longer_builds_is_logged_and_skipped_and_the_rest_applied(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    intake = Intake(store, Ingestor(store, ManualClock(T0), lambda: DedupSettings()), lambda: 100, lambda: None)
    with store.transaction() as conn:  # as if an older version had accepted what this one refuses
        old = b'[{"labels": {"alertname": "Old"}, "status": "gone"}]'
        insert_rows(conn, intake_table, [{"received_at": T0, "alerts": 1, "body": old}])
    assert intake.accept(b'[{"labels": {"alertname": "A"}}]', T0, max_alerts=10) == 1
    intake.quiet_seconds = 0
    with caplog.at_level(logging.ERROR, logger="proactived"):
        assert intake.run_once() == 1
    assert counts(store) == {"A": ("firing", 1)}
    assert stored_requests(store) == 0
    (record,) = [r for r in caplog.records if r.getMessage() == "intake_rejected"]
    assert record.fields["field"] == "[0].status"  # type: ignore[attr-defined]


def test_a_long_backlog_is_deduplicated_in_bounded_rounds_in_arrival_order(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intake_module, "ROUND_PAGE", 3)  # the bounds made small: rounds cross pages and stop early
    monkeypatch.setattr(intake_module, "ROUND_ALERTS", 10)
    monkeypatch.setattr(intake_module, "ROUND_FINGERPRINTS", 4)
    monkeypatch.setattr(intake_module, "DELETE_IDS", 2)
    intake = Intake(store, Ingestor(store, ManualClock(T0), lambda: DedupSettings()), lambda: 1000, lambda: None,
                    quiet_seconds=0)  # fmt: skip

    def push(*alerts: dict[str, object]) -> None:
        assert intake.accept(json.dumps(alerts).encode(), T0, max_alerts=100) == len(alerts)

    def down(host: str, **fields: str) -> dict[str, object]:
        return {"labels": {"alertname": "Down", "host": host}, **fields}

    for host in ("h0", "h1", "h2", "h3", "h4", "h5"):  # round 1: h0-h4 (more than four fingerprints)
        push(down(host))
    push(down("h0", status="resolved"))  # round 2: h5, h0 resolved and back, two h1 requests (9 alerts)
    push(down("h0"))
    for _ in range(4):  # round 3: the last two h1 requests (a third would pass 10 alerts)
        push(down("h1"), down("h1"), down("h1"))
    push(*[down("h2")] * 11)  # round 4: larger than a round, taken whole

    assert intake.run_once() == 4
    assert stored_requests(store) == 0
    with store.reading() as conn:
        incidents = {i.labels["host"]: i for i in incident_rows.list_incidents(conn)}
        h0_history = [event for event, _, _ in incident_rows.history_of(conn, incidents["h0"].id)]
    assert {host: (i.status.value, i.count) for host, i in incidents.items()} == {
        "h0": ("firing", 2),
        "h1": ("firing", 13),
        "h2": ("firing", 12),
        "h3": ("firing", 1),
        "h4": ("firing", 1),
        "h5": ("firing", 1),
    }
    assert h0_history == ["opened", "resolved", "reopened"]


def test_rounds_take_few_fingerprints_no_round_has_seen_and_many_repeats_of_seen_ones(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intake_module, "ROUND_CHANGES", 2)
    intake = Intake(store, Ingestor(store, ManualClock(T0), lambda: DedupSettings()), lambda: 1000, lambda: None,
                    quiet_seconds=0)  # fmt: skip
    hosts = [f"h{i}" for i in range(6)]
    bodies = [json.dumps([{"labels": {"alertname": "Down", "host": h}}]).encode() for h in hosts]
    for body in bodies:
        intake.accept(body, T0, max_alerts=10)

    assert intake.run_once() == 3, "six new fingerprints: two per round"
    for _ in range(3):
        for body in bodies:
            intake.accept(body, T0, max_alerts=10)
    assert intake.run_once() == 1, "18 repeats of seen fingerprints: one round"
    assert set(counts(store).values()) == {("firing", 4)}


def test_a_stage_in_turn_with_accepting_holds_back_while_requests_arrive_for_at_most_max_wait(store: Store) -> None:
    ticks = {"now": 10.0}
    intake = Intake(store, Ingestor(store, ManualClock(T0), lambda: DedupSettings()), lambda: 10**6, lambda: None,
                    quiet_seconds=0.5, max_wait_seconds=1.0, monotonic=lambda: ticks["now"])  # fmt: skip
    calls: list[float] = []
    stage = intake.in_turn(lambda: calls.append(ticks["now"]) or 1)

    assert stage() == 1, "nothing arriving: it runs"
    intake.accept(b'[{"labels": {"alertname": "A"}}]', T0, max_alerts=10)
    ticks["now"] = 10.2
    assert stage() == 0, "a request just arrived: accepting goes first"
    ticks["now"] = 11.3
    intake.accept(b'[{"labels": {"alertname": "B"}}]', T0, max_alerts=10)
    assert stage() == 1, "held back a full second: its turn comes though requests keep arriving"
    assert stage() == 0, "and the next wait starts afresh"
    ticks["now"] = 12.0
    assert stage() == 1, "a pause in arrivals"
    assert calls == [10.0, 11.3, 12.0]
