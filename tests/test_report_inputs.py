"""Report inputs read from the store: incident history, and the other features' tables when they exist."""

from __future__ import annotations

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
from proactived.store.schema import incidents
from tests.report_data import SERVICES, SHOP_DOWN, fill_november, t

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
