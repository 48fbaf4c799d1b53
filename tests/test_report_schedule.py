"""Scheduled reports: the due period, catch-up once after downtime, no resend, and the daemon wiring."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from proactived.clock import ManualClock
from proactived.config.models import Config
from proactived.errors import ConfigError
from proactived.reports import ledger
from proactived.reports.mail import SmtpSender
from proactived.reports.schedule import ReportScheduler, check, latest_run
from proactived.runtime import Runtime
from proactived.store import Store
from tests.report_data import fill_november, report_config, smtp_config, t
from tests.running import make_config, running_daemon
from tests.smtp_server import smtp_server

SERVICES = [{"name": "shop", "match": 'service="shop"', "target": 99.9}, {"name": "mail", "match": 'service="mail"'}]


def config(tmp_path: Path, port: int, **report: Any) -> Config:
    reports = [report_config(time_zone="Europe/Berlin", **report).model_dump(by_alias=True)]
    smtp = smtp_config(port).model_dump(by_alias=True)
    return make_config(tmp_path, services=SERVICES, reports=reports, smtp=smtp)


def scheduler(store: Store, cfg: Config, clock: ManualClock, port: int) -> ReportScheduler:
    rt = Runtime(config=cfg, config_path=Path("/nonexistent.yaml"), store=store, clock=clock)
    assert cfg.smtp is not None
    return ReportScheduler(rt, sender=SmtpSender(cfg.smtp, sleep=lambda _: None))


def register(store: Store, at: str) -> None:
    with store.transaction() as conn:
        ledger.schedule_marks(conn, "monthly", t(at))


def test_the_latest_cron_time_is_found_in_the_report_time_zone() -> None:
    cfg = report_config(time_zone="Europe/Berlin")
    assert latest_run(cfg, t("2026-10-20T00:00"), t("2026-11-03T00:00")) == t("2026-11-01T06:00")
    assert latest_run(cfg, t("2026-11-02T00:00"), t("2026-11-03T00:00")) is None
    assert latest_run(cfg, t("2025-01-01T00:00"), t("2026-11-03T00:00")) == t("2026-11-01T06:00")
    summer = latest_run(cfg, t("2026-05-20T00:00"), t("2026-06-03T00:00"))
    assert summer == t("2026-06-01T05:00")  # 07:00 CEST


def test_a_new_report_does_not_send_an_old_period_on_first_start(store: Store, tmp_path: Path) -> None:
    with smtp_server() as (port, recorder):
        clock = ManualClock(t("2026-11-15T12:00"))
        assert scheduler(store, config(tmp_path, port), clock, port).run_due("monthly") == "nothing-due"
        assert recorder.received == []


def test_a_run_missed_while_down_is_caught_up_once_after_restart(store: Store, tmp_path: Path) -> None:
    fill_november(store)
    register(store, "2026-11-20T00:00")
    with smtp_server() as (port, recorder):
        clock = ManualClock(t("2026-12-03T09:00"))  # the daemon was down on 1 December 07:00
        first = scheduler(store, config(tmp_path, port), clock, port).catch_up()
        clock.advance(timedelta(hours=1))
        again = scheduler(store, config(tmp_path, port), clock, port).catch_up()  # a second restart
        assert (first, again) == ({"monthly": "sent"}, {"monthly": "already-sent"})
        (got,) = recorder.received
        assert "November 2026" in got.message["Subject"]


def test_after_a_long_outage_only_the_latest_period_is_sent(store: Store, tmp_path: Path) -> None:
    register(store, "2026-09-10T00:00")
    with smtp_server() as (port, recorder):
        clock = ManualClock(t("2026-12-02T00:00"))
        scheduler(store, config(tmp_path, port), clock, port).catch_up()
        assert [r.message["Subject"].split(": ")[1].split(" - ")[0] for r in recorder.received] == [
            "availability November 2026"
        ]


def test_a_failed_send_is_retried_by_the_next_run_and_an_interrupted_one_is_not_resent(
    store: Store, tmp_path: Path
) -> None:
    register(store, "2026-11-20T00:00")
    with smtp_server() as (port, recorder):
        recorder.refuse = ["451 busy"] * 3
        clock = ManualClock(t("2026-12-01T06:00"))
        runner = scheduler(store, config(tmp_path, port), clock, port)
        assert runner.run_due("monthly") == "failed"
        clock.advance(timedelta(hours=1))
        assert runner.run_due("monthly") == "sent"
        with store.transaction() as conn:  # a sender died while mailing December
            assert ledger.claim(conn, "monthly", "2026-12", "other-host", clock.now())
        clock.set(t("2027-01-01T06:30"))
        assert runner.run_due("monthly") == "in-progress"
        assert len(recorder.received) == 1


def test_unknown_services_in_a_report_are_config_errors_with_their_place(tmp_path: Path) -> None:
    path = tmp_path / "proactived.yaml"
    path.write_text(
        "services:\n  - name: shop\n    match: 'service=\"shop\"'\n"
        "reports:\n  - name: monthly\n    services: [shop, erp]\n    recipients: [a@example.com]\n"
        "smtp: {host: 127.0.0.1, from: r@example.com}\n"
    )
    from proactived.config.load import load_config

    with pytest.raises(ConfigError) as caught:
        check(load_config(path), path)
    assert caught.value.problems == [f"{path}:6:22: reports.0.services.1: unknown service 'erp'"]


def test_the_daemon_catches_up_at_start_and_counts_the_delivery(tmp_path: Path) -> None:
    with smtp_server() as (port, recorder):
        cfg = config(tmp_path, port)
        store = Store(cfg.store_url())
        store.upgrade()
        fill_november(store)
        register(store, "2026-11-20T00:00")
        store.close()
        with running_daemon(cfg, clock=ManualClock(t("2026-12-03T09:00"))) as d:
            deadline = time.monotonic() + 10
            while not recorder.received and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(recorder.received) == 1
            metrics = d.get("/metrics").text
            assert 'proactived_reports_total{report="monthly",result="sent"}' in metrics
            assert d.rt.scheduler.get_job("report:monthly") is not None
