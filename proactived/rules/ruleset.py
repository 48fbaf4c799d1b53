"""The compiled rule set: which rules an incident matches, its group key, its root-cause relation and ticket route."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from proactived.dedup import Incident
from proactived.model import Severity
from proactived.rules.matchers import Matcher, matches_all
from proactived.rules.spec import ALL_LABELS
from proactived.rules.topology import Topology
from proactived.ticket_actions import TicketRoute

DEFAULT_RULE = "default"


@dataclass(frozen=True)
class Inhibit:
    """A firing ``source`` incident makes ``target`` incidents with the same ``equal`` labels its symptoms."""

    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]

    def applies(self, cause: Mapping[str, str], symptom: Mapping[str, str]) -> bool:
        return (
            matches_all(self.source, cause)
            and matches_all(self.target, symptom)
            and all(cause.get(name, "") == symptom.get(name, "") for name in self.equal)
        )


@dataclass(frozen=True)
class Rule:
    """One compiled correlation rule (see docs/rules.md for the meaning of each field)."""

    name: str
    matchers: tuple[Matcher, ...] = ()
    group_by: tuple[str, ...] = ()
    window: timedelta = timedelta(seconds=30)
    hold_for: timedelta = timedelta(minutes=1)
    resolve_hold: timedelta = timedelta(minutes=5)
    reopen_window: timedelta = timedelta(hours=1)
    use_topology: bool = True
    inhibit: tuple[Inhibit, ...] = ()
    fallback: tuple[str, ...] = ("severity", "earliest")
    sink: str | None = None  # None: no sink configured, problems are kept but no ticket is written
    project: str = ""
    priorities: Mapping[str, str] = field(default_factory=dict)
    assignee_group: str = ""
    title_template: str = ""
    body_template: str = ""
    auto_resolve: bool = True
    continue_: bool = False
    origin: str = "built-in"  # file:line where the rule is defined

    @property
    def wait(self) -> timedelta:
        """How long a new problem waits before its ticket opens: hold_for and the group window."""
        return max(self.hold_for, self.window)

    def matches(self, labels: Mapping[str, str]) -> bool:
        return matches_all(self.matchers, labels)

    def route(self, severity: Severity) -> TicketRoute | None:
        """The ticket route for a problem of ``severity`` (None when tickets are not written)."""
        if self.sink is None:
            return None
        priority = self.priorities.get(severity.value) or self.priorities.get("default", "")
        return TicketRoute(
            sink=self.sink,
            project=self.project,
            priority=priority,
            assignee_group=self.assignee_group,
            title_template=self.title_template,
            body_template=self.body_template,
            auto_resolve=self.auto_resolve,
        )


def default_rule(sink: str | None) -> Rule:
    """The catch-all rule evaluated last: one problem per alert, so no firing incident is left without one."""
    return Rule(name=DEFAULT_RULE, group_by=(ALL_LABELS,), sink=sink)


@dataclass(frozen=True)
class RuleSet:
    """Rules in evaluation order (the built-in default last) and the shared topology."""

    rules: tuple[Rule, ...]
    topology: Topology = field(default_factory=Topology)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {r.name: r for r in self.rules})

    def get(self, name: str) -> Rule:
        """The rule called ``name``; a problem whose rule was removed by a reload falls back to the default."""
        by_name: dict[str, Rule] = self._by_name  # type: ignore[attr-defined]  # set in __post_init__
        return by_name.get(name) or self.rules[-1]

    def matching(self, labels: Mapping[str, str]) -> list[Rule]:
        """Rules an incident belongs to: the first match, and the following ones while ``continue`` is set.

        A rule only matches when every group_by label has a value (from the alert or the topology), so
        alerts lacking the label are never lumped into one problem with an empty group value.
        """
        found: list[Rule] = []
        for rule in self.rules:
            if rule.matches(labels) and all(self.group_labels(rule, labels).values()):
                found.append(rule)
                if not rule.continue_:
                    break
        return found

    def group_labels(self, rule: Rule, labels: Mapping[str, str]) -> dict[str, str]:
        """The values of the rule's group_by labels (missing ones taken from the topology, else empty)."""
        if ALL_LABELS in rule.group_by:
            return dict(labels)
        return {
            name: self.topology.value_of(labels, name) if rule.use_topology else labels.get(name, "")
            for name in rule.group_by
        }

    def causes(self, rule: Rule, cause: Mapping[str, str], symptom: Mapping[str, str]) -> bool:
        """True when an incident with ``cause`` labels explains one with ``symptom`` labels under ``rule``."""
        if rule.use_topology and self.topology.depends(symptom, cause):
            return True
        return any(inhibit.applies(cause, symptom) for inhibit in rule.inhibit)


def rule_labels(labels: Mapping[str, str], source: str, severity: Severity) -> dict[str, str]:
    """The labels rules see: the alert's own, with ``source`` and the normalised ``severity`` set by proactived."""
    return {**labels, "source": source, "severity": severity.value}


def labels_of(incident: Incident) -> dict[str, str]:
    """What matchers, group_by and inhibit see of an incident."""
    return rule_labels(incident.labels, incident.source, incident.severity)


def group_key(labels: Mapping[str, str]) -> str:
    """The readable, stable key of a group: its label values in name order, e.g. ``{switch="sw1"}``."""
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def group_hash(rule: str, key: str) -> str:
    """A fixed-width index key for (rule, group key)."""
    return hashlib.sha256(f"{rule}\x00{key}".encode()).hexdigest()[:40]
