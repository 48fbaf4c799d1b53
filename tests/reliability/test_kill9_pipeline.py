"""kill -9 the real daemon at 50 random moments while alerts stream in and tickets flow to a local Jira; then
grep everything the run produced (logs, desk requests, metrics, status) for the configured secrets."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from proactived.store import Store
from proactived.store.schema import incidents, outbox
from tests.desks.jira import FakeJira, running_jira
from tests.process import DaemonProcess
from tests.reliability.pipeline import SECRETS, pipeline_yaml, push_until_acked, rel_alert, wait_for
from tests.running import TOKEN

KILLS = 50
HOSTS = 40


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with running_jira("cloud") as fake:
        yield fake


def _pending(store: Store) -> int:
    with store.reading() as conn:
        return int(conn.execute(select(func.count()).where(outbox.c.done_at.is_(None))).scalar() or 0)


def test_50_kills_lose_no_acknowledged_alert_and_leave_one_resolved_ticket_per_problem(
    tmp_path: Path, jira: FakeJira
) -> None:
    rng = random.Random(20261123)
    daemon = DaemonProcess(tmp_path, pipeline_yaml(tmp_path, jira))
    hosts = [f"db{n:02d}" for n in range(HOSTS)]
    plan = [(h, "firing") for h in hosts] + [(h, "resolved") for h in hosts]
    rng.shuffle(plan)
    plan.sort(key=lambda e: e[1] == "resolved" and hosts.index(e[0]) < HOSTS // 2)  # half resolve late
    acked: list[tuple[str, str]] = []
    retries = 0
    done = threading.Event()

    def stream() -> None:
        nonlocal retries
        fired: set[str] = set()
        deadline = time.monotonic() + 240
        for host, status in plan:
            if status == "resolved" and host not in fired:  # a resolve only after its firing was acknowledged
                continue
            retries += push_until_acked(daemon, [rel_alert(host, status)], deadline) - 1
            acked.append((host, status))
            fired.add(host)
            time.sleep(rng.uniform(0.0, 0.08))
        for host, status in plan:  # resolves skipped above: send them now
            if status == "resolved" and (host, status) not in acked:
                push_until_acked(daemon, [rel_alert(host, status)], deadline)
                acked.append((host, status))
        done.set()

    daemon.start()
    client = threading.Thread(target=stream, daemon=True)
    client.start()
    kills = 0
    try:
        while kills < KILLS:
            time.sleep(rng.uniform(0.05, 0.6))  # a random moment: mid-push, mid-correlation or mid-ticket
            daemon.kill9()
            kills += 1
            daemon.start()
        client.join(240)
        assert done.is_set(), "the alert stream did not finish"
        store = Store(f"sqlite:///{tmp_path}/state/proactived.db")
        try:
            wait_for(lambda: _pending(store) == 0 and _all_resolved(jira, hosts), 120, "the desk to catch up")
            with store.reading() as conn:
                rows = conn.execute(select(incidents.c.labels, incidents.c.status)).all()
        finally:
            store.close()
        metrics = requests.get(daemon.url + "/metrics", timeout=5).text
        status = requests.get(daemon.url + "/api/v1/status", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    finally:
        daemon.stop()

    stored = {}
    for labels, state in rows:
        host = (labels if isinstance(labels, dict) else json.loads(labels))["host"]
        assert host not in stored, f"{host}: two incidents for one alert"
        stored[host] = state
    assert sorted(stored) == hosts  # every acknowledged alert is in the store
    assert set(stored.values()) == {"resolved"}  # and so is every acknowledged resolve
    by_host = {h: [i for i in jira.issues.values() if i.fields["summary"] == f"{h} is down"] for h in hosts}
    assert {h: len(v) for h, v in by_host.items()} == dict.fromkeys(hosts, 1)  # one ticket per problem
    assert {i.status for v in by_host.values() for i in v} == {"Done"}  # every resolve reached the desk
    log = daemon.log()
    assert "ticket_failed" not in log
    print(
        f"\n{kills} kills, {len(acked)} acknowledged pushes, {retries} re-sends after a refused or cut push, "
        f"{len(jira.requests)} desk requests, {log.count('event=ticket_adopted')} creates adopted after a crash"
    )

    # secrets: nowhere in what the run produced (the desk's Authorization header is the one place they belong)
    desk_traffic = json.dumps(jira.requests, default=str)
    for secret in SECRETS:
        for name, text in (
            ("log", log),
            ("desk requests", desk_traffic),
            ("metrics", metrics),
            ("status", status.text),
        ):
            assert secret not in text, f"a configured secret appears in the {name}"


def _all_resolved(jira: FakeJira, hosts: list[str]) -> bool:
    summaries = {i.fields["summary"]: i.status for i in list(jira.issues.values())}
    return all(summaries.get(f"{h} is down") == "Done" for h in hosts)
