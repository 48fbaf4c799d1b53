"""Small builders for canonical alerts in tests."""

from __future__ import annotations

from datetime import datetime

from proactived.model import Alert, Severity, Status, fingerprint_of
from tests.conftest import T0


def alert(
    name: str = "HostDown",
    status: Status = Status.FIRING,
    severity: Severity = Severity.CRITICAL,
    at: datetime = T0,
    source: str = "push",
    **labels: str,
) -> Alert:
    all_labels = {"alertname": name, **labels}
    return Alert(
        source=source,
        source_kind="push",
        fingerprint=fingerprint_of(source, all_labels),
        labels=all_labels,
        annotations={"summary": f"{name} on {labels.get('host', '?')}"},
        severity=severity,
        source_severity=severity.value,
        status=status,
        starts_at=at,
    )
