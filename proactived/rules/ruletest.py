"""Rule unit tests (``*_test.yaml``): alerts over time in, expected problems and ticket actions out.

Each expectation lists only the keys it cares about; the actual problems and tickets are projected onto
those keys and compared, and a failure prints both sides as YAML with a unified diff.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError

from proactived.config.base import ConfigModel, Duration
from proactived.config.load import validation_problems
from proactived.config.yamlsource import YamlSyntaxError, read_yaml
from proactived.durations import format_duration
from proactived.errors import ConfigError
from proactived.model import Alert, Severity, Status, fingerprint_of, normalise_severity
from proactived.rules.load import load_rules, rule_files
from proactived.rules.matchers import matches_all, parse_matchers
from proactived.rules.simulate import Simulation
from proactived.sinks.render import DIALECTS, render_ticket
from proactived.ticket_actions import IncidentView, TicketAction

START = datetime(2030, 1, 1, tzinfo=UTC)


class RepeatSpec(ConfigModel):
    """Send the alert ``count`` times, ``every`` apart; ``{n}`` in label values becomes 1..count."""

    count: int = Field(ge=1, le=100_000)
    every: Duration = timedelta(0)


class AlertSpec(ConfigModel):
    at: Duration
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    status: Literal["firing", "resolved"] = "firing"
    source: str = "push"
    suppressed: str = ""
    repeat: RepeatSpec | None = None


class MuteSpec(ConfigModel):
    """A maintenance window for the test: alerts matching ``match`` are muted from ``start`` to ``end``."""

    match: list[str]
    start: Duration = timedelta(0)
    end: Duration = timedelta(days=3650)
    reason: str = "maintenance"


class ProblemExpect(ConfigModel):
    rule: str = ""
    group: dict[str, str] = Field(default_factory=dict)
    status: Literal["open", "resolved"] = "open"
    ticket: Literal["none", "open", "resolved"] = "none"
    root_cause: dict[str, str] = Field(default_factory=dict)
    symptoms: list[dict[str, str]] = Field(default_factory=list)
    members: int = 0
    severity: Severity = Severity.INFO
    muted_by: str = ""
    previous: bool = False


class TicketExpect(ConfigModel):
    kind: Literal["open", "update", "note", "resolve", "reopen"]
    rule: str = ""
    group: dict[str, str] = Field(default_factory=dict)
    reason: str = ""
    sink: str = ""
    project: str = ""
    priority: str = ""
    assignee_group: str = ""
    title: str = ""
    root_cause: dict[str, str] = Field(default_factory=dict)
    symptoms: int = 0


class ExpectSpec(ConfigModel):
    at: Duration
    problems: list[ProblemExpect] | None = None
    tickets: list[TicketExpect] | None = None


class CaseSpec(ConfigModel):
    name: str
    alerts: list[AlertSpec] = Field(default_factory=list)
    mutes: list[MuteSpec] = Field(default_factory=list)
    expect: list[ExpectSpec] = Field(min_length=1)


class TestFileSpec(ConfigModel):
    rule_files: list[str] = Field(default_factory=list)
    tests: list[CaseSpec] = Field(min_length=1)


@dataclass
class Report:
    """Results of one test file: failures as printable text, and how many cases ran."""

    path: Path
    cases: int = 0
    failures: list[str] | None = None


def run_file(path: Path) -> Report:
    """Load the test file and its rules, run every case; ConfigError if either file is invalid."""
    try:
        doc = read_yaml(path)
    except YamlSyntaxError as exc:
        raise ConfigError([str(exc)]) from None
    try:
        spec = TestFileSpec.model_validate(doc.data or {})
    except ValidationError as exc:
        raise ConfigError(validation_problems(doc, exc)) from None
    files = [path.parent / f for f in spec.rule_files] or rule_files(path.parent)
    rules = load_rules(files, None)
    failures: list[str] = []
    for case in spec.tests:
        failures += _run_case(path, case, Simulation(rules, START, mute=_mutes(case.mutes)))
    return Report(path, len(spec.tests), failures)


def _mutes(specs: list[MuteSpec]) -> Any:
    windows = [(parse_matchers(",".join(m.match)), START + m.start, START + m.end, m.reason) for m in specs]

    def mute(labels: Mapping[str, str], now: datetime) -> str:
        for matchers, start, end, reason in windows:
            if start <= now < end and matches_all(matchers, labels):
                return reason
        return ""

    return mute


def _alerts(spec: AlertSpec) -> list[tuple[datetime, Alert]]:
    repeat = spec.repeat or RepeatSpec(count=1)
    found = []
    for n in range(1, repeat.count + 1):
        labels = {k: v.replace("{n}", str(n)) for k, v in spec.labels.items()}
        severity = normalise_severity(labels.get("severity"))
        alert = Alert(
            source=spec.source,
            source_kind="test",
            fingerprint=fingerprint_of(spec.source, labels),
            labels=labels,
            annotations=spec.annotations,
            severity=severity,
            source_severity=labels.get("severity", ""),
            status=Status(spec.status),
            starts_at=START + spec.at,
            suppressed=spec.suppressed,
        )
        found.append((START + spec.at + repeat.every * (n - 1), alert))
    return found


def _run_case(path: Path, case: CaseSpec, sim: Simulation) -> list[str]:
    arrivals = sorted((a for spec in case.alerts for a in _alerts(spec)), key=lambda pair: pair[0])
    failures: list[str] = []
    seen = 0
    batch_at = START
    for expect in sorted(case.expect, key=lambda e: e.at):
        until = START + expect.at
        batch: list[Alert] = []
        while arrivals and arrivals[0][0] <= until:
            at, alert = arrivals.pop(0)
            if batch and at != batch_at:
                sim.push(batch_at, batch)
                batch = []
            batch_at = at
            batch.append(alert)
        if batch:
            sim.push(batch_at, batch)
        sim.advance(until)
        where = f"{path}: {case.name!r} at {_fmt(expect.at)}"
        if expect.problems is not None:
            got = [_problem(sim, p) for p in sim.problems()]
            failures += _compare(where, "problems", [e.model_dump(exclude_unset=True) for e in expect.problems], got)
        if expect.tickets is not None:
            got = [_ticket(e.action) for e in sim.emitted[seen:]]
            failures += _compare(where, "tickets", [e.model_dump(exclude_unset=True) for e in expect.tickets], got)
        seen = len(sim.emitted)
    return failures


def _labels(view: IncidentView | None) -> dict[str, str]:
    return dict(view.labels) if view is not None else {}


def _problem(sim: Simulation, problem: Any) -> dict[str, Any]:
    view = sim.view(problem)
    return {
        "rule": problem.rule,
        "group": {k: v for k, v in problem.group_labels.items()},
        "status": problem.status.value,
        "ticket": problem.ticket.value,
        "root_cause": _labels(view.root_cause),
        "symptoms": sorted((dict(s.labels) for s in view.symptoms), key=lambda d: sorted(d.items())),
        "members": problem.members,
        "severity": problem.severity.value,
        "muted_by": problem.muted_by,
        "previous": problem.previous_problem_id is not None,
    }


def _ticket(action: TicketAction) -> dict[str, Any]:
    p = action.problem
    return {
        "kind": action.kind.value,
        "rule": p.rule,
        "group": {k: v for k, v in p.common_labels.items() if k in _group_names(p.group_key)},
        "reason": action.reason,
        "sink": action.route.sink,
        "project": action.route.project,
        "priority": action.route.priority,
        "assignee_group": action.route.assignee_group,
        "title": render_ticket(DIALECTS["plain"], action).title,
        "root_cause": _labels(p.root_cause),
        "symptoms": p.symptom_count,
    }


def _group_names(key: str) -> set[str]:
    return {part.split("=")[0].strip() for part in key.strip("{}").split(", ") if "=" in part}


def _compare(where: str, what: str, expected: list[dict[str, Any]], got: list[dict[str, Any]]) -> list[str]:
    projected = []
    for i, item in enumerate(got):
        keys = expected[i].keys() if i < len(expected) else item.keys()
        projected.append({k: _normal(item[k]) for k in keys})
    wanted = [{k: _normal(v) for k, v in e.items()} for e in expected]
    if projected == wanted:
        return []
    left = yaml.safe_dump(wanted, sort_keys=False, allow_unicode=True).splitlines()
    right = yaml.safe_dump(projected, sort_keys=False, allow_unicode=True).splitlines()
    diff = "\n".join(difflib.unified_diff(left, right, "expected", "got", lineterm=""))
    return [f"FAIL {where}: {what}\n{diff}"]


def _normal(value: Any) -> Any:
    if isinstance(value, list):
        return sorted((_normal(v) for v in value), key=repr) if value and isinstance(value[0], dict) else value
    if hasattr(value, "value"):
        return value.value
    return value


def _fmt(delta: timedelta) -> str:
    return format_duration(delta)
