"""A whole pipeline for fault tests: a real daemon process, a rule that tickets every host at once, a local Jira."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import requests

from tests.desks.jira import API_TOKEN, EMAIL, FakeJira
from tests.process import DaemonProcess
from tests.running import TOKEN

HMAC_SECRET = "grafana-hmac-0b5e7d1c"
SMTP_PASSWORD = "smtp-pass-6a1f0e9d"
SECRETS = (TOKEN, API_TOKEN, HMAC_SECRET, SMTP_PASSWORD)

RULES = """\
rules:
  - name: reliability
    match: ['alertname="RelDown"']
    group_by: [host]
    window: 0s
    hold_for: 0s
    resolve_hold: 0s
    ticket:
      sink: desk
      title: "{{ labels.host }} is down"
"""


def pipeline_yaml(tmp_path: Path, jira: FakeJira) -> str:
    rules = tmp_path / "rules.d"
    rules.mkdir(exist_ok=True)
    (rules / "10-reliability.yaml").write_text(RULES)
    return (
        f"rules_dir: {rules}\n"
        "sinks:\n  desk:\n    type: jira\n    flavor: cloud\n"
        f"    url: {jira.url}\n    email: {EMAIL}\n    api_token: {API_TOKEN}\n    project: OPS\n"
        "    timeout: 2s\n    backoff: 1s\n    max_backoff: 2s\n"
        f"webhooks:\n  grafana:\n    hmac_secret: {HMAC_SECRET}\n"
        "smtp:\n  host: 127.0.0.1\n  port: 2525\n  security: none\n  from: proactived <p@example.com>\n"
        f"  user: reports\n  password: {SMTP_PASSWORD}\n"
    )


def push_until_acked(daemon: DaemonProcess, alerts: list[dict[str, object]], deadline: float) -> int:
    """What Alertmanager does: send again until a 2xx; returns how many attempts it took."""
    attempts = 0
    while time.monotonic() < deadline:
        attempts += 1
        try:
            if daemon.post(alerts, timeout=3).status_code == 200:
                return attempts
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise AssertionError(f"never acknowledged: {alerts}")


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def rel_alert(host: str, status: str = "firing") -> dict[str, object]:
    return {"labels": {"alertname": "RelDown", "host": host, "severity": "critical"}, "status": status}
