"""Maintenance windows on a real in-process daemon: muting, ending on time, planned downtime, job windows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from proactived.clock import ManualClock
from proactived.config.load import load_config
from proactived.errors import ConfigError
from proactived.maintenance import tables
from proactived.maintenance.feature import TICK_ID
from tests.running import RunningDaemon, make_config, running_daemon

T0 = datetime(2026, 11, 7, 22, 0, tzinfo=UTC)  # a Saturday, 23:00 in Berlin
DB1 = {"alertname": "HostDown", "host": "db1", "team": "dba"}
WEB1 = {"alertname": "HostDown", "host": "web1", "team": "web"}
PATCHING = {
    "name": "sunday-patching",
    "matchers": ['team="dba"'],
    "reason": "weekly OS patching",
    "schedule": "0 3 * * sun",
    "duration": "2h",
    "timezone": "Europe/Berlin",
}
UPDATE = {"name": "db-update", "kind": "update", "max_runtime": "1h", "disturbs": ["host=db1"]}


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def daemon(tmp_path: Path, store_url: str, clock: ManualClock) -> Iterator[RunningDaemon]:
    config = make_config(tmp_path, store_url, maintenance={"windows": [PATCHING]}, jobs=[UPDATE])
    with running_daemon(config, clock=clock) as running:
        yield running


def tick(daemon: RunningDaemon) -> None:
    daemon.rt.scheduler.get_job(TICK_ID).func.run()


def downtime(daemon: RunningDaemon) -> list[dict[str, object]]:
    with daemon.rt.store.reading() as conn:
        return tables.downtime(conn)


def test_a_recurring_window_mutes_matching_alerts_and_ends_on_time(daemon: RunningDaemon, clock: ManualClock) -> None:
    mute = daemon.rt.mute_reason
    starts = datetime(2026, 11, 8, 2, 0, tzinfo=UTC)  # Sunday 03:00 in Berlin
    clock.set(starts - timedelta(seconds=1))
    assert mute(DB1, clock.now()) == ""
    clock.set(starts)
    tick(daemon)
    reason = mute(DB1, clock.now())
    assert "sunday-patching" in reason and "weekly OS patching" in reason
    assert mute(WEB1, clock.now()) == ""
    clock.set(starts + timedelta(hours=2) - timedelta(seconds=1))
    assert mute(DB1, clock.now()) != ""
    clock.set(starts + timedelta(hours=2))
    assert mute(DB1, clock.now()) == ""  # on time, before any refresh
    tick(daemon)
    (span,) = downtime(daemon)
    assert (span["origin"], span["name"], span["matchers"]) == ("config", "sunday-patching", ['team="dba"'])
    assert (span["started_at"], span["ended_at"]) == (starts, starts + timedelta(hours=2))


def test_a_window_created_over_http_mutes_until_ended_early_and_records_its_actual_span(
    daemon: RunningDaemon, clock: ManualClock
) -> None:
    created = daemon.post(
        "/api/v1/maintenance",
        {"matchers": ["host=db1"], "duration": "4h", "reason": "replace disk", "created_by": "alice"},
    )
    assert created.status_code == 201, created.text
    window_id = created.json()["id"]
    assert "replace disk" in daemon.rt.mute_reason(DB1, clock.now())
    listed = daemon.get("/api/v1/maintenance", headers={"Authorization": "Bearer test-token-0123456789"}).json()
    rows = {w["origin"]: (w["id"], w["matchers"], w["active"]) for w in listed["windows"]}
    assert rows == {"api": (str(window_id), ['host="db1"'], True), "config": ("sunday-patching", ['team="dba"'], False)}
    clock.advance(timedelta(minutes=50))
    assert daemon.post("/api/v1/maintenance/end", {"id": window_id}).status_code == 200
    assert daemon.rt.mute_reason(DB1, clock.now()) == ""
    assert daemon.post("/api/v1/maintenance/end", {"id": window_id}).status_code == 404
    (span,) = downtime(daemon)
    assert (span["started_at"], span["ended_at"], span["planned_end"]) == (
        T0, T0 + timedelta(minutes=50), T0 + timedelta(hours=4)
    )


def test_creating_a_window_needs_the_token_and_valid_matchers(daemon: RunningDaemon) -> None:
    body = {"matchers": ["host=db1"], "duration": "1h"}
    assert daemon.post("/api/v1/maintenance", body, token=None).status_code == 401
    bad = daemon.post("/api/v1/maintenance", {"matchers": [], "duration": "1h"})
    assert bad.status_code == 400 and bad.json()["field"] == "matchers"
    past = daemon.post("/api/v1/maintenance", {**body, "duration": None, "ends_at": "2020-01-01T00:00:00Z"})
    assert past.status_code == 400 and past.json()["field"] == "ends_at"


def test_an_update_job_mutes_what_it_disturbs_from_start_to_finish(daemon: RunningDaemon, clock: ManualClock) -> None:
    assert daemon.post("/api/v1/jobs/db-update/start").status_code == 200
    reason = daemon.rt.mute_reason(DB1, clock.now())
    assert "update job db-update" in reason
    clock.advance(timedelta(minutes=12))
    daemon.post("/api/v1/jobs/db-update/success")
    assert daemon.rt.mute_reason(DB1, clock.now()) == ""
    (span,) = downtime(daemon)
    assert (span["origin"], span["started_at"], span["ended_at"]) == ("job", T0, T0 + timedelta(minutes=12))


def test_a_job_window_ends_at_max_runtime_when_the_job_never_finishes(
    daemon: RunningDaemon, clock: ManualClock
) -> None:
    daemon.post("/api/v1/jobs/db-update/start")
    clock.advance(timedelta(hours=1))
    assert daemon.rt.mute_reason(DB1, clock.now()) == ""
    tick(daemon)
    (span,) = downtime(daemon)
    assert span["ended_at"] == T0 + timedelta(hours=1)


def test_window_config_errors_name_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "proactived.yaml"
    path.write_text(
        "maintenance:\n  windows:\n    - name: w\n      matchers: ['host=db1']\n      schedule: '0 3 * * sun'\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [
        f"{path}:3:7: maintenance.windows.0: a recurring window needs schedule (cron) and a positive duration"
    ]


def test_jobs_dir_files_are_validated_with_their_own_positions(tmp_path: Path) -> None:
    folder = tmp_path / "jobs.d"
    folder.mkdir()
    (folder / "a.yaml").write_text("jobs:\n  - name: fine\n    every: 1d\n  - name: bad\n    grace: soon\n")
    (folder / "b.yaml").write_text("jobs:\n  - name: ok\n    every: 1d\n")
    path = tmp_path / "proactived.yaml"
    path.write_text(f"jobs:\n  - name: ok\njobs_dir: {folder}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [
        f"{folder}/a.yaml:5:5: jobs.1.grace: invalid duration 'soon': use a number and a unit, e.g. 30s, 5m, 2h, 1d",
        f"{folder}/b.yaml: jobs: job 'ok' is defined twice",
    ]
