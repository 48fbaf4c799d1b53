"""Report inputs read from the store: incident history, and the other features' tables when they exist."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import JSON, Column, Connection, MetaData, String, Table, insert, select

from proactived.reports.inputs import incident_spans
from proactived.reports.periods import resolve
from proactived.reports.runner import build
from proactived.store import Store
from proactived.store.schema import UTCDateTime, incidents
from tests.report_data import SERVICES, SHOP_DOWN, fill_november, t

NOW = t("2026-12-01T07:00")
NOVEMBER = resolve("2026-11", NOW)

# The columns the maintenance, jobs, rules and sinks features create (their migrations own the tables).
foreign = MetaData()
planned_downtime = Table(
    "planned_downtime", foreign, Column("matchers", JSON), Column("reason", String(100)),
    Column("started_at", UTCDateTime), Column("planned_end", UTCDateTime), Column("ended_at", UTCDateTime),
)  # fmt: skip
job_runs = Table(
    "job_runs", foreign, Column("job", String(100)), Column("kind", String(16)), Column("status", String(16)),
    Column("started_at", UTCDateTime), Column("finished_at", UTCDateTime),
)  # fmt: skip
tickets = Table("tickets", foreign, Column("problem_id", String(64)), Column("acknowledged_at", UTCDateTime))
members = Table("problem_members", foreign, Column("problem_id", String(32)), Column("incident_id", String(32)))


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


def test_without_the_other_features_the_report_says_what_is_not_recorded(store: Store) -> None:
    report = build(store, SERVICES, NOVEMBER, NOW, "x")
    assert len(report.notes) == 3 and report.jobs == ()


def test_planned_downtime_job_runs_and_acknowledgements_come_from_their_tables(store: Store) -> None:
    fill_november(store)
    with store.transaction() as conn:
        foreign.create_all(conn)
        conn.execute(insert(planned_downtime).values(
            matchers=['host="web1"'], reason="kernel update", started_at=t("2026-11-10T09:30"),
            planned_end=t("2026-11-10T12:00"), ended_at=t("2026-11-10T10:30"),
        ))  # fmt: skip
        base = t("2026-11-02T02:00")
        conn.execute(insert(job_runs), [
            {"job": "backup-db", "kind": "backup", "status": "success", "started_at": base,
             "finished_at": base + timedelta(minutes=10)},
            {"job": "backup-db", "kind": "backup", "status": "fail", "started_at": base + timedelta(days=1),
             "finished_at": base + timedelta(days=1, minutes=30)},
        ])  # fmt: skip
        conn.execute(insert(members).values(problem_id="p1", incident_id=incident_id(conn, "HttpErrors")))
        conn.execute(insert(tickets).values(problem_id="p1", acknowledged_at=t("2026-11-10T10:12")))
    (shop, _mail) = build(store, SERVICES, NOVEMBER, NOW, "x").services
    # HostDown on web1 ran 10:00-11:00 and the window covered it until 10:30 (ended early):
    assert shop.planned == 3600
    assert shop.downtime == SHOP_DOWN - 1800
    assert shop.mtta == 12 * 60  # the outage began 10:00 (HostDown), its ticket was acknowledged 10:12
    report = build(store, SERVICES, NOVEMBER, NOW, "x")
    (backup,) = report.jobs
    assert (backup.runs, backup.succeeded, backup.failed, backup.mean_duration) == (2, 1, 1, 1200.0)
    assert report.notes == ()


def test_mtta_needs_both_tickets_and_problem_members(store: Store) -> None:
    with store.transaction() as conn:
        tickets.create(conn)
    report = build(store, SERVICES, NOVEMBER, NOW, "x")
    assert any("MTTA" in n for n in report.notes)
