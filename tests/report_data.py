"""A small, exactly known incident history written through the real ingest path, and report configs for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from proactived.clock import ManualClock
from proactived.dedup import DedupSettings
from proactived.ingest import Ingestor
from proactived.model import Severity, Status
from proactived.reports.config import ReportConfig, ServiceConfig, SmtpConfig
from proactived.store import Store
from tests.builders import alert

NOV_SECONDS = 30 * 86400
SERVICES = (
    ServiceConfig.model_validate({"name": "shop", "match": 'service="shop"', "target": 99.9}),
    ServiceConfig.model_validate({"name": "mail", "match": 'service="mail"', "target": 99.5}),
)
# shop: HostDown 10:00-11:00 on 10 Nov and HttpErrors 10:30-11:30 (overlap: one 90-minute outage);
# mail: two 10-minute outages. Times in UTC.
SHOP_DOWN = 5400
MAIL_DOWN = 1200


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def fill_november(store: Store) -> None:
    """Write the history above through dedup and the store, as the daemon would have."""
    clock = ManualClock(t("2026-11-10T10:00"))
    ingest = Ingestor(store, clock, lambda: DedupSettings(reopen_window=timedelta(minutes=5))).ingest
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("2026-11-10T10:00", "HostDown", {"service": "shop", "host": "web1"}),
        ("2026-11-10T10:30", "HttpErrors", {"severity": Severity.HIGH, "service": "shop", "host": "lb1"}),
        ("2026-11-10T11:00", "HostDown", {"status": Status.RESOLVED, "service": "shop", "host": "web1"}),
        ("2026-11-10T11:30", "HttpErrors", {"status": Status.RESOLVED, "service": "shop", "host": "lb1"}),
        ("2026-11-05T08:00", "SmtpDown", {"service": "mail", "host": "mx1"}),
        ("2026-11-05T08:10", "SmtpDown", {"status": Status.RESOLVED, "service": "mail", "host": "mx1"}),
        ("2026-11-20T08:00", "SmtpDown", {"service": "mail", "host": "mx1"}),
        ("2026-11-20T08:10", "SmtpDown", {"status": Status.RESOLVED, "service": "mail", "host": "mx1"}),
    ]
    for when, name, kw in sorted(steps, key=lambda s: s[0]):
        clock.set(t(when))
        ingest([alert(name, at=t(when), **kw)])


def report_config(**kw: Any) -> ReportConfig:
    data = {"name": "monthly", "title": "ACME <IT>", "schedule": "0 7 1 * *", "time_zone": "UTC",
            "recipients": ["boss@example.com", "ops@example.com"], **kw}  # fmt: skip
    return ReportConfig.model_validate(data)


def smtp_config(port: int, **kw: Any) -> SmtpConfig:
    data = {"host": "127.0.0.1", "port": port, "security": "none", "from": "proactived <reports@example.com>",
            "attempts": 3, "retry_delay": "1s", "timeout": "5s", **kw}  # fmt: skip
    return SmtpConfig.model_validate(data)
