"""Prove the ``redmine_server`` test peer through the real Redmine REST API (with requests).

Walks the life cycle the daemon uses: create an issue carrying the "External ID" custom field,
find it again by ``cf_N=value&status_id=*``, add a note with a status change, re-read the issue
(Redmine answers 204 even when the workflow silently drops a status change), close it. Also pins
the error shapes (401, 404, 422) and checks the captured payloads in tests/fixtures/redmine/.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

if TYPE_CHECKING:  # imported for real by pytest_plugins (so pytest can rewrite its asserts)
    from tests.peers.redmine import RedmineServer

pytest_plugins = ["tests.peers.redmine"]

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "redmine"
TIMEOUT = 10.0


def _new_external_id() -> str:
    return f"zabbix:eventid:{uuid.uuid4().hex[:12]}"


def _create_issue(
    rm: RedmineServer, external_id: str, *, subject: str = "[Zabbix] High CPU on web01"
) -> dict[str, Any]:
    body = {
        "issue": {
            "project_id": rm.project,
            "tracker_id": rm.tracker_id,
            "priority_id": rm.priority_ids["High"],
            "subject": subject,
            "description": "Problem started at 2024-01-01 10:00",
            "custom_fields": [{"id": rm.external_id_cf, "value": external_id}],
        }
    }
    resp = requests.post(f"{rm.url}/issues.json", headers=rm.headers(rm.bot_api_key), json=body, timeout=TIMEOUT)
    assert resp.status_code == 201, resp.text
    # absolute URL without ".json" (not "/issues/<id>.json" as some docs say)
    assert resp.headers["Location"] == f"{rm.url}/issues/{resp.json()['issue']['id']}"
    issue: dict[str, Any] = resp.json()["issue"]
    return issue


def _update_issue(rm: RedmineServer, issue_id: int, fields: dict[str, Any]) -> requests.Response:
    return requests.put(
        f"{rm.url}/issues/{issue_id}.json",
        headers=rm.headers(rm.bot_api_key),
        json={"issue": fields},
        timeout=TIMEOUT,
    )


def _cf_value(issue: dict[str, Any], cf_id: int) -> Any:
    return next(cf["value"] for cf in issue["custom_fields"] if cf["id"] == cf_id)


def test_fixture_shape(redmine_server: RedmineServer) -> None:
    rm = redmine_server
    assert rm.url.startswith("http://127.0.0.1:")
    assert rm.project == "monitoring"
    for name in ("New", "In Progress", "Acknowledged", "Resolved", "Closed", "Rejected"):
        assert name in rm.status_ids, name
    assert {"Low", "Normal", "High", "Urgent", "Immediate"} <= set(rm.priority_ids)
    assert rm.tracker_ids["Incident"] == rm.tracker_id
    assert rm.api_key != rm.bot_api_key
    statuses = requests.get(f"{rm.url}/issue_statuses.json", headers=rm.headers(), timeout=TIMEOUT)
    assert statuses.status_code == 200
    by_name = {s["name"]: s for s in statuses.json()["issue_statuses"]}
    assert by_name["Closed"]["is_closed"] is True
    assert by_name["Acknowledged"]["is_closed"] is False
    me = requests.get(f"{rm.url}/users/current.json", headers=rm.headers(rm.bot_api_key), timeout=TIMEOUT)
    assert me.status_code == 200
    assert me.json()["user"]["login"] == "zabbix-bot"


def test_issue_lifecycle(redmine_server: RedmineServer) -> None:
    rm = redmine_server
    ext = _new_external_id()

    # create
    created = _create_issue(rm, ext)
    issue_id = int(created["id"])
    assert created["status"]["id"] == rm.status_ids["New"]
    assert created["tracker"]["id"] == rm.tracker_id
    assert created["priority"]["id"] == rm.priority_ids["High"]
    assert _cf_value(created, rm.external_id_cf) == ext

    # find by the dedup key (raw query, then the helper); another issue must not match
    _create_issue(rm, _new_external_id(), subject="unrelated")
    resp = requests.get(
        f"{rm.url}/issues.json",
        headers=rm.headers(rm.bot_api_key),
        params={"project_id": rm.project, "status_id": "*", f"cf_{rm.external_id_cf}": ext},
        timeout=TIMEOUT,
    )
    assert resp.status_code == 200
    found = resp.json()
    assert found["total_count"] == 1
    assert [i["id"] for i in found["issues"]] == [issue_id]
    assert [i["id"] for i in rm.find_by_external_id(ext)] == [issue_id]

    # note + status change: 204 with an empty body, then re-read to see it really happened
    resp = _update_issue(
        rm, issue_id, {"notes": "Acknowledged in Zabbix by ops", "status_id": rm.status_ids["Acknowledged"]}
    )
    assert resp.status_code == 204
    assert resp.content == b""
    issue = rm.get_issue(issue_id)
    assert issue["status"]["name"] == "Acknowledged"
    assert issue["journals"][-1]["notes"] == "Acknowledged in Zabbix by ops"
    assert issue["journals"][-1]["details"] == [
        {
            "property": "attr",
            "name": "status_id",
            "old_value": str(rm.status_ids["New"]),
            "new_value": str(rm.status_ids["Acknowledged"]),
        }
    ]

    # close
    resp = _update_issue(
        rm,
        issue_id,
        {"notes": "Problem resolved in Zabbix (r_eventid 999)", "status_id": rm.status_ids["Closed"]},
    )
    assert resp.status_code == 204
    issue = rm.get_issue(issue_id)
    assert issue["status"] == {"id": rm.status_ids["Closed"], "name": "Closed", "is_closed": True}
    assert issue["closed_on"] is not None
    assert len(issue["journals"]) == 2

    # closed issues are only found with status_id=*
    assert [i["id"] for i in rm.find_by_external_id(ext)] == [issue_id]
    assert rm.find_by_external_id(ext, include_closed=False) == []


def test_status_change_refused_by_workflow_is_silent(redmine_server: RedmineServer) -> None:
    """Incident has no workflow transition to "Rejected": PUT still says 204, status is unchanged."""
    rm = redmine_server
    issue_id = int(_create_issue(rm, _new_external_id())["id"])
    resp = _update_issue(rm, issue_id, {"notes": "try Rejected", "status_id": rm.status_ids["Rejected"]})
    assert resp.status_code == 204
    issue = rm.get_issue(issue_id)
    assert issue["status"]["name"] == "New"
    assert issue["journals"][-1]["notes"] == "try Rejected"
    assert issue["journals"][-1]["details"] == []


def test_error_shapes(redmine_server: RedmineServer) -> None:
    rm = redmine_server
    anon = requests.get(f"{rm.url}/issues.json", timeout=TIMEOUT)
    assert anon.status_code == 401
    bad_key = requests.get(f"{rm.url}/issues.json", headers=rm.headers("0" * 40), timeout=TIMEOUT)
    assert bad_key.status_code == 401
    missing = requests.get(f"{rm.url}/issues/999999.json", headers=rm.headers(), timeout=TIMEOUT)
    assert missing.status_code == 404
    invalid = requests.post(
        f"{rm.url}/issues.json",
        headers=rm.headers(rm.bot_api_key),
        json={"issue": {"project_id": rm.project, "subject": ""}},
        timeout=TIMEOUT,
    )
    assert invalid.status_code == 422
    assert invalid.json() == json.loads((FIXTURES / "error_422.json").read_text())


@pytest.mark.parametrize("name", ["create.json", "search.json", "issue_closed.json", "error_422.json"])
def test_captured_payloads_are_valid_json(name: str) -> None:
    data = json.loads((FIXTURES / name).read_text())
    assert isinstance(data, dict)
    if name == "search.json":
        assert {"issues", "total_count", "offset", "limit"} <= set(data)
    elif name != "error_422.json":
        assert data["issue"]["custom_fields"][0]["name"] == "External ID"
