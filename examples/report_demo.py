"""Fill a store with a month of realistic incident history for the report example (examples/report-demo.yaml).

Alerts go through the real ingest path (dedup, history, outbox) with a manual clock, so the report reads
exactly what a running daemon would have stored. Usage: ``python examples/report_demo.py [--month 2026-10]``
(default: last month) and then the ``proactived report`` command printed at the end.
"""

from __future__ import annotations

import argparse
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from proactived.clock import ManualClock
from proactived.config.load import load_config
from proactived.ingest import Ingestor
from proactived.model import Alert, Severity, Status, fingerprint_of
from proactived.reports import periods
from proactived.runtime import dedup_settings
from proactived.store import Store

CONFIG = Path(__file__).with_name("report-demo.yaml")
# (service, alert, host, severity, outages in the month, typical minutes)
PLAN = [
    ("shop", "HttpProbeFailed", "web1", Severity.CRITICAL, 3, 9),
    ("shop", "HostDown", "web2", Severity.CRITICAL, 1, 47),
    ("shop", "CheckoutErrorsHigh", "app1", Severity.HIGH, 2, 6),
    ("shop", "CertificateExpiresSoon", "web1", Severity.WARNING, 2, 600),
    ("erp", "PostgresDown", "erpdb1", Severity.CRITICAL, 2, 35),
    ("erp", "SapDialogSlow", "erp1", Severity.HIGH, 3, 12),
    ("mail", "SmtpQueueHigh", "mx1", Severity.HIGH, 2, 4),
    ("vpn", "VpnTunnelDown", "fw1", Severity.CRITICAL, 6, 14),
    ("files", "NasVolumeOffline", "nas1", Severity.CRITICAL, 1, 20),
]


def alert(service: str, name: str, host: str, severity: Severity, status: Status, at: datetime) -> Alert:
    labels = {"alertname": name, "service": service, "host": host, "severity": severity.value}
    return Alert(
        source="prometheus",
        source_kind="push",
        fingerprint=fingerprint_of("prometheus", labels),
        labels=labels,
        annotations={"summary": f"{name} on {host}"},
        severity=severity,
        source_severity=severity.value,
        status=status,
        starts_at=at,
    )


def timeline(period: periods.Period, seed: int) -> list[tuple[datetime, Alert]]:
    rng = random.Random(seed)
    span = (period.end - period.start).total_seconds()
    events: list[tuple[datetime, Alert]] = []
    for service, name, host, severity, count, minutes in PLAN:
        for _ in range(count):
            start = period.start + timedelta(seconds=rng.uniform(0.02, 0.97) * span)
            start = start.replace(microsecond=0)
            length = timedelta(minutes=max(1.0, rng.gauss(minutes, minutes / 3)))
            events.append((start, alert(service, name, host, severity, Status.FIRING, start)))
            events.append((start + length, alert(service, name, host, severity, Status.RESOLVED, start + length)))
    # The VPN tunnel flaps for a quarter of an hour one evening; the ERP database outage drags the app down.
    flap = period.start + timedelta(days=17, hours=19)
    for i in range(8):
        status = Status.FIRING if i % 2 == 0 else Status.RESOLVED
        events.append(
            (
                flap + timedelta(minutes=2 * i),
                alert("vpn", "VpnTunnelDown", "fw2", Severity.CRITICAL, status, flap + timedelta(minutes=2 * i)),
            )
        )
    db = period.start + timedelta(days=9, hours=8, minutes=40)
    while db.astimezone(ZoneInfo(period.time_zone)).weekday() >= 5:  # on a working day, inside ERP hours
        db += timedelta(days=1)
    events.append((db, alert("erp", "PostgresDown", "erpdb1", Severity.CRITICAL, Status.FIRING, db)))
    events.append(
        (
            db + timedelta(minutes=3),
            alert("erp", "SapDialogSlow", "erp1", Severity.HIGH, Status.FIRING, db + timedelta(minutes=3)),
        )
    )
    events.append(
        (
            db + timedelta(minutes=52),
            alert("erp", "PostgresDown", "erpdb1", Severity.CRITICAL, Status.RESOLVED, db + timedelta(minutes=52)),
        )
    )
    events.append(
        (
            db + timedelta(minutes=61),
            alert("erp", "SapDialogSlow", "erp1", Severity.HIGH, Status.RESOLVED, db + timedelta(minutes=61)),
        )
    )
    return sorted(events, key=lambda e: e[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--month", default="last-month", help="YYYY-MM (default: last month)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    config = load_config(CONFIG)
    period = periods.resolve(args.month, datetime.now(UTC), "Europe/Berlin")
    store = Store(config.store_url())
    store.upgrade()
    clock = ManualClock(period.start)
    ingestor = Ingestor(store, clock, lambda: dedup_settings(config))
    events = timeline(period, args.seed)
    for at, item in events:
        clock.set(at)
        ingestor.ingest([item], source="prometheus")
    store.close()
    print(f"{len(events)} alert state changes for {period.label} stored in {config.store_url()}")
    print(f"proactived --config {CONFIG} report --report monthly --period {period.key} --format html --output r.html")


if __name__ == "__main__":
    main()
