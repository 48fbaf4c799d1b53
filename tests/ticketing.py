"""Helpers for ticket tests: problem views and actions, enqueueing them like correlation does, draining the stage."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from proactived.clock import Clock
from proactived.daemon import build_runtime
from proactived.model import Severity
from proactived.runtime import Runtime
from proactived.sinks.stage import TicketStage, build_sinks
from proactived.sinks.tickets import Ticket
from proactived.sinks.tickets import get as get_ticket
from proactived.store import Store, outbox
from proactived.ticket_actions import TOPIC_TICKET, IncidentView, ProblemView, TicketAction, TicketKind, TicketRoute
from tests.conftest import T0
from tests.running import make_config


def incident(name: str, at: datetime = T0, severity: Severity = Severity.CRITICAL, **labels: str) -> IncidentView:
    return IncidentView(
        incident_id=f"i-{name}-{labels.get('host', '')}",
        name=name,
        status="firing",
        severity=severity,
        source="prometheus",
        labels={"alertname": name, **labels},
        annotations={
            "summary": f"{name} on {labels.get('host') or labels.get('switch', '?')}",
            "runbook_url": f"https://runbooks.example.com/{name}",
            "dashboard_url": "https://grafana.example.com/d/net",
        },
        first_seen=at,
        generator_url=f"http://prometheus:9090/graph?g0.expr={name}",
    )


def problem(pid: str, severity: Severity = Severity.CRITICAL, previous: str | None = None, symptoms: int = 2,
            at: datetime = T0) -> ProblemView:  # fmt: skip
    root = incident("SwitchDown", at, switch="sw-core-1", site="fra1")
    members = [incident("HostDown", at + timedelta(seconds=20 + n), Severity.HIGH, host=f"web{n + 1}")
               for n in range(symptoms)]  # fmt: skip
    timeline = [(at, "SwitchDown fired on sw-core-1"), (at + timedelta(seconds=20), f"{symptoms} hosts unreachable")]
    return ProblemView(pid, "network-topology", "site=fra1", "open", severity, at, root, members,
                       {"site": "fra1"}, timeline, previous_problem_id=previous)  # fmt: skip


def action(kind: TicketKind, pid: str, sink: str = "desk", reason: str = "", view: ProblemView | None = None,
           **route: Any) -> TicketAction:  # fmt: skip
    view = view or problem(pid)
    return TicketAction(kind, reason or f"{kind.value} of {pid}", view, TicketRoute(sink, **route))


def enqueue(store: Store, actions: Iterable[TicketAction], now: datetime) -> None:
    with store.transaction() as conn:
        outbox.enqueue_many(
            conn, [(TOPIC_TICKET, a.problem.problem_id, a.kind.value, a.to_payload()) for a in actions], now
        )


@contextmanager
def ticket_runtime(tmp_path: Path, sinks: dict[str, Any], clock: Clock, store_url: str | None = None
                   ) -> Iterator[tuple[Runtime, TicketStage]]:  # fmt: skip
    rt = build_runtime(make_config(tmp_path, store_url, sinks=sinks), Path("/nonexistent.yaml"), clock)
    try:
        yield rt, TicketStage(rt, build_sinks(rt.config))
    finally:
        rt.store.close()


def drain(stage: TicketStage, rounds: int = 1000) -> int:
    """Run the stage until it finds nothing ready; returns how many rows it handled."""
    handled = 0
    for _ in range(rounds):
        n = stage.run_once("test-worker")
        if not n:
            return handled
        handled += n
    raise AssertionError("the ticket stage never went idle")


def ticket(rt: Runtime, pid: str) -> Ticket:
    with rt.store.reading() as conn:
        found = get_ticket(conn, pid)
    assert found is not None, pid
    return found


def outbox_rows(rt: Runtime) -> list[Any]:
    from sqlalchemy import select

    from proactived.store.schema import outbox as table

    with rt.store.reading() as conn:
        return list(conn.execute(select(table).where(table.c.topic == TOPIC_TICKET).order_by(table.c.id)))
