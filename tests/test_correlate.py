"""Timeline tests of correlation: alerts over time in, problems and ticket actions out (pure, in memory)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError

from proactived.dedup import DedupSettings
from proactived.model import Alert, Severity, Status
from proactived.rules.correlate import MuteCheck
from proactived.rules.load import load_rules
from proactived.rules.problem import ProblemStatus, TicketState
from proactived.rules.ruleset import RuleSet
from proactived.rules.simulate import Simulation
from proactived.sinks.render import DIALECTS, render_ticket
from proactived.ticket_actions import TicketAction, TicketKind
from tests.builders import alert
from tests.conftest import T0

NETWORK = """
topology:
  from_labels: [{child: host, parent: switch}]
rules:
  - name: hosts-behind-switch
    match: ['alertname=~"HostDown|SwitchDown"']
    group_by: [switch]
    window: 30s
    hold_for: 1m
    resolve_hold: 5m
    reopen_window: 1h
    ticket: {sink: desk, priority: {critical: P1, default: P3}, assignee_group: L1}
"""


def rules_from(tmp_path: Path, text: str = NETWORK) -> RuleSet:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return load_rules([path], ["desk"])


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def kinds(sim: Simulation) -> list[tuple[float, TicketKind]]:
    return [((e.at - T0).total_seconds(), e.action.kind) for e in sim.emitted]


def host_down(host: str, switch: str = "sw1", status: Status = Status.FIRING) -> Alert:
    return alert("HostDown", status=status, severity=Severity.WARNING, host=host, switch=switch)


@pytest.fixture
def sim(tmp_path: Path) -> Simulation:
    return Simulation(rules_from(tmp_path), T0)


def test_it_turns_a_storm_of_500_hosts_behind_one_switch_into_one_problem_with_the_switch_as_root_cause(
    sim: Simulation,
) -> None:
    for i in range(500):
        if i == 250:  # the switch alert arrives mid-storm, as it does when its own check is slower
            sim.push(at(45), [alert("SwitchDown", switch="sw1")])
        sim.push(at(i * 90 / 500), [host_down(f"web{i}")])
    sim.advance(at(200))
    (problem,) = sim.problems()
    view = sim.view(problem)
    assert view.root_cause is not None and view.root_cause.name == "SwitchDown"
    assert problem.members == 501 and view.symptom_count == 500
    assert [k for _, k in kinds(sim)].count(TicketKind.OPEN) == 1
    opened = sim.emitted[0].action
    assert opened.route == opened.route.__class__(sink="desk", priority="P1", assignee_group="L1")


def test_a_flapping_alert_never_spawns_more_than_one_problem(tmp_path: Path) -> None:
    sim = Simulation(rules_from(tmp_path), T0, settings=DedupSettings(flap_threshold=4))
    for i in range(40):  # fires and resolves every 15 s for ten minutes
        status = Status.FIRING if i % 2 == 0 else Status.RESOLVED
        sim.push(at(i * 15), [host_down("web1", status=status)])
    sim.advance(at(3600))
    assert len(sim.problems()) == 1
    assert [k for _, k in kinds(sim)].count(TicketKind.OPEN) == 1
    assert any("flapping" in text for _, text in sim.timeline[sim.problems()[0].id])


def test_hold_for_suppresses_a_20_second_blip(sim: Simulation) -> None:
    sim.push(at(0), [host_down("web1")])
    sim.push(at(20), [host_down("web1", status=Status.RESOLVED)])
    sim.advance(at(3600))
    (problem,) = sim.problems()
    assert problem.status is ProblemStatus.RESOLVED and problem.ticket is TicketState.NONE
    assert sim.emitted == []


def test_a_late_symptom_joins_the_open_problem_with_one_update(sim: Simulation) -> None:
    sim.push(at(0), [alert("SwitchDown", switch="sw1"), host_down("web1")])
    sim.advance(at(120))
    sim.push(at(600), [host_down("web2"), host_down("web3")])
    sim.advance(at(620))
    (problem,) = sim.problems()
    assert problem.members == 4
    assert kinds(sim) == [(60, TicketKind.OPEN), (605, TicketKind.UPDATE)]
    assert sim.emitted[1].action.reason == "2 incidents joined"


def test_it_resolves_after_resolve_hold_and_reopens_the_same_ticket_within_the_reopen_window(
    sim: Simulation,
) -> None:
    sim.push(at(0), [host_down("web1")])
    sim.push(at(100), [host_down("web1", status=Status.RESOLVED)])
    sim.advance(at(399))
    assert kinds(sim) == [(60, TicketKind.OPEN)]  # resolve_hold (5m) not over yet
    sim.advance(at(400))
    sim.push(at(1000), [host_down("web1")])
    sim.advance(at(1010))
    assert kinds(sim) == [(60, TicketKind.OPEN), (400, TicketKind.RESOLVE), (1000, TicketKind.REOPEN)]
    assert len(sim.problems()) == 1


def test_a_relapse_after_the_reopen_window_is_a_new_problem_pointing_at_the_old_one(sim: Simulation) -> None:
    sim.push(at(0), [host_down("web1")])
    sim.push(at(100), [host_down("web1", status=Status.RESOLVED)])
    sim.advance(at(500))
    sim.push(at(500 + 7200), [host_down("web1")])
    sim.advance(at(500 + 7300))
    first, second = sim.problems()
    assert second.previous_problem_id == first.id
    assert [k for _, k in kinds(sim)] == [TicketKind.OPEN, TicketKind.RESOLVE, TicketKind.OPEN]


def test_a_symptom_arriving_while_resolve_is_held_keeps_the_problem_open(sim: Simulation) -> None:
    sim.push(at(0), [host_down("web1")])
    sim.push(at(100), [host_down("web1", status=Status.RESOLVED)])
    sim.push(at(200), [host_down("web2")])
    sim.advance(at(1000))
    (problem,) = sim.problems()
    assert problem.status is ProblemStatus.OPEN and problem.members == 2
    assert TicketKind.RESOLVE not in [k for _, k in kinds(sim)]


def test_it_re_elects_the_root_cause_when_the_root_resolves_but_symptoms_remain(sim: Simulation) -> None:
    sim.push(at(0), [alert("SwitchDown", switch="sw1"), host_down("web1")])
    sim.advance(at(70))
    sim.push(at(80), [alert("SwitchDown", status=Status.RESOLVED, switch="sw1")])
    sim.advance(at(90))
    view = sim.view(sim.problems()[0])
    assert view.root_cause is not None and view.root_cause.labels["host"] == "web1"
    assert "root cause changed to HostDown host=web1 switch=sw1" in sim.emitted[-1].action.reason


def test_severity_rising_is_one_update(sim: Simulation) -> None:
    sim.push(at(0), [host_down("web1")])
    sim.advance(at(70))
    sim.push(at(80), [alert("HostDown", severity=Severity.CRITICAL, host="web2", switch="sw1")])
    sim.advance(at(90))
    assert sim.emitted[-1].action.kind is TicketKind.UPDATE
    assert sim.emitted[-1].action.reason == (
        "1 incident joined; severity rose to critical; root cause changed to HostDown host=web2 switch=sw1"
    )
    assert sim.emitted[-1].action.route.priority == "P1"


def muted_hosts(hosts: set[str], until: datetime) -> MuteCheck:
    def mute(labels: Mapping[str, str], now: datetime) -> str:
        return "maintenance: switch upgrade" if labels.get("host") in hosts and now < until else ""

    return mute


def test_a_problem_whose_incidents_are_all_muted_opens_no_ticket(tmp_path: Path) -> None:
    sim = Simulation(rules_from(tmp_path), T0, mute=muted_hosts({"web1"}, at(10_000)))
    sim.push(at(0), [host_down("web1")])
    sim.advance(at(600))
    assert sim.emitted == []
    assert sim.problems()[0].muted_by == "maintenance: switch upgrade"


def test_a_muted_open_ticket_gets_one_note_and_its_resolve_is_never_muted(tmp_path: Path) -> None:
    sim = Simulation(rules_from(tmp_path), T0, mute=muted_hosts({"web2"}, at(10_000)))
    sim.push(at(0), [host_down("web1")])
    sim.advance(at(70))
    sim.push(at(80), [host_down("web2")])
    sim.push(at(90), [host_down("web1", status=Status.RESOLVED)])
    sim.push(at(95), [host_down("web3", switch="sw1")])
    sim.push(at(96), [host_down("web3", status=Status.RESOLVED)])
    sim.advance(at(200))
    assert [k for _, k in kinds(sim)] == [TicketKind.OPEN, TicketKind.NOTE]  # no updates while muted
    sim.push(at(300), [host_down("web2", status=Status.RESOLVED)])
    sim.advance(at(700))
    assert [k for _, k in kinds(sim)] == [TicketKind.OPEN, TicketKind.NOTE, TicketKind.RESOLVE]


def test_labels_are_data_never_template_code(tmp_path: Path) -> None:
    rules = rules_from(tmp_path, NETWORK.replace("assignee_group: L1}", "title: 'Down: {{ labels.switch }}'}"))
    sim = Simulation(rules, T0)
    sim.push(at(0), [alert("SwitchDown", switch="{{ 7 * 7 }}{% raw %}")])
    sim.advance(at(60))
    action: TicketAction = sim.emitted[0].action
    assert render_ticket(DIALECTS["plain"], action).title == "Down: {{ 7 * 7 }}{% raw %}"


def test_templates_run_sandboxed(tmp_path: Path) -> None:
    escape = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    rules = rules_from(tmp_path, NETWORK.replace("assignee_group: L1}", f'title: "{escape}"}}'))
    sim = Simulation(rules, T0)
    sim.push(at(0), [alert("SwitchDown", switch="sw1")])
    sim.advance(at(60))
    with pytest.raises(SecurityError):
        render_ticket(DIALECTS["plain"], sim.emitted[0].action)


IMMEDIATE = """
rules:
  - name: each-host
    match: ['alertname="HostDown"']
    group_by: [host]
    window: 0s
    hold_for: 0s
    resolve_hold: 0s
    ticket: {sink: desk}
"""


def test_a_fire_and_resolve_deduplicated_in_one_batch_still_opens_and_resolves_an_immediate_ticket(
    tmp_path: Path,
) -> None:
    sim = Simulation(rules_from(tmp_path, IMMEDIATE), T0)
    sim.push(at(0), [host_down("web1"), host_down("web1", status=Status.RESOLVED)])
    assert kinds(sim) == [(0, TicketKind.OPEN), (0, TicketKind.RESOLVE)]


def test_a_fire_and_resolve_in_one_batch_stays_a_blip_under_hold_for(sim: Simulation) -> None:
    sim.push(at(0), [host_down("web1"), host_down("web1", status=Status.RESOLVED)])
    sim.advance(at(600))
    assert kinds(sim) == []
