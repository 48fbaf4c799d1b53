"""``proactived jobs [--json]``: every configured job with its state, last run and next expected check-in."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from typing import Any

from proactived.cli.common import add_config_option, config_or_exit
from proactived.errors import StoreError
from proactived.jobs import tables
from proactived.jobs.api import job_row
from proactived.jobs.config import all_jobs
from proactived.store import Store


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "jobs",
        help="list jobs and their state",
        description="List the configured jobs with their state, last run and next expected run.",
    )
    add_config_option(parser)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    config = config_or_exit(args)
    if config is None:
        return 1
    store = Store(config.store_url())
    try:
        store.upgrade()
        with store.reading() as conn:
            states = tables.load_states(conn)
    except StoreError as exc:
        print(f"cannot read the store: {exc}")
        return 3
    finally:
        store.close()
    now = datetime.now(UTC)  # the CLI edge: the operator's "now"
    rows = [job_row(job, states.get(name), now) for name, job in sorted(all_jobs(config).items())]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'NAME':24} {'KIND':7} {'STATE':8} {'LAST RUN':26} {'NEXT DUE':17} SCHEDULE")
    for row in rows:
        last = "-"
        if row["last_finished_at"]:
            last = f"{row['last_result']} {_short(row['last_finished_at'])}"
            if row["last_exit_status"] not in (None, 0):
                last += f" ({row['last_exit_status']})"
        if row["running_since"]:
            last = f"running {_short(row['running_since'])}"
        due = _short(row["next_due"]) if row["next_due"] else "-"
        print(f"{row['name']:24} {row['kind']:7} {row['state']:8} {last:26} {due:17} {row['schedule']}")
    return 0


def _short(iso: str) -> str:
    return datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%MZ")
