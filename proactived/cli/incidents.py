"""``proactived incidents``: list incidents from the store as a table or JSON."""

from __future__ import annotations

import argparse
import json
from typing import Any

from proactived.cli.common import add_config_option, config_or_exit
from proactived.dedup import Incident
from proactived.store import Store
from proactived.store import incidents as incident_rows


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "incidents", help="list incidents", description="List incidents from the store, newest first."
    )
    add_config_option(parser)
    parser.add_argument("--open", action="store_true", help="only firing incidents")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--limit", type=int, default=1000, help="at most this many (default 1000)")
    parser.set_defaults(handler=handle)


def as_dict(inc: Incident) -> dict[str, Any]:
    return {
        "id": inc.id,
        "fingerprint": inc.fingerprint,
        "name": inc.name,
        "source": inc.source,
        "status": inc.status.value,
        "severity": inc.severity.value,
        "count": inc.count,
        "flapping": inc.flapping,
        "flap_count": inc.flap_count,
        "first_seen": inc.first_seen.isoformat(),
        "last_seen": inc.last_seen.isoformat(),
        "resolved_at": inc.resolved_at.isoformat() if inc.resolved_at else None,
        "labels": dict(inc.labels),
    }


def handle(args: argparse.Namespace) -> int:
    config = config_or_exit(args)
    if config is None:
        return 1
    store = Store(config.store_url())
    try:
        store.upgrade()
        with store.reading() as conn:
            found = incident_rows.list_incidents(conn, open_only=args.open, limit=args.limit)
    finally:
        store.close()
    if args.json:
        print(json.dumps([as_dict(i) for i in found], indent=2))
        return 0
    print(f"{'ID':12} {'STATUS':9} {'SEVERITY':9} {'COUNT':>7} {'FLAPS':>5} {'LAST SEEN':20} NAME")
    for inc in found:
        print(
            f"{inc.id[:12]:12} {inc.status.value:9} {inc.severity.value:9} {inc.count:>7} {inc.flap_count:>5} "
            f"{inc.last_seen:%Y-%m-%d %H:%M:%S}  {inc.name} {_labels(inc)}"
        )
    return 0


def _labels(inc: Incident) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(inc.labels.items()) if k != "alertname")
