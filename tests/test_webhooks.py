"""The Alertmanager and Grafana webhook endpoints on a real in-process daemon: auth, idempotency, partial
resolves, malformed payloads and Grafana's HMAC signature with its replay window."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from proactived.clock import ManualClock
from proactived.dedup import Incident
from proactived.sources import grafana
from proactived.store import incidents as incident_rows
from proactived.store import outbox
from tests.conftest import T0
from tests.running import TOKEN, RunningDaemon, make_config, running_daemon
from tests.test_sources_normalise import GRAFANA_WEBHOOK, fixture

AM = "/api/v1/webhooks/alertmanager"
GRAFANA = "/api/v1/webhooks/grafana"
HOOK_TOKEN = "am-hook-token-0123"
SECRET = "grafana-hmac-secret"


@pytest.fixture
def daemon(tmp_path: Path, store_url: str) -> Iterator[RunningDaemon]:
    webhooks = {
        "alertmanager": {"bearer_token": HOOK_TOKEN},
        "grafana": {
            "username": "grafana",
            "password": "basic-pass-0123",
            "hmac_secret": SECRET,
            "timestamp_header": "X-Grafana-Alerting-Timestamp",
            "max_age": "1m",
        },
    }
    with running_daemon(make_config(tmp_path, store_url, webhooks=webhooks), clock=ManualClock(T0)) as d:
        yield d


def incidents(d: RunningDaemon) -> dict[str, Incident]:
    with d.rt.store.transaction() as conn:
        return {i.labels.get("instance", i.name): i for i in incident_rows.list_incidents(conn)}


def outbox_size(d: RunningDaemon) -> int:
    with d.rt.store.transaction() as conn:
        return sum(outbox.stats(conn).pending.values())


def test_it_opens_and_resolves_from_alertmanager_webhooks(daemon: RunningDaemon) -> None:
    firing = fixture("prometheus/webhook_firing.json")
    answer = daemon.post(AM, firing, token=HOOK_TOKEN)
    assert answer.status_code == 200 and answer.json()["opened"] == 1
    (incident,) = incidents(daemon).values()
    assert incident.source == "alertmanager-webhook" and incident.source_kind == "alertmanager"
    assert incident.fingerprint == "alertmanager-webhook:" + firing["alerts"][0]["fingerprint"]
    resolved = fixture("prometheus/webhook_resolved.json")
    assert daemon.post(AM, resolved, token=HOOK_TOKEN).json()["resolved"] == 1
    assert [i.status.value for i in incidents(daemon).values()] == ["resolved"]


def test_a_redelivered_group_changes_no_incident(daemon: RunningDaemon) -> None:
    daemon.rt.dispatcher.stop()  # keep the incident events pending: the correlation stage would take them at once
    group = fixture("prometheus/webhook_firing_grouped_3alerts.json")
    daemon.post(AM, group, token=HOOK_TOKEN)
    before = {k: (i.id, i.status) for k, i in incidents(daemon).items()}
    queued = outbox_size(daemon)
    for _ in range(3):
        answer = daemon.post(AM, group, token=HOOK_TOKEN)
        assert answer.json() == {"status": "success", "accepted": 3, "opened": 0, "resolved": 0, "reopened": 0}
    assert {k: (i.id, i.status) for k, i in incidents(daemon).items()} == before
    assert outbox_size(daemon) == queued  # nothing new for downstream stages


def test_a_partial_resolve_resolves_only_its_alerts(daemon: RunningDaemon) -> None:
    daemon.post(AM, fixture("prometheus/webhook_firing_grouped_3alerts.json"), token=HOOK_TOKEN)
    daemon.post(AM, fixture("prometheus/webhook_partial_resolve_grouped.json"), token=HOOK_TOKEN)
    assert {k: i.status.value for k, i in incidents(daemon).items()} == {
        "host-a": "resolved",
        "host-b": "firing",
        "host-c": "firing",
    }


def test_it_refuses_missing_or_other_credentials(daemon: RunningDaemon) -> None:
    body = fixture("prometheus/webhook_firing.json")
    assert daemon.post(AM, body, token=None).status_code == 401
    assert daemon.post(AM, body, token=TOKEN).status_code == 401  # the endpoint's own token, not the server's
    auth = requests.post(daemon.url + AM, json=body, auth=("grafana", "basic-pass-0123"), timeout=5)
    assert auth.status_code == 401 and "Basic" in auth.headers["WWW-Authenticate"]
    assert incidents(daemon) == {}


def test_without_its_own_credentials_an_endpoint_uses_the_server_token(tmp_path: Path) -> None:
    with running_daemon(make_config(tmp_path)) as d:
        body = fixture("prometheus/webhook_firing.json")
        assert d.post(AM, body, token=None).status_code == 401
        assert d.post(AM, body, token=TOKEN).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"version": "4", "alerts": [{"status": "firing"}]}, "alerts[0].labels"),
        ({"version": "4", "alerts": [{"status": "firing", "labels": {"a": "b"}, "endsAt": 5}]}, "alerts[0].endsAt"),
        ({"version": "3", "alerts": []}, "version"),
        ([1, 2], "body"),
    ],
)
def test_a_malformed_payload_is_refused_naming_the_field(daemon: RunningDaemon, body: Any, field: str) -> None:
    answer = daemon.post(AM, body, token=HOOK_TOKEN)
    assert answer.status_code == 400 and answer.json()["field"] == field
    assert incidents(daemon) == {}
    raw = requests.post(
        daemon.url + AM, data=b"{not json", headers={"Authorization": f"Bearer {HOOK_TOKEN}"}, timeout=5
    )
    assert raw.status_code == 400 and raw.json()["field"] == "body"


def grafana_post(d: RunningDaemon, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(
        d.url + GRAFANA,
        data=body,
        headers={"Content-Type": "application/json", **headers},
        auth=("grafana", "basic-pass-0123"),
        timeout=5,
    )


def signed(body: bytes, at: int, secret: str = SECRET) -> dict[str, str]:
    stamp = str(at)
    return {
        "X-Grafana-Alerting-Timestamp": stamp,
        "X-Grafana-Alerting-Signature": grafana.signature(secret, body, stamp),
    }


def test_it_accepts_a_signed_grafana_delivery(daemon: RunningDaemon) -> None:
    body = json.dumps(GRAFANA_WEBHOOK).encode()
    answer = grafana_post(daemon, body, signed(body, int(T0.timestamp())))
    assert answer.status_code == 200, answer.text
    assert answer.json()["opened"] == 1  # the second alert is a resolve of nothing we knew
    incident = incidents(daemon)["High memory usage"]
    assert incident.fingerprint == "grafana-webhook:c6eadffa33fcdf37" and incident.source_kind == "grafana"


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda body: {}, id="unsigned"),
        pytest.param(lambda body: signed(body, int(T0.timestamp()), secret="other-secret"), id="wrong-secret"),
        pytest.param(lambda body: signed(body + b" ", int(T0.timestamp())), id="body-changed"),
        pytest.param(lambda body: signed(body, int(T0.timestamp()) - 3600), id="replayed-an-hour-later"),
        pytest.param(
            lambda body: {**signed(body, int(T0.timestamp())), "X-Grafana-Alerting-Timestamp": "1"}, id="stamp-changed"
        ),
    ],
)
def test_it_refuses_grafana_deliveries_that_fail_the_signature(daemon: RunningDaemon, headers: Any) -> None:
    body = json.dumps(GRAFANA_WEBHOOK).encode()
    answer = grafana_post(daemon, body, headers(body))
    assert answer.status_code == 401
    assert incidents(daemon) == {}
