"""The whole pipeline in one daemon: pushed alerts → incidents → one problem → one ticket at a desk → resolved."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.running import RunningDaemon, make_config, running_daemon

RULES = """
topology:
  from_labels:
    - {child: host, parent: switch}
rules:
  - name: hosts-behind-switch
    match: ['alertname=~"SwitchDown|HostDown"']
    group_by: [switch]
    window: 0s
    hold_for: 0s
    resolve_hold: 0s
    ticket:
      assignee_group: L1
      title: "{{ problem.root_cause.name }} {{ labels.switch }}: {{ problem.symptom_count }} hosts affected"
"""


class Desk(BaseHTTPRequestHandler):
    """A service desk behind the webhook sink: records every delivery it gets."""

    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Desk.received.append(json.loads(body))
        answer = json.dumps({"id": "DESK-1", "url": "http://desk.example/DESK-1"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def desk() -> Iterator[str]:
    Desk.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Desk)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


@pytest.fixture
def daemon(tmp_path: Path, desk: str) -> Iterator[RunningDaemon]:
    rules = tmp_path / "rules.d"
    rules.mkdir()
    (rules / "network.yaml").write_text(RULES)
    config = make_config(tmp_path, sinks={"desk": {"type": "webhook", "url": desk}}, rules_dir=str(rules))
    with running_daemon(config) as running:
        yield running


def wait_for(what: str, condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; desk got {[d['event'] for d in Desk.received]}")
        time.sleep(0.05)


def alert(name: str, status: str = "firing", **labels: str) -> dict[str, Any]:
    return {"labels": {"alertname": name, "severity": "critical", **labels}, "status": status}


def test_a_switch_storm_becomes_one_ticket_that_resolves_when_everything_recovers(daemon: RunningDaemon) -> None:
    storm = [alert("SwitchDown", switch="sw1")] + [alert("HostDown", host=f"h{i}", switch="sw1") for i in range(20)]
    assert daemon.post("/api/v1/alerts", storm).status_code == 200
    wait_for("the ticket", lambda: any(d["event"] == "open" for d in Desk.received))
    (opened,) = [d for d in Desk.received if d["event"] == "open"]
    problem = opened["action"]["problem"]
    assert problem["root_cause"]["name"] == "SwitchDown"
    assert problem["symptom_count"] == 20 and len(problem["symptoms"]) == 20
    assert opened["title"] == "SwitchDown sw1: 20 hosts affected"
    assert opened["external_key"] == f"proactived-{problem['problem_id']}"
    assert daemon.post("/api/v1/alerts", storm).status_code == 200  # repeats change nothing at the desk

    assert daemon.post("/api/v1/alerts", [{**a, "status": "resolved"} for a in storm]).status_code == 200
    wait_for("the resolve", lambda: any(d["event"] == "resolve" for d in Desk.received))
    events = [d["event"] for d in Desk.received]
    assert events.count("open") == 1 and events.count("resolve") == 1
    assert all(d["external_key"] == opened["external_key"] for d in Desk.received)
