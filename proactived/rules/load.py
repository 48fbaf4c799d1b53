"""Loads ``rules.d/*.yaml`` into a RuleSet, reporting every problem at once as ``file:line:col: key: message``."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from proactived.config.load import validation_problems
from proactived.config.models import Config
from proactived.config.yamlsource import PathKey, YamlDocument, YamlSyntaxError, read_yaml
from proactived.errors import ConfigError
from proactived.rules import templates
from proactived.rules.matchers import parse_matcher
from proactived.rules.ruleset import Inhibit, Rule, RuleSet, default_rule
from proactived.rules.spec import RuleFileSpec, RuleSpec, TopologySpec
from proactived.rules.topology import Node, Topology, find_cycle, parse_node

SYSTEM_RULES_DIR = Path("/etc/proactived/rules.d")
TEST_SUFFIXES = ("_test.yaml", "_test.yml")
M = TypeVar("M", bound=BaseModel)
_LOCATED = re.compile(r"^(.*?):(\d+):(\d+): ")
ANY_SINK = None  # sinks=None: unit-test mode, every sink name is accepted and the unnamed one is "default"


def rules_dir(config: Config, config_path: Path) -> tuple[Path, bool]:
    """Where the rules live, and whether the operator named the directory (then it must exist)."""
    if config.rules_dir:
        path = Path(config.rules_dir)
        return (path if path.is_absolute() else config_path.parent / path), True
    return config_path.parent / "rules.d", False


def rule_files(directory: Path) -> list[Path]:
    """Rule files in name order, without the ``*_test.yaml`` unit tests beside them."""
    found = [*directory.glob("*.yaml"), *directory.glob("*.yml")]
    return sorted(p for p in found if not p.name.endswith(TEST_SUFFIXES))


def load_for_config(config: Config, config_path: Path) -> RuleSet:
    """The rule set the daemon runs with ``config``; ConfigError lists every problem."""
    directory, explicit = rules_dir(config, config_path)
    if not directory.is_dir():
        if explicit:
            raise ConfigError([f"{config_path}:1:1: rules_dir: {directory} is not a directory"])
        return RuleSet((default_rule(_default_sink(list(config.sinks))),))
    return load_rules(rule_files(directory), list(config.sinks))


def load_rules(files: list[Path], sinks: Collection[str] | None) -> RuleSet:
    """Parse and cross-check ``files``; raise ConfigError with every problem found in all of them."""
    problems: list[str] = []
    loaded: list[tuple[YamlDocument, RuleFileSpec]] = []
    checker = _Checker(sinks, problems)
    for path in files:
        try:
            doc = read_yaml(path)
        except YamlSyntaxError as exc:
            problems.append(str(exc))
            continue
        loaded.append((doc, _validate_parts(doc, problems)))
        checker.raw(doc)
    rules = [checker.rule(doc, i, spec) for doc, file_spec in loaded for i, spec in enumerate(file_spec.rules)]
    topology = checker.topology(loaded)
    if problems:
        order = {str(path): i for i, path in enumerate(files)}
        raise ConfigError(sorted(problems, key=lambda text: _position(text, order)))
    return RuleSet((*rules, default_rule(_default_sink(sinks))), topology)


def _validate_parts(doc: YamlDocument, problems: list[str]) -> RuleFileSpec:
    """Validate each rule and the topology on their own, so one bad rule does not hide the others' errors."""
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        problems.append(f"{doc.path}:1:1: expected a mapping with 'rules' and 'topology'")
        return RuleFileSpec()
    for key in sorted(set(data) - set(RuleFileSpec.model_fields)):
        line, col = doc.locate((key,))
        problems.append(f"{doc.path}:{line}:{col}: {key}: unknown key")
    rules: list[RuleSpec] = []
    raw_rules = data.get("rules") or []
    if not isinstance(raw_rules, list):
        line, col = doc.locate(("rules",))
        problems.append(f"{doc.path}:{line}:{col}: rules: expected a list of rules")
        raw_rules = []
    for i, item in enumerate(raw_rules):
        spec = _part(doc, RuleSpec, item, ("rules", i), problems)
        if spec is not None:
            rules.append(spec)
    topology = _part(doc, TopologySpec, data.get("topology") or {}, ("topology",), problems)
    return RuleFileSpec(rules=rules, topology=topology or TopologySpec())


def _part(doc: YamlDocument, model: type[M], data: object, at: PathKey, problems: list[str]) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(validation_problems(doc, exc, at))
        return None


def _position(problem: str, order: dict[str, int]) -> tuple[int, int, int]:
    """(file index, line, column) of a ``file:line:col: …`` problem, for reporting in reading order."""
    found = _LOCATED.match(problem)
    if not found:
        return (len(order), 0, 0)
    return (order.get(found.group(1), len(order)), int(found.group(2)), int(found.group(3)))


def _default_sink(sinks: Collection[str] | None) -> str | None:
    if sinks is None:
        return "default"
    names = list(sinks)
    if len(names) == 1:
        return names[0]
    return "default" if "default" in names else None


