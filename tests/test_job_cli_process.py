"""The real ``proactived job run`` / ``jobs`` / ``maintenance`` commands against the real daemon process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.process import DaemonProcess

JOBS = """jobs:
  - name: nightly-backup
    kind: backup
    schedule: "0 2 * * *"
    timezone: Europe/Berlin
    grace: 15m
    labels: {host: db1}
"""


@pytest.fixture
def proc(tmp_path: Path) -> Iterator[DaemonProcess]:
    daemon = DaemonProcess(tmp_path, extra_yaml=JOBS)
    daemon.start()
    yield daemon
    daemon.stop()


def cli(daemon: DaemonProcess, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "proactived", *args[:2], "--config", str(daemon.config_path), *args[2:]]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_job_run_passes_output_through_reports_the_failure_and_exits_with_the_commands_status(
    proc: DaemonProcess,
) -> None:
    script = "echo dumping db1; echo 'pg_dump: error: disk full' >&2; exit 3"
    done = cli(proc, "job", "run", "nightly-backup", "--", "sh", "-c", script)
    assert done.returncode == 3
    assert done.stdout == "dumping db1\n"
    assert done.stderr == "pg_dump: error: disk full\n"
    incidents = json.loads(cli(proc, "incidents", "--json").stdout)
    (failed,) = [i for i in incidents if i["name"] == "JobFailed"]
    assert failed["status"] == "firing" and failed["labels"]["job"] == "nightly-backup"
    (job,) = json.loads(cli(proc, "jobs", "--json").stdout)
    assert (job["state"], job["last_exit_status"]) == ("failed", 3)
    table = cli(proc, "jobs").stdout
    assert "nightly-backup" in table and "failed" in table and "(3)" in table
    assert cli(proc, "job", "run", "nightly-backup", "--", "true").returncode == 0
    incidents = json.loads(cli(proc, "incidents", "--json").stdout)
    assert [i["status"] for i in incidents if i["name"] == "JobFailed"] == ["resolved"]


def test_job_run_still_runs_the_command_when_the_daemon_is_down(proc: DaemonProcess, tmp_path: Path) -> None:
    proc.stop()
    marker = tmp_path / "ran"
    done = cli(proc, "job", "run", "nightly-backup", "--", "sh", "-c", f"touch {marker}; exit 4")
    assert done.returncode == 4
    assert marker.exists()
    assert "running the command anyway" in done.stderr
    assert "cannot report fail of nightly-backup" in done.stderr


def test_maintenance_commands_plan_list_and_end_a_window(proc: DaemonProcess) -> None:
    added = cli(proc, "maintenance", "add", "--match", "host=db1", "--for", "2h", "--reason", "disk swap")
    assert added.returncode == 0, added.stdout + added.stderr
    window_id = added.stdout.split()[2]
    (window,) = json.loads(cli(proc, "maintenance", "list", "--json").stdout)
    assert (window["id"], window["matchers"], window["reason"], window["active"]) == (
        window_id, ['host="db1"'], "disk swap", True
    )
    assert cli(proc, "maintenance", "end", window_id).returncode == 0
    assert json.loads(cli(proc, "maintenance", "list", "--json").stdout) == []
    assert cli(proc, "maintenance", "end", window_id).returncode == 1
