"""``explain``: what the rules would do with one label set — which rules match, the group key, root cause, ticket."""

from __future__ import annotations

from collections.abc import Mapping

from proactived.durations import format_duration as fmt
from proactived.model import normalise_severity
from proactived.rules.correlate import routes
from proactived.rules.ruleset import DEFAULT_RULE, Rule, RuleSet, group_key, rule_labels


def parse_labels(text: str) -> dict[str, str]:
    """``alertname=HostDown,host=web1`` (values may be quoted) → a label dict; ValueError on bad input."""
    labels: dict[str, str] = {}
    for part in _split(text):
        name, sep, value = part.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"bad label {part!r}: expected name=value")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        labels[name.strip()] = value
    return labels


def _split(text: str) -> list[str]:
    parts, current, quoted = [], "", False
    for char in text.strip().strip("{}"):
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    return [p for p in [*parts, current] if p.strip()]


def explain(rules: RuleSet, labels: Mapping[str, str]) -> list[str]:
    """Readable lines saying what would happen to an alert with ``labels``."""
    severity = normalise_severity(labels.get("severity"))
    labels = rule_labels(labels, labels.get("source", "push"), severity)
    lines = [f"alert {group_key(labels)}"]
    found = routes(rules, labels)
    for rule, key, _values in found:
        lines += _rule_lines(rules, rule, key, labels, severity.value)
    last = found[-1][0]
    if last.continue_:
        lines.append("no later rule matches")
    return lines


def _rule_lines(rules: RuleSet, rule: Rule, key: str, labels: Mapping[str, str], severity: str) -> list[str]:
    by = ", ".join(rule.group_by) or "(nothing: one problem for every matching alert)"
    name = "built-in default rule (no other rule matched)" if rule.name == DEFAULT_RULE else f"rule {rule.name}"
    lines = [
        f"matches {name} at {rule.origin}",
        f"  group key: {key}  (group_by: {by})",
        f"  joins the open problem of that group, or opens one; a new problem waits {fmt(rule.wait)}"
        f" (hold_for {fmt(rule.hold_for)}, window {fmt(rule.window)}) before its ticket opens",
    ]
    obj, ancestors = rules.topology.locate(labels)
    if rule.use_topology and obj is not None:
        ups = ", ".join(f"{k}={v}" for k, v in sorted(ancestors)) or "nothing"
        lines.append(f"  topology: about {obj[0]}={obj[1]}, which depends on {ups}")
        if ancestors:
            lines.append("  a firing alert about any of those in the same problem becomes the root cause")
    for inhibit in rule.inhibit:
        source = ", ".join(map(str, inhibit.source))
        equal = f" with equal {', '.join(inhibit.equal)}" if inhibit.equal else ""
        lines.append(
            f"  inhibit: a firing {{{source}}}{equal} is the root cause of {{{', '.join(map(str, inhibit.target))}}}"
        )
    lines.append(f"  otherwise the root cause is chosen by: {', '.join(rule.fallback)}")
    route = rule.route(normalise_severity(severity))
    if route is None:
        lines.append("  ticket: none (no sink configured); the problem is still recorded")
    else:
        lines.append(
            f"  ticket: sink {route.sink}, project {route.project or '-'},"
            f" priority {route.priority or '(sink default)'}, assignee group {route.assignee_group or '-'}"
        )
        resolve = "resolved" if route.auto_resolve else "left open (auto_resolve: false)"
        lines.append(
            f"  when all its alerts are resolved for {fmt(rule.resolve_hold)} the ticket is {resolve};"
            f" a relapse within {fmt(rule.reopen_window)} reopens it, later a new problem links the old one"
        )
    lines.append(f"  continue: {'yes, later rules are evaluated too' if rule.continue_ else 'no (first match wins)'}")
    return lines
