"""The correlation stage against a real store, and through the in-process daemon (push → problem → ticket rows)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from proactived.clock import ManualClock
from proactived.config.models import Config
from proactived.model import Severity, Status
from proactived.rules import store as problem_rows
from proactived.rules.load import load_rules
from proactived.rules.stage import Correlation
from proactived.runtime import Runtime
from proactived.store import Store
from proactived.store.schema import outbox
from proactived.ticket_actions import TicketAction, TicketKind
from tests.builders import alert
from tests.running import TOKEN, make_config, running_daemon

REPO = Path(__file__).parent.parent
NETWORK = """
topology:
  from_labels: [{child: host, parent: switch}]
rules:
  - name: hosts-behind-switch
    match: ['alertname=~"HostDown|SwitchDown"']
    group_by: [switch]
    ticket: {sink: desk, assignee_group: L1}
"""

# A desk that never answers: ticket rows stay in the outbox, where these tests read them.
DESK = {"type": "webhook", "url": "http://127.0.0.1:9/hook"}


def ticket_rows(store: Store) -> list[TicketAction]:
    with store.reading() as conn:
        rows = conn.execute(select(outbox.c.payload).where(outbox.c.topic == "ticket").order_by(outbox.c.id))
        return [TicketAction.from_payload(r.payload) for r in rows]


@pytest.fixture
def correlation(store: Store, clock: ManualClock, tmp_path: Path) -> tuple[Runtime, Correlation]:
    (tmp_path / "rules.yaml").write_text(NETWORK)
    config = Config.model_validate({"state_dir": str(tmp_path), "sinks": {"desk": DESK}})
    rt = Runtime(config=config, config_path=tmp_path / "proactived.yaml", store=store, clock=clock)
    return rt, Correlation(rt, load_rules([tmp_path / "rules.yaml"], ["desk"]))


def test_it_correlates_a_storm_in_the_store_into_one_problem_and_one_open_ticket(
    correlation: tuple[Runtime, Correlation], clock: ManualClock, store: Store
) -> None:
    rt, corr = correlation
    for second in range(90):  # 5 hosts a second over 90 s; the switch alert comes at 30 s
        batch = [alert("HostDown", severity=Severity.WARNING, host=f"web{second}-{i}", switch="sw1") for i in range(5)]
        if second == 30:
            batch.append(alert("SwitchDown", switch="sw1"))
        rt.ingestor.ingest(batch)
        while corr.run_once():
            pass
        if second % 5 == 0:
            corr.tick()
        clock.advance(timedelta(seconds=1))
    clock.advance(timedelta(seconds=10))
    corr.tick()
    with store.reading() as conn:
        (problem,) = problem_rows.list_problems(conn)
    assert problem.members == 451 and problem.firing == 451
    actions = ticket_rows(store)
    assert [a.kind for a in actions].count(TicketKind.OPEN) == 1
    last = actions[-1].problem
    assert last.root_cause is not None and last.root_cause.name == "SwitchDown"
    assert last.symptom_count == 450 and len(last.symptoms) == 100  # bounded payload
    assert all(a.route.sink == "desk" and a.route.assignee_group == "L1" for a in actions)


def test_it_resolves_the_ticket_once_every_incident_resolved_for_resolve_hold(
    correlation: tuple[Runtime, Correlation], clock: ManualClock, store: Store
) -> None:
    rt, corr = correlation
    rt.ingestor.ingest([alert("SwitchDown", switch="sw1"), alert("HostDown", host="a", switch="sw1")])
    corr.run_once()
    clock.advance(timedelta(minutes=1))
    corr.tick()
    rt.ingestor.ingest(
        [
            alert("SwitchDown", status=Status.RESOLVED, switch="sw1"),
            alert("HostDown", status=Status.RESOLVED, host="a", switch="sw1"),
        ]
    )
    corr.run_once()
    clock.advance(timedelta(minutes=5))
    corr.tick()
    assert [a.kind for a in ticket_rows(store)] == [TicketKind.OPEN, TicketKind.RESOLVE]
    assert ticket_rows(store)[-1].problem.status == "resolved"


def wait_for(condition: Callable[[], Any], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def daemon_config(tmp_path: Path, rules_dir: Path) -> tuple[Config, Path]:
    path = tmp_path / "proactived.yaml"
    path.write_text(
        f"state_dir: {tmp_path}/state\nserver: {{listen: '127.0.0.1:0', auth_token: {TOKEN}}}\n"
        f"sinks: {{desk: {{type: webhook, url: '{DESK['url']}'}}}}\nrules_dir: {rules_dir}\n"
    )
    return make_config(tmp_path, sinks={"desk": DESK}, rules_dir=str(rules_dir)), path


def test_pushed_alerts_become_a_problem_and_a_ticket_row_through_the_daemon(tmp_path: Path, clock: ManualClock) -> None:
    config, path = daemon_config(tmp_path, REPO / "rules.d")
    with running_daemon(config, path, clock) as d:
        body = [
            {"labels": {"alertname": "SwitchDown", "switch": "sw9", "severity": "critical"}},
            *({"labels": {"alertname": "HostDown", "host": f"h{i}", "switch": "sw9"}} for i in range(20)),
        ]
        assert d.post("/api/v1/alerts", body).status_code == 200

        def problems() -> list[Any]:
            with d.rt.store.reading() as conn:
                return [p for p in problem_rows.list_problems(conn) if p.members == 21]

        (problem,) = wait_for(problems)
        assert problem.rule == "hosts-behind-switch" and problem.group_key == '{switch="sw9"}'
        clock.advance(timedelta(minutes=1))
        d.rt.scheduler.get_job("correlation-tick").func()
        (action,) = ticket_rows(d.rt.store)
        assert action.kind is TicketKind.OPEN and action.route.sink == "desk" and action.route.priority == "urgent"
        assert action.problem.root_cause is not None and action.problem.root_cause.labels["switch"] == "sw9"


def test_a_broken_rule_set_is_rejected_on_reload_and_the_running_one_kept(tmp_path: Path, clock: ManualClock) -> None:
    rules = tmp_path / "rules.d"
    rules.mkdir()
    (rules / "a.yaml").write_text("rules:\n  - {name: by-host, group_by: [host]}\n")
    config, path = daemon_config(tmp_path, rules)
    with running_daemon(config, path, clock) as d:
        (rules / "a.yaml").write_text("rules:\n  - {name: by-host, group_by: [host], bogus: 1}\n")
        bad = d.post("/-/reload")
        assert bad.status_code == 400
        assert bad.json()["errors"] == [f"{rules / 'a.yaml'}:2:39: rules.0.bogus: unknown key"]
        assert d.post("/-/reload", token=None).status_code == 401
        assert d.daemon.reload()  # SIGHUP path: the config is fine, the rules are not: kept, metric says so
        assert "proactived_rules_last_reload_successful 0.0" in d.get("/metrics").text
        assert d.post("/api/v1/alerts", [{"labels": {"alertname": "X", "host": "a"}}]).status_code == 200
        wait_for(lambda: _rules_of(d.rt.store) == ["by-host"])
        (rules / "b.yaml").write_text("rules:\n  - {name: by-dc, group_by: [dc]}\n")
        (rules / "a.yaml").write_text("rules:\n  - {name: by-host, group_by: [host]}\n")
        assert d.post("/-/reload").json() == {"status": "success", "rules": 3}
        assert "proactived_rules_last_reload_successful 1.0" in d.get("/metrics").text


def _rules_of(store: Store) -> list[str]:
    with store.reading() as conn:
        return [p.rule for p in problem_rows.list_problems(conn)]
