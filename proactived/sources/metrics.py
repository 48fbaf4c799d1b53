"""Named telemetry of sources: one function per poll or webhook event (a log line and its metric)."""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, Histogram

from proactived import telemetry

POLL_SECONDS = Histogram(
    "proactived_source_poll_seconds",
    "Duration of one poll, by source",
    ["source"],
    registry=None,
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
LAST_SUCCESS = Gauge(
    "proactived_source_last_success_timestamp_seconds",
    "When the source last answered a poll",
    ["source"],
    registry=None,
)
ALERTS_SEEN = Gauge("proactived_source_alerts_seen", "Alerts in the last successful poll", ["source"], registry=None)
ERRORS = Counter("proactived_source_errors", "Failed polls, by source and kind", ["source", "kind"], registry=None)
UP = Gauge("proactived_source_up", "1 if the last poll of the source succeeded", ["source"], registry=None)
WEBHOOKS = Counter(
    "proactived_webhook_requests", "Webhook deliveries, by endpoint and result", ["endpoint", "result"], registry=None
)

# Registered at import, which happens when the config models are imported: before any registry is built.
telemetry.ALL_METRICS.extend([POLL_SECONDS, LAST_SUCCESS, ALERTS_SEEN, ERRORS, UP, WEBHOOKS])


def poll_succeeded(source: str, seconds: float, alerts: int, opened: int, resolved: int, at: float) -> None:
    POLL_SECONDS.labels(source).observe(seconds)
    LAST_SUCCESS.labels(source).set(at)
    ALERTS_SEEN.labels(source).set(alerts)
    UP.labels(source).set(1)
    telemetry.event(
        "source_polled",
        logging.DEBUG,
        source=source,
        alerts=alerts,
        opened=opened,
        resolved=resolved,
        ms=round(seconds * 1000, 1),
    )


def poll_failed(source: str, kind: str, error: str, seconds: float, consecutive: int) -> None:
    POLL_SECONDS.labels(source).observe(seconds)
    ERRORS.labels(source, kind).inc()
    UP.labels(source).set(0)
    telemetry.event(
        "source_poll_failed", logging.WARNING, source=source, kind=kind, consecutive=consecutive, error=error[:500]
    )


def source_unreachable(source: str, failures: int) -> None:
    telemetry.event("source_unreachable", logging.ERROR, source=source, failures=failures)


def source_reachable(source: str) -> None:
    telemetry.event("source_reachable", source=source)


def webhook_received(endpoint: str, alerts: int) -> None:
    WEBHOOKS.labels(endpoint, "accepted").inc()
    telemetry.event("webhook_received", logging.DEBUG, endpoint=endpoint, alerts=alerts)


def webhook_rejected(endpoint: str, reason: str) -> None:
    WEBHOOKS.labels(endpoint, reason).inc()
    telemetry.event("webhook_rejected", logging.WARNING, endpoint=endpoint, reason=reason)
