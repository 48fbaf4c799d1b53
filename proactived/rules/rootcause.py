"""Root-cause election among a problem's firing incidents: topology and inhibit first, then the fall-backs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from proactived.rules.matchers import matches_all
from proactived.rules.problem import Member
from proactived.rules.ruleset import Rule, RuleSet, labels_of


def rank(rule: Rule, member: Member) -> tuple[Any, ...]:
    """Fall-back order: lower is a better root cause (most severe, then earliest, as the rule lists them)."""
    keys: list[Any] = []
    for name in rule.fallback:
        keys.append(member.severity.rank if name == "severity" else member.incident.first_seen)
    return (*keys, member.incident.first_seen, member.incident.id)


def better(rules: RuleSet, rule: Rule, candidate: Member, current: Member) -> bool:
    """Whether ``candidate`` should replace ``current`` as root cause (incremental, when it joins)."""
    a, b = labels_of(candidate.incident), labels_of(current.incident)
    if rules.causes(rule, a, b):
        return not rules.causes(rule, b, a)
    if rules.causes(rule, b, a):
        return False
    return rank(rule, candidate) < rank(rule, current)


def elect(rules: RuleSet, rule: Rule, firing: Sequence[Member]) -> Member | None:
    """The best root cause: among firing incidents nothing else explains, the best by the fall-backs. O(n)."""
    if not firing:
        return None
    explained = _explained(rules, rule, firing)
    pool = [m for m in firing if m.incident.id not in explained] or list(firing)
    return min(pool, key=lambda m: rank(rule, m))


def _explained(rules: RuleSet, rule: Rule, firing: Sequence[Member]) -> set[str]:
    """Ids of firing incidents that another firing incident causes (topology ancestor or inhibit source)."""
    explained: set[str] = set()
    if rule.use_topology:
        located = {m.incident.id: rules.topology.locate(m.incident.labels) for m in firing}
        present = {obj for obj, _ in located.values() if obj is not None}
        explained |= {iid for iid, (_, ancestors) in located.items() if ancestors & present}
    for inhibit in rule.inhibit:
        sources: dict[tuple[str, ...], set[str]] = {}
        seen = {m.incident.id: labels_of(m.incident) for m in firing}
        for m in firing:
            if matches_all(inhibit.source, seen[m.incident.id]):
                key = tuple(seen[m.incident.id].get(name, "") for name in inhibit.equal)
                sources.setdefault(key, set()).add(m.incident.id)
        for m in firing:
            if matches_all(inhibit.target, seen[m.incident.id]):
                key = tuple(seen[m.incident.id].get(name, "") for name in inhibit.equal)
                if sources.get(key, set()) - {m.incident.id}:
                    explained.add(m.incident.id)
    return explained
