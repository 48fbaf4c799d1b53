"""Checks that the Zabbix 6.0 test peer (tests/peers/zabbix.py) works, driven through pyzabbix.

Covers login (username/password and API token), a host with a trapper item and a tagged
trigger, a problem raised by zabbix_sender and its recovery, and suppression during maintenance.
The maintenance is created by an autouse module fixture before the first test, so the server's
once-a-minute maintenance timer runs while the other tests do; its test comes last.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyzabbix.api import ZabbixAPI, ZabbixAPIException

from tests.peers.zabbix import HostIds, ZabbixPeer, ZabbixPeerError, wait_until

pytest_plugins = ("tests.peers.zabbix",)

FIXTURES = Path(__file__).parent / "fixtures" / "zabbix"
KEY = "cpu.load"


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _api(peer: ZabbixPeer) -> ZabbixAPI:
    zapi = ZabbixAPI(peer.base_url, timeout=10)
    zapi.login(peer.user, peer.password)
    return zapi


@pytest.fixture(scope="module")
def zapi(zabbix_server: ZabbixPeer) -> Iterator[ZabbixAPI]:
    """A pyzabbix client logged in as Admin with username/password."""
    api = _api(zabbix_server)
    yield api
    api.user.logout()


@pytest.fixture(scope="module", autouse=True)
def maintained_host(zabbix_server: ZabbixPeer) -> tuple[HostIds, str, float]:
    """A host put into maintenance at module start: (ids, maintenanceid, monotonic start)."""
    host = _unique("maint")
    ids = zabbix_server.create_host_with_trapper(host, KEY, priority=3, tags={"scope": "maint"})
    mid = zabbix_server.create_maintenance([ids.hostid], duration=3600)
    return ids, mid, time.monotonic()


def test_login_with_username_and_password(zabbix_server: ZabbixPeer) -> None:
    zapi = _api(zabbix_server)
    assert zapi.auth
    assert zapi.api_version().startswith("6.0.")
    assert zabbix_server.version == zapi.api_version()
    assert zabbix_server.api_url == f"{zabbix_server.base_url}/api_jsonrpc.php"
    users = zapi.user.get(filter={"username": [zabbix_server.user]}, output=["userid"])
    assert len(users) == 1
    zapi.user.logout()
    with pytest.raises(ZabbixAPIException):
        ZabbixAPI(zabbix_server.base_url, timeout=10).login(zabbix_server.user, "wrong")


def test_login_with_api_token(zabbix_server: ZabbixPeer) -> None:
    token = zabbix_server.create_api_token()
    assert len(token) == 64
    zapi = ZabbixAPI(zabbix_server.base_url, timeout=10)
    zapi.login(api_token=token)  # pyzabbix puts it in the body "auth" for < 6.4
    assert int(zapi.problem.get(countOutput=True)) >= 0
    assert zapi.host.get(output=["hostid"], limit=1)
    bad = ZabbixAPI(zabbix_server.base_url, timeout=10)
    bad.login(api_token="0" * 64)  # pyzabbix does not verify tokens at login
    with pytest.raises(ZabbixAPIException):
        bad.host.get(limit=1)


def test_send_value_to_unknown_host_fails(zabbix_server: ZabbixPeer) -> None:
    with pytest.raises(ZabbixPeerError, match="not accepted"):
        zabbix_server.send_value(_unique("nohost"), KEY, 1, timeout=1)


def test_problem_raised_and_recovered(zabbix_server: ZabbixPeer, zapi: ZabbixAPI) -> None:
    host = _unique("web")
    ids = zabbix_server.create_host_with_trapper(
        host,
        KEY,
        trigger_expr="last(/{host}/{key})>90",
        priority=4,
        tags=[("scope", "performance")],
        host_tags={"service": "web"},
        trigger_name="High CPU load on {HOST.NAME}",
    )
    assert zapi.host.get(hostids=[ids.hostid], output=["host"])[0]["host"] == host

    zabbix_server.send_value(host, KEY, 95)
    params: dict[str, Any] = {
        "output": "extend",
        "selectAcknowledges": "extend",
        "selectTags": "extend",
        "selectSuppressionData": "extend",
        "objectids": ids.triggerid,
        "source": 0,
        "object": 0,
    }
    problems: list[dict[str, Any]] = wait_until(
        lambda: zapi.problem.get(**params), "problem.get to list the problem", timeout=30
    )
    assert len(problems) == 1
    problem = problems[0]
    assert problem["name"] == f"High CPU load on {host}"
    assert problem["severity"] == "4"
    assert problem["r_eventid"] == "0"
    assert problem["suppressed"] == "0"
    tags = {(t["tag"], t["value"]) for t in problem["tags"]}
    assert tags == {("scope", "performance"), ("service", "web")}
    # the captured payloads in tests/fixtures/zabbix have the same shape as the live server's
    captured = json.loads((FIXTURES / "problem.get_active.json").read_text())
    assert set(problem) == set(captured["response"]["result"][0])

    events = zapi.event.get(eventids=[problem["eventid"]], selectHosts=["host"], output="extend")
    assert [h["host"] for h in events[0]["hosts"]] == [host]

    zabbix_server.send_value(host, KEY, 10)
    wait_until(
        lambda: not zapi.problem.get(objectids=ids.triggerid) or None,
        "problem.get to drop the resolved problem",
        timeout=30,
    )
    event = zapi.event.get(eventids=[problem["eventid"]], output="extend")[0]
    assert event["r_eventid"] != "0"
    recovery = zapi.event.get(eventids=[event["r_eventid"]], output="extend")[0]
    assert recovery["value"] == "0"
    assert recovery["objectid"] == ids.triggerid
    recent = zapi.problem.get(objectids=ids.triggerid, recent=True, output="extend")
    assert [p["r_eventid"] for p in recent] == [event["r_eventid"]]


def test_problem_in_maintenance_is_suppressed(
    zabbix_server: ZabbixPeer, zapi: ZabbixAPI, maintained_host: tuple[HostIds, str, float]
) -> None:
    ids, mid, created = maintained_host
    assert zapi.maintenance.get(maintenanceids=[mid], output=["maintenanceid"])
    # the server's timer applies maintenances once a minute (at :00), so at most ~60 s from
    # creation; the preceding tests have used up part of that already
    waited = zabbix_server.wait_in_maintenance([ids.hostid], timeout=max(5.0, 80 - (time.monotonic() - created)))
    print(f"host in maintenance {time.monotonic() - created:.1f}s after maintenance.create (waited {waited:.1f}s)")
    host = zapi.host.get(hostids=[ids.hostid], output=["host"])[0]["host"]
    zabbix_server.send_value(host, KEY, 99)
    problems: list[dict[str, Any]] = wait_until(
        lambda: zapi.problem.get(objectids=ids.triggerid, output="extend", selectSuppressionData="extend"),
        "problem in maintenance",
        timeout=30,
    )
    assert problems[0]["suppressed"] == "1"
    assert problems[0]["severity"] == "3"
    assert [s["maintenanceid"] for s in problems[0]["suppression_data"]] == [mid]
    assert not zapi.problem.get(objectids=ids.triggerid, suppressed=False)
