"""kill -9 the real daemon at random moments while 200 problems open and resolve in a real Redmine."""

from __future__ import annotations

import random
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from sqlalchemy import func, select

from proactived.store import Store
from proactived.store.schema import outbox
from proactived.ticket_actions import TicketKind
from tests.conftest import T0
from tests.process import DaemonProcess
from tests.ticketing import action, enqueue

if TYPE_CHECKING:
    from tests.peers.redmine import RedmineServer

pytest_plugins = ["tests.peers.redmine"]
PROBLEMS = 200


def _sinks_yaml(rm: RedmineServer) -> str:
    return (
        f"sinks:\n  ops:\n    type: redmine\n    url: {rm.url}\n    api_key: {rm.bot_api_key}\n"
        f"    project: {rm.project}\n    tracker: Incident\n    external_key_field: {rm.external_id_cf}\n"
        "    timeout: 3s\n    backoff: 1s\n    max_backoff: 5s\n"
    )


def _issues(rm: RedmineServer, run: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        params: dict[str, Any] = {f"cf_{rm.external_id_cf}": f"~{run}", "status_id": "*", "limit": 100,
                                  "offset": len(found)}  # fmt: skip
        page = requests.get(f"{rm.url}/issues.json", headers=rm.headers(), params=params, timeout=30).json()
        found += page["issues"]
        if len(found) >= page["total_count"]:
            return found


def _pending(store: Store) -> int:
    with store.reading() as conn:
        return int(conn.execute(select(func.count()).where(outbox.c.done_at.is_(None))).scalar() or 0)


def test_kill_9_at_random_moments_leaves_exactly_one_resolved_ticket_per_problem(
    tmp_path: Path, redmine_server: RedmineServer
) -> None:
    rm, rng, run = redmine_server, random.Random(20261102), uuid.uuid4().hex[:8]
    ids = [f"{run}x{n:03d}" for n in range(PROBLEMS)]
    daemon = DaemonProcess(tmp_path, _sinks_yaml(rm))
    daemon.start()
    store = Store(f"sqlite:///{tmp_path}/state/proactived.db")
    waves = [
        [action(TicketKind.OPEN, p, sink="ops") for p in ids[:100]],
        [action(TicketKind.RESOLVE, p, sink="ops") for p in ids[:100]]
        + [action(TicketKind.OPEN, p, sink="ops") for p in ids[100:]],
        [action(TicketKind.RESOLVE, p, sink="ops") for p in ids[100:]],
    ]
    kills = 0
    try:
        for wave in waves:
            enqueue(store, wave, T0)
            for _ in range(2):
                time.sleep(rng.uniform(0.5, 2.5))  # a random moment in the middle of the work
                daemon.kill9()
                kills += 1
                daemon.start()
        deadline = time.monotonic() + 240
        while _pending(store) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _pending(store) == 0, daemon.log()[-3000:]
    finally:
        daemon.stop()
        store.close()
    issues = _issues(rm, run)
    keys = sorted(next(cf["value"] for cf in i["custom_fields"] if cf["id"] == rm.external_id_cf) for i in issues)
    assert keys == sorted(f"proactived-{p}" for p in ids)  # exactly one issue per problem
    assert {i["status"]["name"] for i in issues} == {"Resolved"}  # every resolve applied
    log = daemon.log()
    assert kills == 6 and "ticket_failed" not in log
    done, adopted = log.count("event=ticket_done"), log.count("event=ticket_adopted")
    print(f"\n{kills} kills: {done} actions done, {adopted} creates adopted after a crash")
