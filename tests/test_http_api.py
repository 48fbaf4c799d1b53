"""The core HTTP endpoints served by the real waitress server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from proactived.store import incidents as incident_rows
from tests.running import RunningDaemon, make_config, running_daemon


@pytest.fixture
def daemon(tmp_path: Path, store_url: str) -> Iterator[RunningDaemon]:
    config = make_config(tmp_path, store_url, server={"max_body_bytes": 4096, "max_alerts_per_request": 20})
    with running_daemon(config) as running:
        yield running


def current(daemon: RunningDaemon) -> list[incident_rows.Incident]:
    with daemon.rt.store.reading() as conn:
        return incident_rows.list_incidents(conn)


WEB1 = {"labels": {"alertname": "HostDown", "host": "web1", "severity": "critical"}}


def test_it_turns_100_posts_into_one_incident_then_resolves_and_reopens_it(daemon: RunningDaemon) -> None:
    for _ in range(100):
        assert daemon.post("/api/v1/alerts", [WEB1]).status_code == 200
    (incident,) = current(daemon)
    assert incident.count == 100 and incident.status.value == "firing" and incident.severity.value == "critical"
    resolved = daemon.post("/api/v1/alerts", [{**WEB1, "status": "resolved"}]).json()
    assert resolved["resolved"] == 1
    assert current(daemon)[0].status.value == "resolved"
    assert daemon.post("/api/v1/alerts", [WEB1]).json()["reopened"] == 1
    assert current(daemon)[0].id == incident.id


def test_ends_at_in_the_past_means_resolved_like_alertmanager(daemon: RunningDaemon) -> None:
    daemon.post("/api/v1/alerts", [WEB1])
    body = daemon.post("/api/v1/alerts", [{**WEB1, "endsAt": "2020-01-01T00:00:00Z"}]).json()
    assert body["resolved"] == 1


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ([{"labels": {}}], "[0].labels", "must not be empty"),
        ([WEB1, {"annotations": {}}], "[1].labels", "expected an object of string values"),
        ([{"labels": {"a": 1}}], "[0].labels.a", "expected a string"),
        ([{**WEB1, "status": "bogus"}], "[0].status", "expected 'firing' or 'resolved'"),
        ([{**WEB1, "startsAt": "yesterday"}], "[0].startsAt", "invalid RFC 3339 timestamp 'yesterday'"),
        ([{**WEB1, "lables": {}}], "[0].lables", "unknown field"),
        ({"labels": {}}, "body", "expected a JSON list of alerts"),
        ([WEB1] * 21, "body", "too many alerts in one request (21 > 20)"),
    ],
)
def test_bad_input_gets_400_naming_the_field_and_stores_nothing(
    daemon: RunningDaemon, body: object, field: str, message: str
) -> None:
    response = daemon.post("/api/v1/alerts", body)
    assert response.status_code == 400
    assert response.json() == {"status": "error", "error": message, "field": field}
    assert current(daemon) == []


def test_invalid_json_is_a_400(daemon: RunningDaemon) -> None:
    response = requests.post(
        daemon.url + "/api/v1/alerts",
        data=b"[{not json",
        headers={"Authorization": "Bearer test-token-0123456789"},
        timeout=5,
    )
    assert response.status_code == 400 and response.json()["field"] == "body"


def test_an_oversized_body_is_a_413_and_earlier_alerts_are_untouched(daemon: RunningDaemon) -> None:
    daemon.post("/api/v1/alerts", [WEB1])
    big = [{"labels": {"alertname": "X", "pad": "y" * 3000}}, {"labels": {"alertname": "Y", "pad": "z" * 3000}}]
    assert daemon.post("/api/v1/alerts", big).status_code == 413
    (incident,) = current(daemon)
    assert incident.count == 1


def test_writes_need_the_bearer_token(daemon: RunningDaemon) -> None:
    assert daemon.post("/api/v1/alerts", [WEB1], token=None).status_code == 401
    assert daemon.post("/api/v1/alerts", [WEB1], token="wrong").status_code == 401
    assert current(daemon) == []


def test_health_readiness_and_metrics(daemon: RunningDaemon) -> None:
    daemon.post("/api/v1/alerts", [WEB1, WEB1])
    assert daemon.get("/healthz").json() == {"status": "ok"}
    ready = daemon.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["store"] == "ok"
    text = daemon.get("/metrics").text
    assert 'proactived_incidents{status="firing"} 1.0' in text
    assert "# TYPE proactived_outbox_pending gauge" in text  # the correlation stage may already have drained it
    assert "proactived_build_info{" in text


def test_unknown_paths_and_methods(daemon: RunningDaemon) -> None:
    assert daemon.get("/nope").status_code == 404
    assert daemon.get("/api/v1/alerts").status_code == 405
