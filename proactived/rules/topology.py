"""The dependency map between monitored objects: which object an alert is about, and what it depends on.

An object is a ``label=value`` pair (``host=web1``, ``switch=sw-core-1``). Edges come from the rule files
(``depends_on`` / ``contains``) and from the alert itself (``from_labels``: an alert about ``host=web1`` that
carries ``switch=sw1`` says web1 sits behind sw1). An alert is about the most specific object among its
labels: the one none of its other objects depends on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

Node = tuple[str, str]


def parse_node(text: str) -> Node:
    """``host=web1`` → ("host", "web1"); ValueError on anything else."""
    label, sep, value = text.partition("=")
    label, value = label.strip(), value.strip().strip('"')
    if not sep or not label or not value or not label.replace("_", "a").replace("-", "a").replace(".", "a").isalnum():
        raise ValueError(f"bad object {text!r}: expected label=value, e.g. host=web1")
    return (label, value)


def find_cycle(parents: Mapping[Node, Iterable[Node]]) -> list[Node] | None:
    """A dependency cycle as a list of nodes (first repeated at the end), or None."""
    state: dict[Node, int] = {}
    stack: list[Node] = []

    def visit(node: Node) -> list[Node] | None:
        state[node] = 1
        stack.append(node)
        for parent in parents.get(node, ()):
            if state.get(parent) == 1:
                return [*stack[stack.index(parent) :], parent]
            if parent not in state and (found := visit(parent)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(parents):
        if start not in state and (found := visit(start)):
            return found
    return None


@dataclass(frozen=True)
class Topology:
    """Static edges plus label links; answers "is A's object an ancestor of B's?" quickly (cached)."""

    parents: Mapping[Node, frozenset[Node]] = field(default_factory=dict)
    links: tuple[tuple[str, str], ...] = ()  # (child label, parent label)

    @property
    def kinds(self) -> frozenset[str]:
        """Labels that name objects anywhere in the map."""
        found = {label for node in self.parents for label, _ in (node,)}
        found |= {label for ps in self.parents.values() for label, _ in ps}
        found |= {label for link in self.links for label in link}
        return frozenset(found)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_kinds", self.kinds)
        object.__setattr__(self, "_cached", lru_cache(maxsize=65536)(self._compute))

    def _key(self, labels: Mapping[str, str]) -> tuple[Node, ...]:
        kinds: frozenset[str] = self._kinds  # type: ignore[attr-defined]  # set in __post_init__
        return tuple(sorted((k, v) for k, v in labels.items() if k in kinds and v))

    def _closure(self, start: Node, own: Mapping[str, str]) -> set[Node]:
        seen: set[Node] = set()
        todo = [start]
        while todo:
            node = todo.pop()
            ups = set(self.parents.get(node, ()))
            for child, parent in self.links:
                if node[0] == child and own.get(child) == node[1] and own.get(parent):
                    ups.add((parent, own[parent]))
            for up in ups - seen:
                seen.add(up)
                todo.append(up)
        return seen

    def _compute(self, key: tuple[Node, ...]) -> tuple[Node | None, frozenset[Node]]:
        own = dict(key)
        closures = {node: self._closure(node, own) for node in key}
        for node in key:
            if not any(node in closures[other] for other in key if other != node):
                return node, frozenset(closures[node])
        return None, frozenset()

    def locate(self, labels: Mapping[str, str]) -> tuple[Node | None, frozenset[Node]]:
        """The object an alert is about and every object it depends on."""
        result: tuple[Node | None, frozenset[Node]] = self._cached(self._key(labels))  # type: ignore[attr-defined]
        return result

    def depends(self, child: Mapping[str, str], parent: Mapping[str, str]) -> bool:
        """True when the object of ``parent``'s alert is an ancestor of ``child``'s object."""
        target, _ = self.locate(parent)
        return target is not None and target in self.locate(child)[1]

    def value_of(self, labels: Mapping[str, str], kind: str) -> str:
        """The alert's own ``kind`` label, else the ``kind`` object it depends on (for group_by)."""
        if labels.get(kind):
            return labels[kind]
        for label, value in sorted(self.locate(labels)[1]):
            if label == kind:
                return value
        return ""
