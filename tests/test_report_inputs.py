"""Report inputs read from the store: incident history, and the other features' tables when they exist."""

from __future__ import annotations

import gc
import random
from datetime import timedelta

from sqlalchemy import Connection, insert, select

from proactived.jobs.tables import job_runs
from proactived.maintenance.tables import planned_downtime
from proactived.reports.inputs import incident_spans
from proactived.reports.periods import resolve
from proactived.reports.runner import build
from proactived.rules.store import problem_members as members
from proactived.sinks.tickets import tickets
from proactived.store import Store
from proactived.store.incidents import history_of
from proactived.store.schema import incident_history, incidents
from proactived.store.spans import spans_of
from tests.report_data import SERVICES, SHOP_DOWN, fill_november, t
from tests.test_store_migrations import alembic_upgrade

NOW = t("2026-12-01T07:00")
NOVEMBER = resolve("2026-11", NOW)


def incident_id(conn: Connection, name: str) -> str:
    return str(conn.execute(select(incidents.c.id).where(incidents.c.name == name)).scalar_one())


def test_history_read_from_the_store_gives_each_incidents_intervals(store: Store) -> None:
    fill_november(store)
    with store.reading() as conn:
        found = sorted((s.down, s.name) for s in incident_spans(conn, NOVEMBER.start, NOVEMBER.end, NOW))
    ten, eight = t("2026-11-10T10:00").timestamp(), t("2026-11-05T08:00").timestamp()
    fortnight = 15 * 86400
    assert found == [
        (((eight, eight + 600),), "SmtpDown"),
        (((ten, ten + 3600),), "HostDown"),
        (((ten + 1800, ten + 5400),), "HttpErrors"),
        (((eight + fortnight, eight + fortnight + 600),), "SmtpDown"),
    ]


def test_empty_feature_tables_give_no_jobs_no_planned_downtime_and_no_mtta(store: Store) -> None:
    fill_november(store)
    report = build(store, SERVICES, NOVEMBER, NOW, "x")
    assert report.jobs == ()
    assert all(svc.planned == 0 and svc.mtta is None for svc in report.services)


def test_planned_downtime_job_runs_and_acknowledgements_come_from_their_tables(store: Store) -> None:
    fill_november(store)
    with store.transaction() as conn:
        conn.execute(insert(planned_downtime).values(
            window_key="api:1", origin="api", name="kernel", matchers=['host="web1"'], reason="kernel update",
            started_at=t("2026-11-10T09:30"), planned_end=t("2026-11-10T12:00"), ended_at=t("2026-11-10T10:30"),
        ))  # fmt: skip
        base = t("2026-11-02T02:00")
        conn.execute(insert(job_runs), [
            {"job": "backup-db", "kind": "backup", "run_id": "r1", "status": "success", "started_at": base,
             "finished_at": base + timedelta(minutes=10), "log_tail": ""},
            {"job": "backup-db", "kind": "backup", "run_id": "r2", "status": "fail",
             "started_at": base + timedelta(days=1), "finished_at": base + timedelta(days=1, minutes=30),
             "log_tail": "exit 3"},
        ])  # fmt: skip
        conn.execute(insert(members).values(
            problem_id="p1", incident_id=incident_id(conn, "HttpErrors"), status="resolved", severity="high",
            muted_by="", joined_at=t("2026-11-10T10:30"),
        ))  # fmt: skip
        conn.execute(insert(tickets).values(
            problem_id="p1", sink="desk", external_key="proactived-p1", url="", state="resolved", desk_status="",
            last_action="resolve", last_action_at=t("2026-11-10T12:00"), acknowledged_at=t("2026-11-10T10:12"),
            title="", body="",
        ))  # fmt: skip
    (shop, _mail) = build(store, SERVICES, NOVEMBER, NOW, "x").services
    # HostDown on web1 ran 10:00-11:00 and the window covered it until 10:30 (ended early):
    assert shop.planned == 3600
    assert shop.downtime == SHOP_DOWN - 1800
    assert shop.mtta == 12 * 60  # the outage began 10:00 (HostDown), its ticket was acknowledged 10:12
    report = build(store, SERVICES, NOVEMBER, NOW, "x")
    (backup,) = report.jobs
    assert (backup.runs, backup.succeeded, backup.failed, backup.mean_duration) == (2, 1, 1, 1200.0)
    assert report.notes == ()


