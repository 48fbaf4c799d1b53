"""Benchmark: a storm of alerts from hosts behind switches, ingested while the correlation stage runs.

Run: .venv/bin/python bench/correlation_storm.py [--hosts 2000] [--switches 20] [--per-host 5] [--batch 100]
Prints the ingest rate, how long after the last alert was stored the last one was correlated (lag), and
the problems made. SQLite (synchronous=FULL) in a temporary directory; pass --store URL for PostgreSQL.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from proactived.clock import SystemClock
from proactived.config.models import Config
from proactived.model import Alert, Severity, Status, fingerprint_of
from proactived.rules import store as problem_rows
from proactived.rules.load import load_rules
from proactived.rules.stage import Correlation
from proactived.runtime import Runtime
from proactived.store import Store
from proactived.store.schema import outbox

RULES = """
topology:
  from_labels: [{child: host, parent: switch}]
rules:
  - name: behind-switch
    match: ['switch=~".+"']
    group_by: [switch]
    ticket: {sink: desk}
"""
NAMES = ["HostDown", "PingLoss", "NodeExporterDown", "ServiceDown", "HttpProbeFailed"]


def storm(hosts: int, switches: int, per_host: int) -> list[Alert]:
    now = datetime.now(UTC)
    alerts = []
    for name in NAMES[:per_host]:
        for h in range(hosts):
            labels = {"alertname": name, "host": f"host{h}", "switch": f"sw{h % switches}"}
            alerts.append(
                Alert(
                    "push",
                    "push",
                    fingerprint_of("push", labels),
                    labels,
                    {},
                    Severity.CRITICAL,
                    "critical",
                    Status.FIRING,
                    now,
                )
            )
    return alerts


def pending(store: Store) -> int:
    with store.reading() as conn:
        query = select(func.count()).where(outbox.c.topic == "incident", outbox.c.done_at.is_(None))
        return int(conn.execute(query).scalar() or 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=2000)
    parser.add_argument("--switches", type=int, default=20)
    parser.add_argument("--per-host", type=int, default=5)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--store", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rules_file = Path(tmp) / "rules.yaml"
        rules_file.write_text(RULES)
        store = Store(args.store or f"sqlite:///{tmp}/bench.db")
        store.upgrade()
        rt = Runtime(config=Config(state_dir=tmp), config_path=rules_file, store=store, clock=SystemClock())
        corr = Correlation(rt, load_rules([rules_file], ["desk"]))
        rt.dispatcher.add_stage("correlate", corr.run_once)
        rt.dispatcher.start()
        alerts = storm(args.hosts, args.switches, args.per_host)
        started = time.perf_counter()
        for i in range(0, len(alerts), args.batch):
            rt.ingestor.ingest(alerts[i : i + args.batch])
        stored = time.perf_counter()
        while pending(store):
            time.sleep(0.01)
        done = time.perf_counter()
        rt.dispatcher.stop()
        with store.reading() as conn:
            found = problem_rows.list_problems(conn)
        store.close()
    print(f"alerts            {len(alerts):>10,} from {args.hosts:,} hosts behind {args.switches} switches")
    print(f"ingest            {len(alerts) / (stored - started):>10,.0f} alerts/s ({stored - started:.2f} s)")
    print(f"correlation lag   {done - stored:>10.2f} s after the last alert was stored")
    print(f"problems          {len(found):>10,} (members: {sorted({p.members for p in found})})")


if __name__ == "__main__":
    main()