@dataclass
class _Checker:
    """Cross-file checks that need positions: names, sinks, templates, objects, cycles."""

    sinks: Collection[str] | None
    problems: list[str]

    def __post_init__(self) -> None:
        self.names: dict[str, str] = {}

    def err(self, doc: YamlDocument, path: PathKey, message: str) -> None:
        line, col = doc.locate(path)
        self.problems.append(f"{doc.path}:{line}:{col}: {'.'.join(str(p) for p in path)}: {message}")

    def raw(self, doc: YamlDocument) -> None:
        """Checks on the raw rule entries, so they run even when a rule has other errors."""
        items = doc.data.get("rules") if isinstance(doc.data, dict) else None
        for index, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, dict):
                continue
            at: PathKey = ("rules", index)
            name = item.get("name")
            if isinstance(name, str):
                line, col = doc.locate((*at, "name"))
                if name in self.names:
                    self.err(doc, (*at, "name"), f"duplicate rule name {name!r} (first defined at {self.names[name]})")
                self.names.setdefault(name, f"{doc.path}:{line}:{col}")
            ticket = item.get("ticket")
            if isinstance(ticket, dict):
                self._ticket(doc, at, ticket)

    def _ticket(self, doc: YamlDocument, at: PathKey, ticket: dict[str, object]) -> None:
        for key in ("title", "body"):
            source = ticket.get(key)
            error = templates.check(source) if isinstance(source, str) else None
            if error:
                self.err(doc, (*at, "ticket", key), error)
        sink = ticket.get("sink")
        if isinstance(sink, str) and sink and self.sinks is not None and sink not in self.sinks:
            listed = ", ".join(sorted(self.sinks)) or "none configured"
            self.err(doc, (*at, "ticket", "sink"), f"unknown sink {sink!r} (sinks: {listed})")

    def rule(self, doc: YamlDocument, index: int, spec: RuleSpec) -> Rule:
        at: PathKey = ("rules", index)
        line, col = doc.locate((*at, "name"))
        rc = spec.root_cause
        return Rule(
            name=spec.name,
            matchers=tuple(parse_matcher(m) for m in spec.match),
            group_by=tuple(spec.group_by),
            window=spec.window,
            hold_for=spec.hold_for,
            resolve_hold=spec.resolve_hold,
            reopen_window=spec.reopen_window,
            use_topology=rc.topology,
            inhibit=tuple(
                Inhibit(tuple(map(parse_matcher, i.source)), tuple(map(parse_matcher, i.target)), tuple(i.equal))
                for i in rc.inhibit
            ),
            fallback=tuple(rc.fallback),
            sink=self.sink(doc, at, spec.ticket.sink),
            project=spec.ticket.project,
            priorities={k: v for k, v in spec.ticket.priority.model_dump().items() if v},
            assignee_group=spec.ticket.assignee_group,
            title_template=spec.ticket.title,
            body_template=spec.ticket.body,
            auto_resolve=spec.ticket.auto_resolve,
            continue_=spec.continue_,
            origin=f"{doc.path}:{line}:{col}",
        )

    def sink(self, doc: YamlDocument, at: PathKey, name: str) -> str | None:
        if self.sinks is None:
            return name or "default"
        known = sorted(self.sinks)
        if name:
            return name
        chosen = _default_sink(known)
        if chosen is None and known:
            self.err(doc, (*at, "ticket"), f"several sinks ({', '.join(known)}): name one in ticket.sink")
        return chosen

    def topology(self, loaded: list[tuple[YamlDocument, RuleFileSpec]]) -> Topology:
        parents: dict[Node, set[Node]] = {}
        where: dict[Node, tuple[YamlDocument, PathKey]] = {}
        links: list[tuple[str, str]] = []
        for doc, spec in loaded:
            for child, parent, path in self._edges(doc, spec):
                parents.setdefault(child, set()).add(parent)
                where.setdefault(child, (doc, path))
            for i, link in enumerate(spec.topology.from_labels):
                if link.child == link.parent:
                    self.err(doc, ("topology", "from_labels", i), "child and parent must be different labels")
                links.append((link.child, link.parent))
        kinds: dict[Node, set[Node]] = {}
        for child_label, parent_label in links:
            kinds.setdefault((child_label, "*"), set()).add((parent_label, "*"))
        for graph in (parents, kinds):
            cycle = find_cycle(graph)
            if cycle:
                text = " -> ".join(f"{k}={v}" for k, v in cycle).replace("=*", "")
                doc, path = where.get(cycle[0]) or _first_link(loaded)
                self.err(doc, path, f"cycle in topology: {text}")
        return Topology({k: frozenset(v) for k, v in parents.items()}, tuple(dict.fromkeys(links)))

    def _edges(self, doc: YamlDocument, spec: RuleFileSpec) -> Iterator[tuple[Node, Node, PathKey]]:
        """(child, parent, position) for every well-formed edge of one file."""
        for section, child_is_key in (("depends_on", True), ("contains", False)):
            for key, values in getattr(spec.topology, section).items():
                path: PathKey = ("topology", section, key)
                try:
                    node = parse_node(key)
                except ValueError as exc:
                    self.err(doc, path, str(exc))
                    continue
                for i, value in enumerate(values):
                    try:
                        other = parse_node(value)
                    except ValueError as exc:
                        self.err(doc, (*path, i), str(exc))
                        continue
                    yield (node, other, path) if child_is_key else (other, node, (*path, i))


def _first_link(loaded: list[tuple[YamlDocument, RuleFileSpec]]) -> tuple[YamlDocument, PathKey]:
    for doc, spec in loaded:
        if spec.topology.from_labels:
            return doc, ("topology", "from_labels")
    return loaded[0][0], ()
