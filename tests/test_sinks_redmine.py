"""The Redmine sink and the ticket stage against a real Redmine 5 (tickets read back through its API)."""

from __future__ import annotations

import os
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from proactived.clock import ManualClock
from proactived.sinks.redmine import RedmineConfig, RedmineSink
from proactived.sinks.tickets import TicketState
from proactived.ticket_actions import TicketKind
from tests.ticketing import action, drain, enqueue, outbox_rows, problem, ticket, ticket_runtime

if TYPE_CHECKING:
    from tests.peers.redmine import RedmineServer

pytest_plugins = ["tests.peers.redmine"]
OPEN, UPDATE, RESOLVE, REOPEN = TicketKind.OPEN, TicketKind.UPDATE, TicketKind.RESOLVE, TicketKind.REOPEN


def redmine_sink(rm: RedmineServer, **extra: Any) -> dict[str, Any]:
    return {"type": "redmine", "url": rm.url, "api_key": rm.bot_api_key, "project": rm.project,
            "tracker": "Incident", "external_key_field": rm.external_id_cf, "timeout": "10s", **extra}  # fmt: skip


def pid() -> str:
    return uuid.uuid4().hex[:12]


def only_issue(rm: RedmineServer, problem_id: str) -> dict[str, Any]:
    [found] = rm.find_by_external_id(f"proactived-{problem_id}")
    return rm.get_issue(found["id"])


def as_person(rm: RedmineServer, issue_id: int, **fields: Any) -> None:
    response = requests.put(f"{rm.url}/issues/{issue_id}.json", headers=rm.headers(), json={"issue": fields},
                            timeout=10)  # fmt: skip
    assert response.status_code == 204, response.text


def test_it_keeps_one_redmine_issue_from_open_to_reopen_and_never_overwrites_human_edits(
    tmp_path: Path, redmine_server: RedmineServer, clock: ManualClock
) -> None:
    rm, p = redmine_server, pid()
    with ticket_runtime(tmp_path, {"ops": redmine_sink(rm)}, clock) as (rt, stage):
        enqueue(rt.store, [action(OPEN, p, sink="ops", reason="problem held for 1m")], clock.now())
        drain(stage)
        issue = only_issue(rm, p)
        assert issue["subject"] == "[CRITICAL] SwitchDown (+2 related)"
        assert issue["tracker"]["name"] == "Incident" and issue["priority"]["name"] == "Urgent"
        assert issue["status"]["name"] == "New"
        assert "h3. Probable root cause" in issue["description"]
        assert '"runbook: SwitchDown":https://runbooks.example.com/SwitchDown' in issue["description"]
        assert "|_. Alert |_. Severity" in issue["description"]
        assert ticket(rt, p).url == f"{rm.url}/issues/{issue['id']}"

        as_person(rm, issue["id"], priority_id=rm.priority_ids["Low"], assigned_to_id=rm.bot_user_id,
                  status_id=rm.status_ids["Acknowledged"])  # fmt: skip
        clock.advance(timedelta(minutes=6))
        enqueue(rt.store, [action(UPDATE, p, sink="ops", reason="HostDown on web3 joined")], clock.now())
        enqueue(rt.store, [action(RESOLVE, p, sink="ops", reason="all alerts resolved for 5m")], clock.now())
        drain(stage)
        issue = only_issue(rm, p)
        assert issue["status"]["name"] == "Resolved"
        assert issue["priority"]["name"] == "Low" and issue["assigned_to"]["id"] == rm.bot_user_id
        notes = [j["notes"] for j in issue["journals"] if j["notes"]]
        assert "HostDown on web3 joined" in notes[0] and "*Recovered*: all alerts resolved for 5m" in notes[1]
        t = ticket(rt, p)
        assert t.state == TicketState.RESOLVED and t.acknowledged_at is not None

        enqueue(rt.store, [action(REOPEN, p, sink="ops", reason="SwitchDown fired again")], clock.now())
        drain(stage)
        issue = only_issue(rm, p)
        assert issue["status"]["name"] == "New" and "Relapsed" in issue["journals"][-1]["notes"]
        assert issue["priority"]["name"] == "Low"
        assert ticket(rt, p).state == TicketState.OPEN


def test_a_create_that_reached_redmine_before_a_crash_is_adopted(
    tmp_path: Path, redmine_server: RedmineServer, clock: ManualClock
) -> None:
    rm, p = redmine_server, pid()
    with ticket_runtime(tmp_path, {"ops": redmine_sink(rm)}, clock) as (rt, stage):
        enqueue(rt.store, [action(OPEN, p, sink="ops")], clock.now())
        sink = stage.sinks["ops"]
        assert isinstance(sink, RedmineSink)
        created = requests.post(f"{rm.url}/issues.json", headers=rm.headers(rm.bot_api_key), timeout=10, json={
            "issue": {"project_id": rm.project, "subject": "created before the crash",
                      "custom_fields": [{"id": rm.external_id_cf, "value": f"proactived-{p}"}]}}).json()["issue"]
        with rt.store.transaction() as conn:  # the earlier claim sent the create, then the process died
            conn.exec_driver_sql("UPDATE outbox SET attempts = 1")
        drain(stage)
        assert [i["id"] for i in rm.find_by_external_id(f"proactived-{p}")] == [created["id"]]
        assert ticket(rt, p).external_id == str(created["id"])


