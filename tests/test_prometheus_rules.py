"""The shipped Prometheus rules and Grafana dashboard, checked by promtool and by the real Prometheus scraping a
real daemon process."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.peers import unavailable
from tests.process import DaemonProcess

if TYPE_CHECKING:  # imported for real by pytest_plugins (so pytest can rewrite its asserts)
    from tests.peers.prometheus import PrometheusStack

pytest_plugins = ["tests.peers.prometheus"]

EXAMPLES = Path(__file__).parent.parent / "examples"
RULES = EXAMPLES / "prometheus-rules.yaml"
DASHBOARD = EXAMPLES / "grafana" / "proactived-dashboard.json"
PROMTOOL = shutil.which("promtool")
GRAFANA_VARIABLES = {"$__rate_interval": "1m", '"$job"': '"proactived"', '"$instance"': '".*"'}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    if PROMTOOL is None:
        unavailable("promtool not found: apt-get install prometheus")
    return subprocess.run([PROMTOOL, *args], cwd=EXAMPLES, capture_output=True, text=True, timeout=60)


def test_promtool_check_rules_passes() -> None:
    out = promtool("check", "rules", RULES.name)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 8 rules found" in out.stdout


def test_the_rules_fire_as_their_unit_tests_expect() -> None:
    out = promtool("test", "rules", "prometheus-rules.test.yaml")
    assert out.returncode == 0, out.stdout + out.stderr


def dashboard_queries() -> list[str]:
    """Every PromQL expression of the dashboard, with Grafana's variables filled in."""
    exprs = []
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            exprs.append(expr)
    return exprs


@pytest.mark.peer
def test_prometheus_scrapes_the_daemon_loads_the_rules_and_runs_every_dashboard_query(
    prometheus_stack: PrometheusStack, tmp_path: Path
) -> None:
    daemon = DaemonProcess(tmp_path)
    daemon.start()
    try:
        assert daemon.post([{"labels": {"alertname": "DiskFull", "host": "db1"}}]).status_code == 200
        prometheus_stack.add_scrape_job("proactived", f"127.0.0.1:{daemon.port}", [RULES])
        up = prometheus_stack.wait_for(lambda: prometheus_stack.query('up{job="proactived"} == 1'), what="a scrape")
        assert up[0]["metric"]["instance"] == f"127.0.0.1:{daemon.port}"
        received = prometheus_stack.wait_for(
            lambda: prometheus_stack.query('proactived_alerts_received_total{job="proactived",result="accepted"}'),
            what="the alert counter",
        )
        assert received[0]["value"][1] == "1"

        def evaluated_rules() -> list[dict[str, Any]] | None:
            with requests.Session() as session:
                session.trust_env = False  # loopback, never through a proxy
                groups = session.get(prometheus_stack.prometheus_url + "/api/v1/rules", timeout=5).json()["data"][
                    "groups"
                ]
            rules = [r for g in groups if g["name"] == "proactived" for r in g["rules"]]
            return rules if rules and all(r["health"] == "ok" for r in rules) else None

        rules = prometheus_stack.wait_for(evaluated_rules, what="the shipped rules to be evaluated")
        assert len(rules) == 8
        assert not prometheus_stack.prometheus_alerts("ProactivedDown")
        for expr in dashboard_queries():
            prometheus_stack.query(expr)  # raises on a PromQL error
        assert prometheus_stack.query('proactived_incidents{job="proactived",status="firing"}')[0]["value"][1] == "1"
    finally:
        prometheus_stack.remove_scrape_job("proactived")
        daemon.stop()
