"""The canonical alert: every source normalises into ``Alert``; nothing downstream sees a vendor payload."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    """Normalised severity scale, most severe first."""

    CRITICAL = "critical"
    HIGH = "high"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for critical … 3 for info, so ``min`` picks the most severe."""
        return _RANK[self]


_RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.WARNING: 2, Severity.INFO: 3}


class Status(StrEnum):
    """Whether an alert is currently firing or has resolved."""

    FIRING = "firing"
    RESOLVED = "resolved"


DEFAULT_SEVERITY_MAP: Mapping[str, Severity] = {
    "critical": Severity.CRITICAL,
    "crit": Severity.CRITICAL,
    "disaster": Severity.CRITICAL,
    "emergency": Severity.CRITICAL,
    "fatal": Severity.CRITICAL,
    "page": Severity.CRITICAL,
    "p1": Severity.CRITICAL,
    "high": Severity.HIGH,
    "error": Severity.HIGH,
    "major": Severity.HIGH,
    "p2": Severity.HIGH,
    "warning": Severity.WARNING,
    "warn": Severity.WARNING,
    "average": Severity.WARNING,
    "minor": Severity.WARNING,
    "p3": Severity.WARNING,
    "info": Severity.INFO,
    "information": Severity.INFO,
    "low": Severity.INFO,
    "not classified": Severity.INFO,
    "none": Severity.INFO,
    "p4": Severity.INFO,
    "p5": Severity.INFO,
}


def normalise_severity(
    value: str | None,
    table: Mapping[str, Severity] | None = None,
    default: Severity = Severity.WARNING,
) -> Severity:
    """Map a source's own severity word onto the canonical scale (case-insensitive)."""
    if not value:
        return default
    key = value.strip().lower()
    if table and key in table:
        return table[key]
    return DEFAULT_SEVERITY_MAP.get(key, default)


# one encoder for every fingerprint: json.dumps with options builds a new one per call (same output)
_CANONICAL = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def fingerprint_of(source: str, labels: Mapping[str, str]) -> str:
    """Stable identity of an alert: a hash of its source and sorted labels, equal across runs and Pythons."""
    canonical = _CANONICAL.encode([source, sorted(labels.items())])
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def source_fingerprint(source: str, native_id: str) -> str:
    """Identity for sources that give their own stable id (Alertmanager fingerprint, Zabbix eventid)."""
    return f"{source}:{native_id}"


@dataclass(frozen=True, slots=True, eq=True)
class Alert:
    """One signal from a source, already normalised."""

    source: str
    source_kind: str
    fingerprint: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    severity: Severity
    source_severity: str
    status: Status
    starts_at: datetime
    ends_at: datetime | None = None
    generator_url: str = ""
    suppressed: str = ""
    raw: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @property
    def name(self) -> str:
        """The alert's name label, or its fingerprint when it has none."""
        return self.labels.get("alertname") or self.labels.get("name") or self.fingerprint

    def __hash__(self) -> int:
        return hash((self.source, self.fingerprint, self.status, self.starts_at))