def test_a_status_change_the_workflow_refuses_is_reported_not_assumed(
    tmp_path: Path, redmine_server: RedmineServer, clock: ManualClock
) -> None:
    rm, p = redmine_server, pid()
    sink = redmine_sink(rm, statuses={"resolved": "Rejected"})  # Incident's workflow has no way to Rejected
    with ticket_runtime(tmp_path, {"ops": sink}, clock) as (rt, stage):
        enqueue(rt.store, [action(OPEN, p, sink="ops"), action(RESOLVE, p, sink="ops")], clock.now())
        drain(stage)
        resolve_row = outbox_rows(rt)[-1]
        assert resolve_row.failed and "kept issue" in resolve_row.last_error and "'Rejected'" in resolve_row.last_error
        assert only_issue(rm, p)["status"]["name"] == "New" and ticket(rt, p).state == TicketState.OPEN


def test_an_issue_a_person_rejected_is_neither_resolved_over_nor_reopened(
    tmp_path: Path, redmine_server: RedmineServer, clock: ManualClock
) -> None:
    rm, p = redmine_server, pid()
    with ticket_runtime(tmp_path, {"ops": redmine_sink(rm, tracker="Bug")}, clock) as (rt, stage):
        enqueue(rt.store, [action(OPEN, p, sink="ops")], clock.now())
        drain(stage)
        as_person(rm, only_issue(rm, p)["id"], status_id=rm.status_ids["Rejected"], notes="not a real outage")
        enqueue(rt.store, [action(RESOLVE, p, sink="ops"), action(REOPEN, p, sink="ops")], clock.now())
        drain(stage)
        issue = only_issue(rm, p)
        assert issue["status"]["name"] == "Rejected" and len([j for j in issue["journals"] if j["notes"]]) == 1
        assert ticket(rt, p).state == TicketState.CLOSED and ticket(rt, p).desk_status == "Rejected"


def test_a_new_problem_after_the_reopen_window_gets_a_new_issue_mentioning_the_old_one(
    tmp_path: Path, redmine_server: RedmineServer, clock: ManualClock
) -> None:
    rm, first, second = redmine_server, pid(), pid()
    with ticket_runtime(tmp_path, {"ops": redmine_sink(rm)}, clock) as (rt, stage):
        enqueue(rt.store, [action(OPEN, first, sink="ops"), action(RESOLVE, first, sink="ops")], clock.now())
        enqueue(rt.store, [action(OPEN, second, sink="ops", view=problem(second, previous=first))], clock.now())
        drain(stage)
        old, new = only_issue(rm, first), only_issue(rm, second)
        assert old["id"] != new["id"] and f"{rm.url}/issues/{old['id']}" in new["description"]


def _sink(rm: RedmineServer, api_key: str, **extra: Any) -> RedmineSink:
    return RedmineSink("ops", RedmineConfig.model_validate({**redmine_sink(rm), "api_key": api_key, **extra}))


def test_start_up_checks_pass_for_a_filterable_key_field_with_admin_and_member_keys(
    redmine_server: RedmineServer,
) -> None:
    rm = redmine_server
    assert _sink(rm, rm.api_key).check() == []
    assert _sink(rm, rm.bot_api_key).check() == []
    problems = _sink(rm, rm.bot_api_key, statuses={"resolved": "Fixed"}, priorities={"critical": "P1"}).check()
    assert problems == [
        "sink ops: Redmine has no status named 'Fixed' (known: Acknowledged, Closed, Feedback, In Progress, New, "
        "Rejected, Resolved)",
        "sink ops: Redmine has no priority named 'P1' (known: High, Immediate, Low, Normal, Urgent)",
    ]


@pytest.fixture(scope="module")
def unfiltered_field(redmine_server: RedmineServer) -> int:
    """A second key field that is not "used as a filter" (created inside Redmine; the API cannot)."""
    env = dict(line.split("=", 1) for line in (redmine_server.data_dir / "redmine.env").read_text().split())
    code = ("cf = IssueCustomField.create!(name: 'Unfiltered key ' + SecureRandom.hex(3), field_format: 'string', "
            "is_for_all: true, is_filter: false, tracker_ids: Tracker.pluck(:id)); puts cf.id")  # fmt: skip
    out = subprocess.run(
        ["bundle", "exec", "rails", "runner", code], cwd="/usr/share/redmine", capture_output=True, text=True,
        env={**os.environ, "REDMINE_INSTANCE": env["REDMINE_INSTANCE"], "RAILS_ENV": "production"}, timeout=120,
        check=True,
    )  # fmt: skip
    return int(out.stdout.strip().splitlines()[-1])


def test_start_up_reports_a_key_field_that_is_not_used_as_a_filter(
    tmp_path: Path, redmine_server: RedmineServer, unfiltered_field: int, clock: ManualClock
) -> None:
    rm = redmine_server
    with ticket_runtime(tmp_path, {"ops": redmine_sink(rm)}, clock) as (rt, stage):  # at least one issue exists
        enqueue(rt.store, [action(OPEN, pid(), sink="ops")], clock.now())
        drain(stage)
    [admin_view] = _sink(rm, rm.api_key, external_key_field=unfiltered_field).check()
    assert f"custom field {unfiltered_field} is not used as a filter" in admin_view
    [member_view] = _sink(rm, rm.bot_api_key, external_key_field=unfiltered_field).check()
    assert "is ignored by Redmine" in member_view and "Used as a filter" in member_view
    assert _sink(rm, rm.bot_api_key, external_key_field=unfiltered_field).find("proactived-nothing") is None
