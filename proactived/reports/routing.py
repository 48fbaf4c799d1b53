"""Which services an alert belongs to, fast: equality matchers are indexed so 500 services cost a few lookups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from proactived.reports.config import ServiceConfig
from proactived.rules.matchers import Matcher, MatchType, matches_all


class ServiceIndex:
    """Finds the services whose matchers (and severities) accept a label set; answers are cached per label set."""

    def __init__(self, services: Sequence[ServiceConfig]) -> None:
        self._matchers: list[list[Matcher]] = [s.matchers() for s in services]
        self._severities = [frozenset(s.severities) if s.severities else None for s in services]
        self._by_pair: dict[tuple[str, str], list[int]] = {}
        self._always: list[int] = []
        for k, matchers in enumerate(self._matchers):
            key = next((m for m in matchers if m.type is MatchType.EQUAL and m.value), None)
            if key is None:
                self._always.append(k)
            else:
                self._by_pair.setdefault((key.name, key.value), []).append(k)
        self._cache: dict[frozenset[tuple[str, str]], tuple[int, ...]] = {}
        # The store hands out one dict per label set: remember answers by identity, holding the dict so
        # its id cannot be reused while cached.
        self._by_identity: dict[int, tuple[Mapping[str, str], tuple[int, ...]]] = {}

    def services_for(self, labels: Mapping[str, str], severity: str) -> list[int]:
        """Indexes of the services ``labels`` with ``severity`` count against."""
        known = self._by_identity.get(id(labels))
        if known is not None and known[0] is labels:
            found = known[1]
        else:
            found = self._lookup(labels)
            self._by_identity[id(labels)] = (labels, found)
        return [k for k in found if _accepts(self._severities[k], severity)]

    def _lookup(self, labels: Mapping[str, str]) -> tuple[int, ...]:
        key = frozenset(labels.items())
        found = self._cache.get(key)
        if found is None:
            candidates = [k for pair in key for k in self._by_pair.get(pair, ())] + self._always
            found = tuple(sorted(k for k in set(candidates) if matches_all(self._matchers[k], labels)))
            self._cache[key] = found
        return found


def _accepts(allowed: frozenset[str] | None, severity: str) -> bool:
    return allowed is None or severity in allowed
