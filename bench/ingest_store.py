"""Benchmark: ingest throughput of the store path (parse + dedup + durable SQLite write), next to its floor.

Run: .venv/bin/python bench/ingest_store.py [--alerts 100000] [--distinct 10000] [--batch 1000] [--runs 3]
Prints alerts/s for the full path (JSON body → parse_push → Ingestor.ingest on SQLite, synchronous=FULL)
and for the floor (json.loads + fingerprint hashing only). No network: this isolates the pipeline cost.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from proactived.clock import SystemClock
from proactived.dedup import DedupSettings
from proactived.ingest import Ingestor
from proactived.model import fingerprint_of
from proactived.sources.push import parse_push
from proactived.store import Store


def bodies(total: int, distinct: int, batch: int) -> list[bytes]:
    alerts = [
        {
            "labels": {"alertname": "HostDown", "host": f"host{i % distinct}", "severity": "critical"},
            "annotations": {"summary": "host is down"},
        }
        for i in range(total)
    ]
    return [json.dumps(alerts[i : i + batch]).encode() for i in range(0, total, batch)]


def run_pipeline(payloads: list[bytes]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        store.upgrade()
        clock = SystemClock()
        ingestor = Ingestor(store, clock, DedupSettings)
        started = time.perf_counter()
        for body in payloads:
            ingestor.ingest(parse_push(body, clock.now(), max_alerts=100_000))
        elapsed = time.perf_counter() - started
        store.close()
    return elapsed


def run_floor(payloads: list[bytes]) -> float:
    started = time.perf_counter()
    for body in payloads:
        for item in json.loads(body):
            fingerprint_of("push", item["labels"])
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--distinct", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    payloads = bodies(args.alerts, args.distinct, args.batch)
    for name, fn in (("pipeline (parse+dedup+SQLite)", run_pipeline), ("floor (json+fingerprint)", run_floor)):
        rates = [args.alerts / fn(payloads) for _ in range(args.runs)]
        print(
            f"{name:32} median {statistics.median(rates):>10,.0f} alerts/s  "
            f"(min {min(rates):,.0f}, max {max(rates):,.0f}, {args.runs} runs)"
        )


if __name__ == "__main__":
    main()
