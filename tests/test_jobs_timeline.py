"""Job timelines on a real in-process daemon with a hand-moved clock: late, failed, resolved, overrun, DST."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from proactived.clock import ManualClock
from proactived.jobs import tables as job_tables
from proactived.maintenance.feature import TICK_ID
from proactived.store import incidents as incident_rows
from proactived.store.schema import outbox
from tests.running import RunningDaemon, make_config, running_daemon

NIGHTLY = {
    "name": "nightly-backup",
    "kind": "backup",
    "schedule": "0 2 * * *",
    "timezone": "Europe/Berlin",
    "grace": "15m",
    "max_runtime": "3h",
    "labels": {"host": "db1", "service": "postgres", "team": "dba"},
    "severity": "critical",
}
EVENING = datetime(2026, 11, 2, 19, 0, tzinfo=UTC)  # 20:00 in Berlin
TWO_AM = datetime(2026, 11, 3, 1, 0, tzinfo=UTC)  # 02:00 in Berlin (CET)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(EVENING)


@pytest.fixture
def daemon(tmp_path: Path, store_url: str, clock: ManualClock) -> Iterator[RunningDaemon]:
    config = make_config(tmp_path, store_url, jobs=[NIGHTLY])
    with running_daemon(config, clock=clock) as running:
        yield running


def tick(daemon: RunningDaemon) -> int:
    job = daemon.rt.scheduler.get_job(TICK_ID)
    result: int = job.func.run()
    return result


def incidents(daemon: RunningDaemon) -> dict[str, incident_rows.Incident]:
    with daemon.rt.store.reading() as conn:
        return {i.name: i for i in incident_rows.list_incidents(conn)}


def incident_outbox(daemon: RunningDaemon) -> list[tuple[str, str]]:
    with daemon.rt.store.reading() as conn:
        rows = conn.execute(
            select(outbox.c.key, outbox.c.event).where(outbox.c.topic == "incident").order_by(outbox.c.id)
        )
        return [(r.key, r.event) for r in rows]


def ping(daemon: RunningDaemon, signal: str, body: Any = None, **params: str) -> Any:
    response = daemon.post(f"/api/v1/jobs/nightly-backup/{signal}", body, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_it_raises_job_late_at_two_plus_grace_with_an_incident_and_its_outbox_row(
    daemon: RunningDaemon, clock: ManualClock
) -> None:
    tick(daemon)  # the daemon meets the job at 20:00
    clock.set(TWO_AM + timedelta(minutes=14, seconds=59))
    assert tick(daemon) == 0
    assert incidents(daemon) == {}
    clock.set(TWO_AM + timedelta(minutes=15))
    assert tick(daemon) == 1
    late = incidents(daemon)["JobLate"]
    assert late.status.value == "firing" and late.source == "jobs"
    assert late.labels == {
        "alertname": "JobLate",
        "job": "nightly-backup",
        "kind": "backup",
        "host": "db1",
        "service": "postgres",
        "team": "dba",
        "severity": "critical",
    }
    assert "did not check in by 2026-11-03 01:15Z" in late.annotations["summary"]
    assert incident_outbox(daemon) == [(late.id, "opened")]
    clock.advance(timedelta(hours=5))
    assert tick(daemon) == 0  # still late: one alert, not one per tick
    ping(daemon, "start")
    assert incidents(daemon)["JobLate"].status.value == "resolved"


def test_a_failing_run_opens_an_incident_with_the_log_tail_and_the_next_success_resolves_it(
    daemon: RunningDaemon, clock: ManualClock
) -> None:
    tick(daemon)
    clock.set(TWO_AM)
    run_id = ping(daemon, "start")["run_id"]
    clock.advance(timedelta(minutes=7))
    answer = ping(daemon, "fail", {"run_id": run_id, "exit_status": 3, "log": "pg_dump: error: connection refused"})
    assert answer["state"] == "failed"
    failed = incidents(daemon)["JobFailed"]
    assert failed.status.value == "firing"
    assert failed.annotations["exit_status"] == "3"
    assert failed.annotations["log_tail"] == "pg_dump: error: connection refused"
    assert failed.annotations["duration"] == "0:07:00"
    with daemon.rt.store.reading() as conn:
        (run,) = job_tables.recent_runs(conn, "nightly-backup")
    assert (run["status"], run["exit_status"], run["duration_seconds"]) == ("fail", 3, 420.0)
    clock.set(TWO_AM + timedelta(days=1))
    ping(daemon, "start", run_id="second")
    assert incidents(daemon)["JobFailed"].status.value == "firing"  # a start is not a success
    clock.advance(timedelta(minutes=5))
    ping(daemon, "success", run_id="second")
    assert incidents(daemon)["JobFailed"].status.value == "resolved"
    assert [e for _, e in incident_outbox(daemon)] == ["opened", "resolved"]


def test_an_overrun_is_detected_at_start_plus_max_runtime(daemon: RunningDaemon, clock: ManualClock) -> None:
    tick(daemon)
    clock.set(TWO_AM)
    ping(daemon, "start")
    clock.set(TWO_AM + timedelta(hours=3) - timedelta(seconds=1))
    assert tick(daemon) == 0
    assert (
        daemon.get("/api/v1/jobs", headers={"Authorization": "Bearer test-token-0123456789"}).json()["jobs"][0]["state"]
        == "running"
    )
    clock.set(TWO_AM + timedelta(hours=3))
    assert tick(daemon) == 1
    assert incidents(daemon)["JobOverrun"].status.value == "firing"
    clock.advance(timedelta(minutes=20))
    ping(daemon, "success")
    assert incidents(daemon)["JobOverrun"].status.value == "resolved"


def test_check_ins_need_the_job_token_or_the_server_token(tmp_path: Path, clock: ManualClock) -> None:
    job = {**NIGHTLY, "token": "job-secret-token-42"}
    with running_daemon(make_config(tmp_path, jobs=[job]), clock=clock) as daemon:
        path = "/api/v1/jobs/nightly-backup/start"
        assert daemon.post(path, token=None).status_code == 401
        assert daemon.post(path, token="wrong").status_code == 401
        assert daemon.post(path, token="job-secret-token-42").status_code == 200
        assert daemon.post(path).status_code == 200  # the server token works too
        assert daemon.post("/api/v1/jobs/unknown/start").status_code == 404
        bad = daemon.post("/api/v1/jobs/nightly-backup/success", {"exit_status": 2})
        assert bad.status_code == 400 and bad.json()["field"] == "exit_status"


def test_a_plain_text_log_is_cut_to_its_last_bytes(tmp_path: Path, clock: ManualClock) -> None:
    config = make_config(tmp_path, jobs=[NIGHTLY], maintenance={"max_log_bytes": 20})
    with running_daemon(config, clock=clock) as daemon:
        log = "line one\n" * 10 + "the end"
        daemon.post("/api/v1/jobs/nightly-backup/fail", data=log.encode(), params={"exit_status": "1"})
        tail = incidents(daemon)["JobFailed"].annotations["log_tail"]
        assert tail == "[…] " + log.encode()[-20:].decode()