def test_an_older_stores_history_becomes_spans_that_give_each_incident_in_the_period_its_own_intervals(
    store_url: str,
) -> None:
    """Migration 0009 works out the spans of incidents stored before it from their history (generated here),
    and the report reads each incident's in-period intervals from them, grouped right whatever the ids' order."""
    store = Store(store_url)
    with store.engine.begin() as conn:
        alembic_upgrade(conn, "0008_history_spans")
    rng = random.Random(7)
    events = ("opened", "reopened", "resolved", "resolved", "escalated", "flapping")
    base = t("2026-10-20T00:00")
    with store.engine.begin() as conn:
        for n in range(120):
            first = base + timedelta(minutes=rng.randrange(0, 60 * 24 * 50))  # 20 Oct to 9 Dec
            times = sorted(first + timedelta(minutes=rng.randrange(0, 60 * 24 * 5)) for _ in range(rng.randrange(1, 7)))
            kinds = ["opened", *(rng.choice(events) for _ in times[1:])]
            resolved = times[-1] if kinds[-1] == "resolved" else None
            iid = f"{rng.choice('aZ_-')}{rng.getrandbits(64):016x}{n:04d}"  # sorts differently by byte and by locale
            labels = {"alertname": f"A{n % 5}", "service": f"s{n % 3}"}
            conn.execute(insert(incidents).values(
                id=iid, fingerprint=f"f{n % 9}", active=False, source="gen", source_kind="push", name=f"A{n % 5}",
                labels=labels, annotations={}, severity=("critical", "high")[n % 2], source_severity="critical",
                status="resolved" if resolved else "firing", first_seen=first, last_seen=times[-1],
                starts_at=first - timedelta(seconds=rng.choice((0, 0, 90))), resolved_at=resolved, count=1,
                flapping=False, flap_count=0, transitions=[], generator_url="", suppressed="",
            ))  # fmt: skip
            status = {"resolved": "resolved"}
            conn.execute(insert(incident_history), [
                {"incident_id": iid, "event": kind, "status": status.get(kind, "firing"), "at": at}
                for kind, at in zip(kinds, times, strict=True)
            ])  # fmt: skip
    try:
        store.upgrade()
        start, end, now = NOVEMBER.start.timestamp(), NOVEMBER.end.timestamp(), NOW.timestamp()
        with store.reading() as conn:
            found = {  # sorted: two spans of an incident may start together
                s.incident_id: (s.name, dict(s.labels), s.severity, tuple(sorted(s.down)))
                for s in incident_spans(conn, NOVEMBER.start, NOVEMBER.end, NOW)
            }
            expected = {}
            for row in conn.execute(select(incidents)):
                history = [(at.timestamp(), event) for event, _, at in history_of(conn, row.id)]
                spans = [(s, now if e is None else e) for s, e in spans_of(history, row.starts_at.timestamp())]
                down = tuple(sorted((s, e) for s, e in spans if s < end and e >= start and s < now))
                if down:
                    expected[row.id] = (row.name, row.labels, row.severity, down)
    finally:
        store.close()
    assert 20 < len(found) < 120  # some incidents lie outside the period
    assert any(len(down) > 1 for *_, down in found.values())
    assert found == expected


def test_a_report_leaves_the_garbage_collector_as_it_found_it(store: Store) -> None:
    fill_november(store)
    assert gc.isenabled()
    build(store, SERVICES, NOVEMBER, NOW, "x")
    assert gc.isenabled()
    gc.disable()
    try:
        build(store, SERVICES, NOVEMBER, NOW, "x")
        assert not gc.isenabled()
    finally:
        gc.enable()
