"""Named telemetry of reports: one function per event, each a log line and a metric."""

from __future__ import annotations

import logging
import time

from prometheus_client import Counter, Gauge

from proactived import telemetry

REPORTS = Counter("proactived_reports", "Report deliveries, by report and result", ["report", "result"], registry=None)
SEND_ATTEMPTS = Counter(
    "proactived_report_send_attempts", "SMTP attempts made for reports, by result", ["report", "result"], registry=None
)
LAST_SENT = Gauge(
    "proactived_report_last_sent_timestamp_seconds", "When each report was last delivered", ["report"], registry=None
)
# Registered with every daemon's registry (the core builds it from this list at install time).
telemetry.ALL_METRICS.extend([REPORTS, SEND_ATTEMPTS, LAST_SENT])


def send_attempt_failed(report: str, attempt: int, error: str, retry_in: float | None) -> None:
    SEND_ATTEMPTS.labels(report, "error").inc()
    telemetry.event(
        "report_send_attempt_failed", logging.WARNING, report=report, attempt=attempt, error=error, retry_in=retry_in
    )


def report_sent(report: str, period: str, recipients: int, attempts: int) -> None:
    SEND_ATTEMPTS.labels(report, "ok").inc()
    REPORTS.labels(report, "sent").inc()
    LAST_SENT.labels(report).set(time.time())
    telemetry.event("report_sent", report=report, period=period, recipients=recipients, attempts=attempts)


def report_failed(report: str, period: str, error: str, attempts: int) -> None:
    REPORTS.labels(report, "failed").inc()
    telemetry.event("report_send_failed", logging.ERROR, report=report, period=period, error=error, attempts=attempts)


def report_skipped(report: str, period: str, reason: str) -> None:
    REPORTS.labels(report, "skipped").inc()
    if reason == "in-progress":  # another sender holds it, or one died mid-send: the mail may have left
        hint = "if no sender is running, check the mailbox and resend with: proactived report --send --force"
        telemetry.event("report_skipped", logging.WARNING, report=report, period=period, reason=reason, hint=hint)
        return
    telemetry.event("report_skipped", report=report, period=period, reason=reason)
