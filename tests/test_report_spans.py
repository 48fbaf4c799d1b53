"""Down spans kept at ingest: what a report reads equals what each incident's own history gives, after any batch."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from proactived.clock import ManualClock
from proactived.dedup import DedupSettings
from proactived.ingest import Ingestor
from proactived.model import Alert, Severity, Status
from proactived.store import Store
from proactived.store.incidents import history_of
from proactived.store.schema import down_spans, incidents, report_routes
from proactived.store.spans import route_of, spans_of
from tests.builders import T0, alert

HOSTS = ("web1", "web2", "db1", "lb1")
SEVERITIES = (Severity.CRITICAL, Severity.HIGH, Severity.WARNING)


def stored(store: Store) -> tuple[dict[str, list[tuple[float, float | None, int]]], dict[str, int]]:
    """The spans of each incident (started, ended, route) and the route of each incident's current state."""
    with store.reading() as conn:
        routes = set(conn.execute(select(report_routes.c.id)).scalars())
        spans: dict[str, list[tuple[float, float | None, int]]] = {}
        query = select(down_spans.c.incident_id, down_spans.c.started, down_spans.c.ended, down_spans.c.route_id)
        for iid, started, ended, route in conn.execute(query.order_by(down_spans.c.incident_id, down_spans.c.seq)):
            assert route in routes
            spans.setdefault(iid, []).append((started, ended, route))
        current = {
            row.id: route_of(row.name, row.severity, row.labels)[0]
            for row in conn.execute(select(incidents.c.id, incidents.c.name, incidents.c.severity, incidents.c.labels))
        }
    return spans, current


def expected(store: Store) -> dict[str, list[tuple[float, float | None]]]:
    """Each incident's spans worked out from its whole history, as the report used to read them."""
    found = {}
    with store.reading() as conn:
        for iid, starts_at in conn.execute(select(incidents.c.id, incidents.c.starts_at)):
            history = [(at.timestamp(), event) for event, _, at in history_of(conn, iid)]
            if spans := spans_of(history, starts_at.timestamp()):
                found[iid] = spans
    return found


def random_batch(rng: random.Random, now_offset: timedelta) -> list[Alert]:
    """A few alerts, several of one host at times: fire and resolve, refire, change severity, late start times."""
    batch = []
    for _ in range(rng.randrange(1, 6)):
        host = rng.choice(HOSTS)
        at = T0 + now_offset - timedelta(seconds=rng.choice((0, 0, 30, 600)))  # the source's own start time
        status = rng.choice((Status.FIRING, Status.FIRING, Status.RESOLVED))
        a = alert("HostDown", status, rng.choice(SEVERITIES), at=at, host=host, service="shop")
        if status is Status.RESOLVED and rng.random() < 0.5:
            a = replace(a, ends_at=T0 + now_offset - timedelta(seconds=rng.choice((5, 45))))
        batch.append(a)
    return batch


def test_every_batch_leaves_each_incidents_spans_and_route_as_its_history_and_state_give_them(store: Store) -> None:
    rng = random.Random(20261201)
    clock = ManualClock(T0)
    ingest = Ingestor(store, clock, lambda: DedupSettings(reopen_window=timedelta(minutes=10), flap_threshold=3)).ingest
    offset = timedelta()
    events = {"reopened": 0, "retired": 0}
    for step in range(160):
        offset += timedelta(seconds=rng.choice((5, 60, 240, 900)))
        clock.set(T0 + offset)
        ingest(random_batch(rng, offset))
        if step % 20 == 19:
            spans, current = stored(store)
            assert {iid: [(s, e) for s, e, _ in found] for iid, found in spans.items()} == expected(store)
            for iid, found in spans.items():
                assert {route for _, _, route in found} == {current[iid]}, iid
    with store.reading() as conn:
        history = [event for iid in current for event, _, _ in history_of(conn, iid)]
        events["reopened"] = history.count("reopened")
        events["retired"] = len(current) - len(HOSTS)
        severities = set(conn.execute(select(report_routes.c.severity)).scalars())
    # the generated history went through every path the spans follow
    assert events["reopened"] > 5 and events["retired"] > 5 and history.count("escalated") > 2
    assert severities == {s.value for s in SEVERITIES}
    assert any(e is None for found in spans.values() for _, e, _ in found)  # some still firing


def test_a_fire_and_its_resolve_in_one_batch_close_the_span_they_open(store: Store) -> None:
    clock = ManualClock(T0 + timedelta(minutes=5))
    ingest = Ingestor(store, clock, DedupSettings).ingest
    down = alert("HostDown", at=T0, host="web1")
    ingest([down, replace(down, status=Status.RESOLVED, ends_at=T0 + timedelta(minutes=3))])
    spans, _ = stored(store)
    ((found,),) = spans.values()
    # from the source's start time; the end is when it was last heard firing (now), not its earlier end time
    assert found[:2] == (T0.timestamp(), (T0 + timedelta(minutes=5)).timestamp())
    clock.set(T0 + timedelta(minutes=6))
    ingest([replace(down, starts_at=T0 + timedelta(minutes=6)), replace(down, status=Status.RESOLVED)])
    spans, _ = stored(store)
    ((first, second),) = spans.values()  # reopened and resolved again in one batch: a second span, closed
    assert first[:2] == (T0.timestamp(), (T0 + timedelta(minutes=5)).timestamp())
    assert second[:2] == ((T0 + timedelta(minutes=6)).timestamp(),) * 2
