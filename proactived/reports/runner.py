"""Making one report end to end: read the store, compute, render, and deliver it at most once per period."""

from __future__ import annotations

import socket
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage

from proactived.errors import ConfigError, TransportError
from proactived.gc_pause import collector_paused
from proactived.reports import events, ledger
from proactived.reports.compute import compute
from proactived.reports.config import ReportConfig, ServiceConfig, SmtpConfig
from proactived.reports.inputs import Inputs, incident_spans
from proactived.reports.mail import SmtpSender, build_message
from proactived.reports.model import Report
from proactived.reports.periods import Period
from proactived.reports.render import render
from proactived.reports.stored import inputs_for
from proactived.store import Store

OWNER = f"{socket.gethostname()}:report"


def pick_services(services: Sequence[ServiceConfig], names: Sequence[str]) -> list[ServiceConfig]:
    """The named services in the given order (all of them when ``names`` is empty)."""
    if not names:
        return list(services)
    by_name = {s.name: s for s in services}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise ConfigError([f"unknown service {n!r} (known: {', '.join(by_name) or 'none'})" for n in unknown])
    return [by_name[n] for n in names]


def build(
    store: Store,
    services: Sequence[ServiceConfig],
    period: Period,
    now: datetime,
    title: str,
    inputs: Inputs | None = None,
) -> Report:
    """Compute the report for ``period`` as known at ``now`` (inputs default to what the store records)."""
    inputs = inputs or inputs_for(store, now)
    until = min(period.end, now)
    windows = inputs.planned.spans(period.start, period.end)
    runs = inputs.jobs.runs(period.start, until)
    acks = inputs.acks.first_acks(period.start, until)
    with store.reading() as conn, collector_paused():
        return compute(
            title, period, now, services, incident_spans(conn, period.start, until, now), windows, runs, acks,
            inputs.notes(),
        )  # fmt: skip


def message_for(report: Report, cfg: ReportConfig, smtp: SmtpConfig) -> EmailMessage:
    """The e-mail of one report: subject, text and HTML bodies from the templates, the CSV attached."""
    overrides = cfg.templates
    return build_message(
        smtp.sender,
        cfg.recipients,
        render("subject", report, overrides),
        render("html", report, overrides),
        render("text", report, overrides),
        [(f"availability-{report.period.key.replace('/', '_').replace(':', '')}.csv", render("csv", report))],
        now=report.generated_at.timestamp(),
    )


def deliver(
    store: Store,
    cfg: ReportConfig,
    services: Sequence[ServiceConfig],
    smtp: SmtpConfig,
    period: Period,
    now: datetime,
    inputs: Inputs | None = None,
    sender: SmtpSender | None = None,
    *,
    force: bool = False,
) -> str:
    """Send ``cfg`` for ``period`` unless it was sent already; returns sent, failed, already-sent or in-progress."""
    with store.transaction() as conn:
        claimed = ledger.claim(conn, cfg.name, period.key, OWNER, now, force=force)
    if not claimed:
        return _not_claimed(store, cfg.name, period.key, now)
    attempts = 0
    try:
        report = build(store, pick_services(services, cfg.services), period, now, cfg.title or cfg.name, inputs)
        msg = message_for(report, cfg, smtp)
        attempts = (sender or SmtpSender(smtp)).send(msg, cfg.name)
    except Exception as exc:  # delivery boundary: whatever broke, the ledger and the metrics must say so
        error = str(exc) if isinstance(exc, TransportError) else f"{type(exc).__name__}: {exc}"
        with store.transaction() as conn:
            ledger.finish(conn, cfg.name, period.key, now, max(attempts, smtp.attempts), len(cfg.recipients), error)
        events.report_failed(cfg.name, period.key, error, smtp.attempts)
        return "failed"
    with store.transaction() as conn:
        ledger.finish(conn, cfg.name, period.key, now, attempts, len(cfg.recipients), None)
    events.report_sent(cfg.name, period.key, len(cfg.recipients), attempts)
    return "sent"


def _not_claimed(store: Store, report: str, period: str, now: datetime) -> str:
    with store.reading() as conn:
        row = next(d for d in ledger.deliveries(conn, report) if d.period == period)
    if row.state == "sent":
        events.report_skipped(report, period, "already-sent")
        return "already-sent"
    events.report_skipped(report, period, "in-progress")
    return "in-progress"
