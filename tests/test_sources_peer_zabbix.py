"""Against a real Zabbix 6.0: a problem raised with zabbix_sender is polled with its host, severity and
tags, resolves on recovery, comes back as a new incident, and is carried as suppressed during a
maintenance. The maintenance is created when the module starts, so the server's once-a-minute
maintenance timer runs while the other tests do; its test comes last."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from proactived.clock import SystemClock
from proactived.daemon import build_runtime
from proactived.dedup import Incident
from proactived.model import Severity, Status
from proactived.runtime import Runtime
from proactived.sources import build_source
from proactived.sources.poller import UNREACHABLE, SourcePoller
from proactived.store import incidents as incident_rows
from tests.peers.zabbix import HostIds, ZabbixPeer, wait_until
from tests.running import make_config

pytest_plugins = ("tests.peers.zabbix",)
pytestmark = pytest.mark.peer

KEY = "app.load"
MAINTENANCE_BUDGET = 80.0


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module", autouse=True)
def maintained_host(zabbix_server: ZabbixPeer) -> tuple[str, HostIds, str, float]:
    """A host put into maintenance at module start: (host, ids, maintenanceid, monotonic start)."""
    host = unique("maint")
    ids = zabbix_server.create_host_with_trapper(host, KEY, priority=2, tags={"scope": "maint"})
    return host, ids, zabbix_server.create_maintenance([ids.hostid], duration=3600), time.monotonic()


def runtime(tmp_path: Path, zabbix: ZabbixPeer, **auth: Any) -> Runtime:
    source = {"name": "zbx", "type": "zabbix", "url": zabbix.base_url, "unreachable_after": 1, "timeout": "10s"}
    source |= auth or {"username": zabbix.user, "password": zabbix.password}
    config = make_config(tmp_path, sources=[source])
    return build_runtime(config, tmp_path / "proactived.yaml", SystemClock())


@pytest.fixture
def rt(tmp_path: Path, zabbix_server: ZabbixPeer) -> Iterator[Runtime]:
    runtime_ = runtime(tmp_path, zabbix_server)
    yield runtime_
    runtime_.store.close()


def poller(rt: Runtime) -> SourcePoller:
    return SourcePoller(rt, build_source(rt.config.sources[0], rt.clock.now))


def polled(rt: Runtime, want: Callable[[list[Incident]], bool], what: str) -> list[Incident]:
    """Poll until the incidents satisfy ``want`` (the server needs about a second per change)."""
    p = poller(rt)

    def check() -> list[Incident] | None:
        assert p.poll().ok
        with rt.store.transaction() as conn:
            found = incident_rows.list_incidents(conn)
        return found if want(found) else None

    return wait_until(check, what, timeout=30, interval=0.5)


def of_trigger(incidents: list[Incident], ids: HostIds, status: Status) -> list[Incident]:
    return [i for i in incidents if i.labels.get("zabbix_triggerid") == ids.triggerid and i.status is status]


def test_it_polls_a_problem_with_host_severity_tags_and_its_recovery(rt: Runtime, zabbix_server: ZabbixPeer) -> None:
    host = unique("web")
    ids = zabbix_server.create_host_with_trapper(
        host,
        KEY,
        priority=4,
        tags=[("scope", "performance"), ("team", "ops"), ("team", "web")],
        host_tags={"service": "shop"},
        trigger_name="High load on {HOST.NAME}",
    )
    zabbix_server.send_value(host, KEY, 95)
    firing = polled(rt, lambda found: bool(of_trigger(found, ids, Status.FIRING)), "the problem as an incident")
    (incident,) = of_trigger(firing, ids, Status.FIRING)
    assert incident.name == f"High load on {host}"
    assert incident.severity is Severity.HIGH and incident.source_severity == "high"
    assert incident.labels["host"] == host
    assert (incident.labels["scope"], incident.labels["team"], incident.labels["service"]) == (
        "performance",
        "ops,web",
        "shop",
    )
    assert incident.fingerprint == f"zbx:{ids.triggerid}:{incident.labels['zabbix_eventid']}"
    assert not incident.suppressed

    zabbix_server.send_value(host, KEY, 10)
    resolved = polled(rt, lambda found: bool(of_trigger(found, ids, Status.RESOLVED)), "the recovery")
    assert [i.id for i in of_trigger(resolved, ids, Status.RESOLVED)] == [incident.id]

    zabbix_server.send_value(host, KEY, 97)  # a new Zabbix problem: a new incident, the old one stays resolved
    again = polled(rt, lambda found: bool(of_trigger(found, ids, Status.FIRING)), "the relapse")
    (relapse,) = of_trigger(again, ids, Status.FIRING)
    assert relapse.id != incident.id and relapse.labels["zabbix_eventid"] != incident.labels["zabbix_eventid"]


def test_it_logs_in_with_an_api_token(tmp_path: Path, zabbix_server: ZabbixPeer) -> None:
    rt = runtime(tmp_path, zabbix_server, api_token=zabbix_server.create_api_token())
    try:
        assert poller(rt).poll().ok
    finally:
        rt.store.close()


def test_a_wrong_password_is_a_failed_poll_raising_source_unreachable(
    tmp_path: Path, zabbix_server: ZabbixPeer
) -> None:
    rt = runtime(tmp_path, zabbix_server, username=zabbix_server.user, password="not-the-password")
    try:
        assert poller(rt).poll().error_kind == "auth"
        with rt.store.transaction() as conn:
            assert [i.name for i in incident_rows.list_incidents(conn)] == [UNREACHABLE]
    finally:
        rt.store.close()


def test_a_problem_during_maintenance_is_carried_as_suppressed(
    rt: Runtime, zabbix_server: ZabbixPeer, maintained_host: tuple[str, HostIds, str, float]
) -> None:
    host, ids, maintenanceid, created = maintained_host
    # Zabbix applies maintenances at the start of a minute; the tests before used part of that wait
    zabbix_server.wait_in_maintenance([ids.hostid], timeout=max(5.0, MAINTENANCE_BUDGET - (time.monotonic() - created)))
    zabbix_server.send_value(host, KEY, 99)
    found = polled(rt, lambda found: bool(of_trigger(found, ids, Status.FIRING)), "the problem in maintenance")
    (incident,) = of_trigger(found, ids, Status.FIRING)
    assert incident.suppressed == f"zabbix maintenance {maintenanceid}"
    assert incident.labels["host"] == host and incident.severity is Severity.WARNING
