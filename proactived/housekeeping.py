"""Periodic upkeep: settle flapping incidents, purge finished outbox rows."""

from __future__ import annotations

from datetime import timedelta

from proactived import telemetry
from proactived.runtime import Runtime
from proactived.store import outbox

KEEP_DONE = timedelta(days=7)


def install(rt: Runtime) -> None:
    rt.scheduler.add_job(
        lambda: _guard("flapping", rt.ingestor.tick),
        "interval",
        seconds=10,
        id="flapping-tick",
        max_instances=1,
        coalesce=True,
    )
    rt.scheduler.add_job(
        lambda: _guard("outbox-purge", lambda: purge(rt)),
        "interval",
        hours=1,
        id="outbox-purge",
        max_instances=1,
        coalesce=True,
    )


def purge(rt: Runtime) -> int:
    with rt.store.transaction() as conn:
        return outbox.purge_done(conn, rt.clock.now() - KEEP_DONE)


def _guard(name: str, job: object) -> None:
    try:
        job()  # type: ignore[operator]
    except Exception as exc:  # scheduler boundary: log and try again next round
        telemetry.loop_error(name, exc)
