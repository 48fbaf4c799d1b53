"""An NTP step of the wall clock (hours forward, then back before the incidents began) resolves, reopens or
tickets nothing by itself: only alerts do that. The whole runtime (dedup, correlation, maintenance, tickets)
runs on an injected clock; every scheduled job and every stage is run by hand after each jump."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from proactived.clock import ManualClock
from proactived.daemon import build_runtime
from proactived.model import Status
from proactived.runtime import Runtime
from proactived.store import incidents as incident_rows
from proactived.store.schema import outbox
from tests.builders import alert
from tests.process import free_port
from tests.reliability.pipeline import RULES
from tests.running import make_config


def _run_everything(rt: Runtime) -> None:
    """What the daemon's threads would do: every stage until idle, every scheduled job once."""
    for _ in range(3):
        for worker in rt.dispatcher._workers.values():  # the desk's own stage aside: it only reads the outbox
            if worker.name.startswith("tickets"):
                continue
            for _ in range(100):
                if not worker.run_once():
                    break
        for job in rt.scheduler.get_jobs():
            if not job.id.startswith("tickets") and job.id != "sink-checks":
                job.func()


def _snapshot(rt: Runtime) -> tuple[dict[str, str], list[tuple[str, str]]]:
    with rt.store.reading() as conn:
        incidents = {i.labels["host"]: i.status.value for i in incident_rows.list_incidents(conn)}
        query = select(outbox.c.key, outbox.c.event).where(outbox.c.topic == "ticket").order_by(outbox.c.id)
        actions = [(r.key, r.event) for r in conn.execute(query)]
    return incidents, actions


def test_a_clock_step_forward_or_back_changes_nothing_by_itself(tmp_path: Path, clock: ManualClock) -> None:
    rules = tmp_path / "rules.d"
    rules.mkdir()
    (rules / "10.yaml").write_text(RULES)
    desk = {"type": "webhook", "url": f"http://127.0.0.1:{free_port()}/hook"}  # never called: stages skipped
    config = make_config(tmp_path, rules_dir=str(rules), sinks={"desk": desk})
    rt = build_runtime(config, tmp_path / "proactived.yaml", clock)
    try:
        rt.ingestor.ingest([alert("RelDown", at=clock.now(), host=h) for h in ("a", "b", "c")])
        _run_everything(rt)
        clock.advance(timedelta(minutes=2))
        rt.ingestor.ingest([alert("RelDown", status=Status.RESOLVED, at=clock.now(), host="c")])
        _run_everything(rt)
        before = _snapshot(rt)
        assert before[0] == {"a": "firing", "b": "firing", "c": "resolved"}
        assert [e for _, e in before[1]].count("open") == 3 and [e for _, e in before[1]].count("resolve") == 1

        for step in (timedelta(hours=6), -timedelta(hours=12), timedelta(days=400), -timedelta(days=400)):
            clock.advance(step)  # an NTP step: no alert arrives with it
            _run_everything(rt)
            assert _snapshot(rt) == before, f"after a step of {step}"

        rt.ingestor.ingest([alert("RelDown", at=clock.now(), host="a")])  # a repeat while the clock is off
        _run_everything(rt)
        assert _snapshot(rt)[0] == before[0]
    finally:
        rt.store.close()
