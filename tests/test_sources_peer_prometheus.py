"""Against real Prometheus + Alertmanager: a killed scrape target becomes one incident on each path —
polled from Prometheus, polled from Alertmanager, pushed by Alertmanager's webhook — and all three
resolve when the target is back."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest
import requests

from proactived.dedup import Incident
from proactived.store import incidents as incident_rows
from tests.running import RunningDaemon, make_config, running_daemon

if TYPE_CHECKING:  # imported for real by pytest_plugins
    from tests.peers.prometheus import PrometheusStack

pytest_plugins = ["tests.peers.prometheus"]
pytestmark = pytest.mark.peer

T = TypeVar("T")
PATHS = {"prom": "prometheus", "am": "alertmanager", "alertmanager-webhook": "alertmanager"}
HOOK_PASSWORD = "hook-pass-0123"


def wait(predicate: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


def target_down(d: RunningDaemon) -> list[Incident]:
    with d.rt.store.transaction() as conn:
        return [i for i in incident_rows.list_incidents(conn) if i.name == "TargetDown"]


def by_source(incidents: list[Incident], status: str) -> dict[str, Incident] | None:
    """One incident per path, all in ``status``; None until every path got there."""
    found = {i.source: i for i in incidents if i.status.value == status}
    return found if set(found) == set(PATHS) else None


def test_a_killed_target_is_one_incident_per_path_and_resolves_when_back(
    prometheus_stack: PrometheusStack, tmp_path: Path
) -> None:
    stack = prometheus_stack
    stack.reset()
    sources = [
        {"name": "prom", "type": "prometheus", "url": stack.prometheus_url, "interval": "1s"},
        {"name": "am", "type": "alertmanager", "url": stack.alertmanager_url, "interval": "1s"},
    ]
    webhooks = {"alertmanager": {"username": "alertmanager", "password": HOOK_PASSWORD}}
    with running_daemon(make_config(tmp_path, sources=sources, webhooks=webhooks)) as d:
        host_port = d.url.removeprefix("http://")
        # Alertmanager sends the URL's user info as basic auth
        stack.set_webhook_url(f"http://alertmanager:{HOOK_PASSWORD}@{host_port}/api/v1/webhooks/alertmanager")
        try:
            stack.kill_target()
            firing = wait(lambda: by_source(target_down(d), "firing"), "TargetDown firing on all three paths")
            assert len(target_down(d)) == 3  # one per path, no duplicates
            for source, incident in firing.items():
                assert incident.source_kind == PATHS[source]
                assert incident.labels["instance"] == stack.target_instance
                assert incident.severity.value == "critical"
            assert firing["am"].fingerprint.startswith("am:") and firing["alertmanager-webhook"].generator_url

            stack.start_target()
            resolved = wait(lambda: by_source(target_down(d), "resolved"), "TargetDown resolved on all three paths")
            assert {s: i.id for s, i in resolved.items()} == {s: i.id for s, i in firing.items()}
            metrics = requests.get(d.url + "/metrics", timeout=5).text
            assert 'proactived_source_up{source="prom"} 1.0' in metrics
            assert 'proactived_webhook_requests_total{endpoint="alertmanager",result="accepted"}' in metrics
        finally:
            stack.set_webhook_url(None)
