"""Report benchmark: one year of history (1,000,000 alert state changes, 500 services) → report time and peak RSS.

Fills a fresh SQLite store (rows written straight into the core tables, as ingest would leave them: one
incident per outage unless it relapses within an hour, then ``reopened``; with the down spans and routes
ingest keeps beside them, ``proactived/store/spans.py``), then runs the full-year report
and a last-month report in a child process so its peak RSS is the report's alone. Targets: < 5 s, < 300 MB.
Usage: ``python bench/report_bench.py [--changes 1000000] [--services 500] [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from proactived.reports import periods
from proactived.reports.config import ServiceConfig
from proactived.reports.runner import build
from proactived.store import Store
from proactived.store.schema import down_spans, incident_history, incidents, report_routes
from proactived.store.spans import route_of

YEAR = datetime(2026, 1, 1, tzinfo=UTC)
ALERTS_PER_SERVICE = 4
NAMES = ("HostDown", "HttpProbeFailed", "DiskFull", "ReplicationLag")


def services(count: int) -> list[ServiceConfig]:
    return [ServiceConfig(name=f"svc-{i}", match=(f'service="svc-{i}"',), target=99.9) for i in range(count)]


def fill(store: Store, changes: int, service_count: int, seed: int = 1) -> int:
    """Write ``changes`` fire/resolve events spread over 2026; returns the number of incidents."""
    rng = random.Random(seed)
    fingerprints = service_count * ALERTS_PER_SERVICE
    per_fp = changes // 2 // fingerprints
    gap = 365 * 86400 / per_fp
    n_incidents = 0
    inc_rows: list[dict[str, object]] = []
    hist_rows: list[dict[str, object]] = []
    span_rows: list[dict[str, object]] = []
    route_rows: list[dict[str, object]] = []
    for fp in range(fingerprints):
        svc, name = fp // ALERTS_PER_SERVICE, NAMES[fp % ALERTS_PER_SERVICE]
        labels = {"alertname": name, "service": f"svc-{svc}", "host": f"h{fp}", "severity": "critical"}
        route, text = route_of(name, "critical", labels)
        route_rows.append({"id": route, "name": name, "severity": "critical", "labels": text})
        at = YEAR + timedelta(seconds=rng.uniform(0, gap))
        current: str | None = None
        resolved_at: datetime | None = None
        for _ in range(per_fp):
            if current is None or resolved_at is None or at - resolved_at > timedelta(hours=1):
                current, event, seq = uuid.uuid4().hex, "opened", 0
                n_incidents += 1
                inc_rows.append(_incident(current, fp, name, labels, at))
            else:
                event = "reopened"
            hist_rows.append({"incident_id": current, "event": event, "status": "firing", "at": at})
            resolved_at = at + timedelta(seconds=rng.uniform(60, 1800))
            hist_rows.append({"incident_id": current, "event": "resolved", "status": "resolved", "at": resolved_at})
            span = {"incident_id": current, "seq": seq, "started": at.timestamp(), "ended": resolved_at.timestamp()}
            span_rows.append({**span, "route_id": route})
            seq += 1
            inc_rows[-1]["resolved_at"] = resolved_at
            at = resolved_at + timedelta(seconds=rng.expovariate(1 / gap))
        if len(hist_rows) > 100_000:
            _flush(store, inc_rows, hist_rows, span_rows, route_rows)
    _flush(store, inc_rows, hist_rows, span_rows, route_rows)
    return n_incidents


def _incident(iid: str, fp: int, name: str, labels: dict[str, str], at: datetime) -> dict[str, object]:
    return {
        "id": iid, "fingerprint": f"bench:{fp}", "active": False, "source": "bench", "source_kind": "push",
        "name": name, "labels": labels, "annotations": {}, "severity": "critical", "source_severity": "critical",
        "status": "resolved", "first_seen": at, "last_seen": at, "starts_at": at, "resolved_at": at, "count": 1,
        "flapping": False, "flap_count": 0, "transitions": [], "generator_url": "", "suppressed": "",
    }  # fmt: skip


def _flush(store: Store, *batches: list[dict[str, object]]) -> None:
    with store.transaction() as conn:
        for table, rows in zip((incidents, incident_history, down_spans, report_routes), batches, strict=True):
            if rows:
                conn.execute(insert(table), rows)
            rows.clear()


def report_only(url: str, service_count: int) -> None:
    """Child process: run the reports and print their timings (RSS is read by the parent)."""
    store = Store(url)
    now = datetime(2027, 1, 2, tzinfo=UTC)
    for label, period in (
        ("year 2026", periods.explicit("2026-01-01", "2027-01-01")),
        ("December 2026", periods.resolve("2026-12", now)),
    ):
        started = time.perf_counter()
        report = build(store, services(service_count), period, now, "bench")
        elapsed = time.perf_counter() - started
        outages = sum(s.problems for s in report.services)
        print(f"report {label:14} {len(report.services)} services, {outages:,} outages: {elapsed:.2f} s")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=1_000_000)
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--keep", help="keep the store in this directory")
    parser.add_argument("--report-only", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.report_only:
        report_only(args.report_only, args.services)
        return
    folder = Path(args.keep or tempfile.mkdtemp(prefix="report-bench-"))
    url = f"sqlite:///{folder}/proactived.db"
    store = Store(url, sqlite_synchronous="NORMAL")
    store.upgrade()
    started = time.perf_counter()
    n = fill(store, args.changes, args.services)
    store.close()
    print(f"filled {args.changes:,} state changes, {n:,} incidents in {time.perf_counter() - started:.1f} s")
    subprocess.run([sys.executable, __file__, "--report-only", url, "--services", str(args.services)], check=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS of the report process: {peak:.0f} MB")


if __name__ == "__main__":
    main()
