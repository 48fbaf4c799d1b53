"""End-to-end checks of the real Prometheus + Alertmanager test peer.

They prove the ``prometheus_stack`` fixture works: a killed target makes
``TargetDown`` fire in Prometheus and Alertmanager, a webhook registered with
``set_webhook_url`` gets the firing and then the resolved notification, and
``set_value`` drives ``HarnessValueHigh``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
import requests

if TYPE_CHECKING:  # imported for real by pytest_plugins (so pytest can rewrite its asserts)
    from tests.peers.prometheus import PrometheusStack

pytest_plugins = ["tests.peers.prometheus"]
pytestmark = pytest.mark.peer

HOST = "127.0.0.1"
FIRE_TIMEOUT = 15.0
RESOLVE_TIMEOUT = 15.0


class WebhookReceiver:
    """Collects the JSON bodies POSTed to ``url`` (127.0.0.1, random port)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._payloads: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer((HOST, 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        """Where Alertmanager should POST."""
        return f"http://{HOST}:{self._server.server_address[1]}/alerts"

    def payloads(self) -> list[dict[str, Any]]:
        """A copy of the bodies received so far, oldest first."""
        with self._lock:
            return list(self._payloads)

    def find(self, status: str, alertname: str) -> dict[str, Any] | None:
        """The first body with ``status`` whose group is ``alertname``."""
        for body in self.payloads():
            if body.get("status") == status and body.get("groupLabels", {}).get("alertname") == alertname:
                return body
        return None

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length))
                with receiver._lock:
                    receiver._payloads.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                """Keep the test output quiet."""

        return Handler


@pytest.fixture
def stack(prometheus_stack: PrometheusStack) -> PrometheusStack:
    """The session stack, reset to target up / value 0 / no alerts."""
    prometheus_stack.reset()
    return prometheus_stack


@pytest.fixture
def webhook(stack: PrometheusStack) -> Iterator[WebhookReceiver]:
    """A receiver that Alertmanager notifies; unregistered afterwards."""
    receiver = WebhookReceiver()
    stack.set_webhook_url(receiver.url)
    try:
        yield receiver
    finally:
        stack.set_webhook_url(None)
        receiver.close()


def firing(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The alerts in state "firing" (Prometheus /api/v1/alerts shape)."""
    return [a for a in alerts if a["state"] == "firing"]


def test_stack_is_ready(stack: PrometheusStack) -> None:
    """Target scraped up, both rules loaded, Alertmanager discovered."""
    assert stack.target_health() == "up"
    up = stack.query(f'up{{job="{stack.target_job}"}}')
    assert [r["metric"]["instance"] for r in up] == [stack.target_instance]
    rules = stack.wait_for(lambda: _rules(stack), what="rules")
    assert rules["TargetDown"]["labels"] == {"severity": "critical"}
    assert rules["TargetDown"]["duration"] == 2
    assert rules["HarnessValueHigh"]["query"] == "harness_value > 10"


def _rules(stack: PrometheusStack) -> dict[str, dict[str, Any]]:
    """Alerting rules from Prometheus /api/v1/rules, by name."""
    response = requests.get(stack.prometheus_url + "/api/v1/rules", params={"type": "alert"}, timeout=5)
    response.raise_for_status()
    groups = response.json()["data"]["groups"]
    return {r["name"]: r for g in groups for r in g["rules"]}


def test_target_down_fires_in_prometheus_and_alertmanager(stack: PrometheusStack) -> None:
    """kill_target -> TargetDown firing in both APIs; start_target -> gone."""
    stack.kill_target()
    alerts = stack.wait_for(
        lambda: firing(stack.prometheus_alerts("TargetDown")), FIRE_TIMEOUT, what="TargetDown firing in Prometheus"
    )
    assert alerts[0]["labels"]["job"] == stack.target_job
    assert alerts[0]["labels"]["instance"] == stack.target_instance
    assert alerts[0]["labels"]["severity"] == "critical"
    am_alerts = stack.wait_for(
        lambda: stack.alertmanager_alerts("TargetDown"), FIRE_TIMEOUT, what="TargetDown in Alertmanager"
    )
    assert am_alerts[0]["status"]["state"] == "active"
    assert am_alerts[0]["labels"]["job"] == stack.target_job
    stack.start_target()
    stack.wait_for(
        lambda: not stack.prometheus_alerts("TargetDown") and not stack.alertmanager_alerts("TargetDown"),
        RESOLVE_TIMEOUT,
        what="TargetDown to clear",
    )


def test_webhook_gets_firing_then_resolved(stack: PrometheusStack, webhook: WebhookReceiver) -> None:
    """The registered webhook gets a version-4 firing body, then a resolved one."""
    stack.kill_target()
    fired = stack.wait_for(lambda: webhook.find("firing", "TargetDown"), FIRE_TIMEOUT, what="firing webhook")
    assert fired["version"] == "4"
    assert fired["receiver"] == "webhook"
    assert fired["groupLabels"] == {"alertname": "TargetDown", "job": stack.target_job}
    assert fired["alerts"][0]["labels"]["instance"] == stack.target_instance
    assert fired["alerts"][0]["status"] == "firing"
    stack.start_target()
    resolved = stack.wait_for(lambda: webhook.find("resolved", "TargetDown"), RESOLVE_TIMEOUT, what="resolved webhook")
    assert resolved["version"] == "4"
    assert [a["status"] for a in resolved["alerts"]] == ["resolved"]
    assert resolved["alerts"][0]["fingerprint"] == fired["alerts"][0]["fingerprint"]
    assert webhook.payloads().index(fired) < webhook.payloads().index(resolved)


def test_value_above_threshold_fires(stack: PrometheusStack) -> None:
    """set_value(20) -> HarnessValueHigh firing; set_value(0) -> gone."""
    stack.set_value(20)
    alerts = stack.wait_for(
        lambda: firing(stack.prometheus_alerts("HarnessValueHigh")), FIRE_TIMEOUT, what="HarnessValueHigh firing"
    )
    assert alerts[0]["labels"]["severity"] == "warning"
    assert float(alerts[0]["value"]) == 20
    stack.set_value(0)
    stack.wait_for(
        lambda: not stack.prometheus_alerts("HarnessValueHigh"), RESOLVE_TIMEOUT, what="HarnessValueHigh to clear"
    )
