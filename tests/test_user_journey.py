"""What an ops team meets on day one: the real daemon polls a real Prometheus and Alertmanager, a scrape target
dies, and a ticket appears in a real Redmine — then closes when the target comes back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.peers.prometheus import PrometheusStack
from tests.peers.redmine import RedmineServer
from tests.process import DaemonProcess

pytest_plugins = ["tests.peers.prometheus", "tests.peers.redmine"]
pytestmark = pytest.mark.peer

RULES = """
rules:
  - name: scrape-targets
    match: ['alertname="TargetDown"']
    group_by: [instance]
    window: 0s
    hold_for: 0s
    resolve_hold: 0s
    ticket:
      priority: {critical: urgent, default: normal}   # desk names match case-insensitively
      assignee_group: L1                              # not a Redmine member here: the ticket opens unassigned
"""


@pytest.fixture
def daemon(tmp_path: Path, prometheus_stack: PrometheusStack, redmine_server: RedmineServer) -> Iterator[DaemonProcess]:
    prometheus_stack.reset()
    (tmp_path / "rules.d").mkdir()
    (tmp_path / "rules.d" / "targets.yaml").write_text(RULES)
    (tmp_path / "redmine-key").write_text(redmine_server.bot_api_key + "\n")
    extra = f"""
rules_dir: {tmp_path / "rules.d"}
sources:
  - {{name: prom, type: prometheus, url: "{prometheus_stack.prometheus_url}", interval: 1s}}
  - {{name: am, type: alertmanager, url: "{prometheus_stack.alertmanager_url}", interval: 1s}}
sinks:
  redmine:
    type: redmine
    url: "{redmine_server.url}"
    api_key_file: {tmp_path / "redmine-key"}
    project: {redmine_server.project}
    tracker: Incident
    external_key_field: {redmine_server.external_id_cf}
"""
    process = DaemonProcess(tmp_path, extra)
    process.start()
    yield process
    process.stop()
    prometheus_stack.start_target()


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_dead_target_opens_one_redmine_ticket_that_resolves_when_it_is_back(
    daemon: DaemonProcess, prometheus_stack: PrometheusStack, redmine_server: RedmineServer
) -> None:
    def tickets() -> list[dict[str, Any]]:
        params: dict[str, str | int] = {
            "project_id": redmine_server.project,
            "status_id": "*",
            "limit": 100,
            "sort": "id:desc",
        }
        found = requests.get(
            f"{redmine_server.url}/issues.json", headers=redmine_server.headers(), params=params, timeout=10
        ).json()["issues"]
        return [i for i in found if prometheus_stack.target_instance in i["subject"]]

    prometheus_stack.kill_target()
    (issue,) = wait_for("a Redmine ticket", tickets)
    assert issue["subject"].startswith("[CRITICAL] TargetDown")
    assert issue["tracker"]["name"] == "Incident"
    assert issue["priority"]["name"] == "Urgent"
    assert "assigned_to" not in issue
    description = issue["description"]
    assert prometheus_stack.target_instance in description
    assert redmine_server.bot_api_key not in description and "api_key" not in description

    prometheus_stack.start_target()
    resolved = wait_for(
        "the ticket to resolve",
        lambda: (
            redmine_server.get_issue(issue["id"])["status"]["name"] == "Resolved"
            and redmine_server.get_issue(issue["id"])
        ),
    )
    assert len(tickets()) == 1, "a second ticket was opened"
    notes = [j.get("notes", "") for j in resolved["journals"]]
    assert any(notes), "the resolve carries a note"
    log = daemon.log()
    assert redmine_server.bot_api_key not in log
    assert "event=ticket_field_dropped sink=redmine field=assignee value=L1" in log
