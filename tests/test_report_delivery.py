"""Reports delivered to a real SMTP server (aiosmtpd): MIME structure, numbers, TLS, auth, retries, once only."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from proactived.reports import events, ledger
from proactived.reports.mail import SmtpSender
from proactived.reports.periods import resolve
from proactived.reports.runner import deliver
from proactived.store import Store
from tests.report_data import MAIL_DOWN, NOV_SECONDS, SERVICES, SHOP_DOWN, fill_november, report_config, smtp_config, t
from tests.smtp_server import PASSWORD, USER, Recorder, make_certificate, smtp_server

NOW = t("2026-12-01T07:00")
NOVEMBER = resolve("2026-11", NOW)


@pytest.fixture
def mailbox() -> Iterator[tuple[int, Recorder]]:
    with smtp_server() as server:
        yield server


def no_sleep(_: float) -> None:
    """Backoff delays are recorded by the attempts metric; tests do not wait them out."""


def test_it_mails_the_report_with_text_html_and_csv_parts_and_the_right_numbers(
    store: Store, mailbox: tuple[int, Recorder]
) -> None:
    port, recorder = mailbox
    fill_november(store)
    outcome = deliver(store, report_config(), SERVICES, smtp_config(port), NOVEMBER, NOW)
    assert outcome == "sent"
    (got,) = recorder.received
    msg = got.message
    assert sorted(got.rcpt_tos) == ["boss@example.com", "ops@example.com"]
    assert got.mail_from == "reports@example.com"
    assert msg["Subject"] == "ACME <IT>: availability November 2026 - SLA breached: shop"
    assert msg.get_content_type() == "multipart/mixed"
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    shop_pct = f"{100 * (1 - SHOP_DOWN / NOV_SECONDS):.3f} %"
    assert shop_pct == "99.792 %"
    assert shop_pct in text.get_content() and shop_pct in html.get_content()
    assert "ACME &lt;IT&gt;" in html.get_content() and "ACME <IT>" in text.get_content()
    (attachment,) = list(msg.iter_attachments())
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_filename() == "availability-2026-11.csv"
    rows = {r["service"]: r for r in csv.DictReader(io.StringIO(attachment.get_content()))}
    assert rows["shop"]["downtime_seconds"] == str(SHOP_DOWN) and rows["shop"]["sla_met"] == "no"
    assert rows["shop"]["problems"] == "1" and rows["shop"]["incidents"] == "2"
    assert rows["mail"]["downtime_seconds"] == str(MAIL_DOWN) and rows["mail"]["sla_met"] == "yes"
    assert rows["mail"]["mttr_seconds"] == "600"


def test_it_never_sends_the_same_period_twice(store: Store, mailbox: tuple[int, Recorder]) -> None:
    port, recorder = mailbox
    first = deliver(store, report_config(), SERVICES, smtp_config(port), NOVEMBER, NOW)
    second = deliver(store, report_config(), SERVICES, smtp_config(port), NOVEMBER, NOW + timedelta(hours=1))
    assert (first, second) == ("sent", "already-sent")
    assert len(recorder.received) == 1
    with store.reading() as conn:
        (row,) = ledger.deliveries(conn)
    assert (row.period, row.state, row.attempts) == ("2026-11", "sent", 1)


def test_it_retries_a_temporary_refusal_then_delivers(store: Store, mailbox: tuple[int, Recorder]) -> None:
    port, recorder = mailbox
    recorder.refuse = ["451 4.3.0 try again later"]
    delays: list[float] = []
    sender = SmtpSender(smtp_config(port), sleep=delays.append)
    assert deliver(store, report_config(), SERVICES, smtp_config(port), NOVEMBER, NOW, sender=sender) == "sent"
    assert delays == [1.0] and len(recorder.received) == 1
    with store.reading() as conn:
        assert ledger.deliveries(conn)[0].attempts == 2


def test_a_permanent_refusal_is_not_retried_and_is_surfaced(store: Store, mailbox: tuple[int, Recorder]) -> None:
    port, recorder = mailbox
    recorder.refuse = ["554 5.7.1 relay denied"]
    failed_before = events.REPORTS.labels("monthly", "failed")._value.get()
    sender = SmtpSender(smtp_config(port), sleep=no_sleep)
    assert deliver(store, report_config(), SERVICES, smtp_config(port), NOVEMBER, NOW, sender=sender) == "failed"
    assert events.REPORTS.labels("monthly", "failed")._value.get() == failed_before + 1
    with store.reading() as conn:
        (row,) = ledger.deliveries(conn)
    assert row.state == "failed" and row.last_error is not None and "554" in row.last_error
    # a failed period may be sent later (the hourly retry or the catch-up after a restart)
    assert deliver(store, report_config(), SERVICES, smtp_config(port), NOVEMBER, NOW, sender=sender) == "sent"


def test_an_unreachable_server_is_retried_with_growing_delays_then_failed(store: Store) -> None:
    with smtp_server() as (port, _):
        pass  # the port is now closed
    delays: list[float] = []
    cfg = smtp_config(port, attempts=3)
    outcome = deliver(store, report_config(), SERVICES, cfg, NOVEMBER, NOW, sender=SmtpSender(cfg, delays.append))
    assert outcome == "failed" and delays == [1.0, 2.0]


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_it_sends_over_tls_with_authentication(
    store: Store, tmp_path_factory: pytest.TempPathFactory, security: str
) -> None:
    certs = make_certificate(tmp_path_factory.getbasetemp())
    with smtp_server(security, certs) as (port, recorder):
        cfg = smtp_config(port, security=security, user=USER, password=PASSWORD, ca_file=str(certs[0]))
        assert deliver(store, report_config(), SERVICES, cfg, NOVEMBER, NOW) == "sent"
        (got,) = recorder.received
    assert got.rcpt_tos == ["boss@example.com", "ops@example.com"]


def test_label_values_cannot_inject_headers_or_markup(store: Store, mailbox: tuple[int, Recorder]) -> None:
    port, recorder = mailbox
    from proactived.clock import ManualClock
    from proactived.dedup import DedupSettings
    from proactived.ingest import Ingestor
    from tests.builders import alert

    clock = ManualClock(t("2026-11-03T10:00"))
    Ingestor(store, clock, lambda: DedupSettings()).ingest(
        [alert("<script>alert(1)</script>\r\nBcc: victim@example.com", at=clock.now(), service="shop")]
    )
    cfg = report_config(title="Report\r\nBcc: evil@example.com")
    assert deliver(store, cfg, SERVICES, smtp_config(port), NOVEMBER, NOW) == "sent"
    (got,) = recorder.received
    assert got.message["Bcc"] is None and "evil@example.com" not in got.rcpt_tos
    assert got.message["Subject"].strip().startswith("Report Bcc: evil@example.com: availability")
    html = got.message.get_body(("html",))
    assert html is not None
    assert "<script>" not in html.get_content() and "&lt;script&gt;" in html.get_content()


def test_it_uses_a_template_given_by_path(store: Store, mailbox: tuple[int, Recorder], tmp_path: Path) -> None:
    port, recorder = mailbox
    subject = tmp_path / "subject.j2"
    subject.write_text("{{ report.period.key }} {{ met }}/{{ services | length }} ok\n")
    deliver(store, report_config(templates={"subject": str(subject)}), SERVICES, smtp_config(port), NOVEMBER, NOW)
    assert recorder.received[0].message["Subject"] == "2026-11 2/2 ok"
