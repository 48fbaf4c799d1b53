"""What operators see of a running daemon: /metrics, /readyz, /api/v1/status and ``proactived status``."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from proactived import telemetry
from proactived.cli.status import daemon_url, render
from proactived.store import outbox
from tests.running import RunningDaemon, make_config, running_daemon

WEB1 = {"labels": {"alertname": "HostDown", "host": "web1"}}


@pytest.fixture
def daemon(tmp_path: Path, store_url: str) -> Iterator[RunningDaemon]:
    telemetry.LAST_RELOAD.at, telemetry.LAST_RELOAD.ok = None, None
    with running_daemon(make_config(tmp_path, store_url), tmp_path / "proactived.yaml") as running:
        yield running


def samples(daemon: RunningDaemon) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = daemon.get("/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_count_accepted_and_rejected_alerts_by_source_and_report_flapping(daemon: RunningDaemon) -> None:
    accepted = ("proactived_alerts_received_total", (("result", "accepted"), ("source", "push")))
    rejected = ("proactived_alerts_received_total", (("result", "rejected"), ("source", "push")))
    before = samples(daemon)
    for status in ("firing", "resolved", "firing", "resolved", "firing"):
        assert daemon.post("/api/v1/alerts", [{**WEB1, "status": status}]).status_code == 200
    assert daemon.post("/api/v1/alerts", [WEB1, {"labels": {}}, WEB1]).status_code == 400
    after = samples(daemon)
    assert after[accepted] - before.get(accepted, 0) == 5
    assert after[rejected] - before.get(rejected, 0) == 3, "a rejected request counts every alert it carried"
    assert after[("proactived_incidents_flapping", ())] == 1
    assert after[("proactived_incidents", (("status", "firing"),))] == 1
    assert after[("proactived_outbox_oldest_age_seconds", ())] >= 0
    assert ("proactived_build_info", (("python", sys.version.split()[0]), ("version", "0.1.0"))) in after
    assert after[("process_resident_memory_bytes", ())] > 0


def test_status_reports_version_store_incidents_outbox_and_feature_sections(daemon: RunningDaemon) -> None:
    daemon.rt.dispatcher.stop()  # keep the incident event pending: the correlation stage would take it at once
    daemon.post("/api/v1/alerts", [WEB1])
    with daemon.rt.store.transaction() as conn:  # a row no stage consumes, so the count cannot race a drain
        outbox.enqueue(conn, "status-test", "k", "e", {}, daemon.rt.clock.now())
    daemon.rt.status_providers["sources"] = lambda: {"zabbix": {"last_success": None}}
    daemon.rt.status_providers["broken"] = lambda: 1 / 0
    body = daemon.get("/api/v1/status").json()
    assert body["version"] == "0.1.0" and body["uptime_seconds"] >= 0
    assert body["config_path"].endswith("proactived.yaml")
    assert body["store"]["reachable"] is True and body["store"]["dialect"] in ("sqlite", "postgresql")
    assert body["incidents"]["firing"] == 1 and body["incidents"]["flapping"] == 0
    assert body["outbox"]["pending"]["status-test"] == 1
    assert {job["id"] for job in body["schedule"]} >= {"flapping-tick", "outbox-purge"}
    assert body["sources"] == {"zabbix": {"last_success": None}}
    assert body["broken"] == {"error": "division by zero"}
    assert body["last_reload"] is None


def test_readyz_stays_ready_after_a_rejected_reload_and_says_so(daemon: RunningDaemon, tmp_path: Path) -> None:
    (tmp_path / "proactived.yaml").write_text("bogus: 1\n")
    assert daemon.daemon.reload() is False
    ready = daemon.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"config": "loaded, last reload rejected", "store": "ok", "outbox": "ok"}
    assert daemon.get("/api/v1/status").json()["last_reload"]["ok"] is False


def test_the_status_command_asks_the_running_daemon(daemon: RunningDaemon, tmp_path: Path) -> None:
    daemon.post("/api/v1/alerts", [WEB1])
    cmd = [sys.executable, "-m", "proactived", "status", "--url", daemon.url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert "\033[" not in out.stdout, "no colour when stdout is not a terminal"
    assert "incidents  firing 1" in out.stdout
    raw = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=30)
    assert json.loads(raw.stdout)["incidents"]["firing"] == 1


def test_the_status_command_exits_4_when_no_daemon_answers(tmp_path: Path) -> None:
    config = tmp_path / "proactived.yaml"
    config.write_text(f"state_dir: {tmp_path}\nserver:\n  listen: 127.0.0.1:9\n")
    cmd = [sys.executable, "-m", "proactived", "status", "--config", str(config), "--timeout", "2"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert out.returncode == 4
    assert out.stderr.startswith("cannot reach the daemon at http://127.0.0.1:9: GET http://127.0.0.1:9/api/v1/status")


def test_a_wildcard_listen_address_is_reached_on_loopback() -> None:
    assert daemon_url("0.0.0.0:9393") == "http://127.0.0.1:9393"
    assert daemon_url("[::]:9393") == "http://[::1]:9393"
    assert daemon_url("10.0.0.5:80") == "http://10.0.0.5:80"


def test_render_flags_an_unreachable_store_and_a_rejected_reload() -> None:
    lines = render(
        {
            "version": "1",
            "uptime_seconds": 3725,
            "store": {"url": "sqlite:///x", "reachable": False, "error": "store read failed: disk I/O error"},
            "last_reload": {"at": "2026-01-01T00:00:00+00:00", "ok": False, "problems": 2},
        }
    )
    assert "up 1h2m" in lines[0]
    assert "REJECTED (2 problems)" in lines[1]
    assert "UNREACHABLE  store read failed: disk I/O error" in lines[2]


def test_no_raw_payload_reaches_a_log_line_above_debug(daemon: RunningDaemon, caplog: pytest.LogCaptureFixture) -> None:
    marker = "RAW-PAYLOAD-MARKER-7f3a"
    with caplog.at_level(logging.DEBUG, logger="proactived"):
        daemon.post("/api/v1/alerts", [{**WEB1, "annotations": {"description": marker}}])
        daemon.post("/api/v1/alerts", [{"labels": {"alertname": marker}, "annotations": {"x": 1}}])
    formatter = telemetry.LogfmtFormatter()
    above_debug = [formatter.format(r) for r in caplog.records if r.levelno > logging.DEBUG]
    assert above_debug, "the test saw no log lines at all"
    assert not [line for line in above_debug if marker in line]
