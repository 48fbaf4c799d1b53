"""Named telemetry: one function per event, each writing one log line and bumping its metric."""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, PlatformCollector, ProcessCollector

from proactived import __version__
from proactived.config.secrets import redact

log = logging.getLogger("proactived")

ALERTS_RECEIVED = Counter(
    "proactived_alerts_received", "Alerts received, by source and result", ["source", "result"], registry=None
)
INCIDENT_EVENTS = Counter("proactived_incident_events", "Incident lifecycle events", ["event"], registry=None)
INGEST_SECONDS = Histogram(
    "proactived_ingest_batch_seconds",
    "Time to persist one batch of alerts",
    registry=None,
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
HTTP_REQUESTS = Counter("proactived_http_requests", "HTTP requests served", ["route", "code"], registry=None)
STORE_ERRORS = Counter("proactived_store_errors", "Store operations that failed", ["operation"], registry=None)
RELOADS = Counter("proactived_config_reloads", "Configuration reloads, by result", ["result"], registry=None)
RELOAD_TIME = Gauge("proactived_config_last_reload_success_timestamp_seconds", "Last good reload", registry=None)
RELOAD_OK = Gauge("proactived_config_last_reload_successful", "1 if the last reload succeeded", registry=None)
LOOP_ERRORS = Counter("proactived_loop_errors", "Unexpected errors caught at a loop boundary", ["loop"], registry=None)
BUILD = Info("proactived_build", "Build information", registry=None)
BUILD.info({"version": __version__, "python": sys.version.split()[0]})

ALL_METRICS = [
    ALERTS_RECEIVED,
    INCIDENT_EVENTS,
    INGEST_SECONDS,
    HTTP_REQUESTS,
    STORE_ERRORS,
    RELOADS,
    RELOAD_TIME,
    RELOAD_OK,
    LOOP_ERRORS,
    BUILD,
]


@dataclass
class ReloadRecord:
    """The outcome of the last configuration reload, for ``GET /api/v1/status``."""

    at: float | None = None
    ok: bool | None = None
    problems: int = 0


LAST_RELOAD = ReloadRecord()


def new_registry() -> CollectorRegistry:
    """A registry holding every proactived metric plus process_* (memory, CPU, fds, start time)."""
    registry = CollectorRegistry(auto_describe=True)
    for metric in ALL_METRICS:
        registry.register(metric)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    """Log one named event with ``key=value`` fields."""
    log.log(level, name, extra={"fields": fields})


def alerts_received(source: str, result: str, count: int) -> None:
    ALERTS_RECEIVED.labels(source, result).inc(count)
    event("alerts_received", logging.DEBUG, source=source, result=result, count=count)


def batch_ingested(source: str, alerts: int, opened: int, resolved: int, seconds: float) -> None:
    INGEST_SECONDS.observe(seconds)
    event(
        "batch_ingested",
        logging.DEBUG,
        source=source,
        alerts=alerts,
        opened=opened,
        resolved=resolved,
        ms=round(seconds * 1000, 2),
    )


def incident_event(event_name: str, incident_id: str, name: str) -> None:
    INCIDENT_EVENTS.labels(event_name).inc()
    event("incident_" + event_name, incident=incident_id, alert=name)


def http_request(route: str, code: int) -> None:
    HTTP_REQUESTS.labels(route, str(code)).inc()


def store_error(operation: str, error: Exception) -> None:
    STORE_ERRORS.labels(operation).inc()
    event("store_error", logging.ERROR, operation=operation, error=str(error))


def config_reloaded(ok: bool, problems: int = 0) -> None:
    RELOADS.labels("success" if ok else "failure").inc()
    RELOAD_OK.set(1 if ok else 0)
    LAST_RELOAD.at, LAST_RELOAD.ok, LAST_RELOAD.problems = time.time(), ok, problems
    if ok:
        RELOAD_TIME.set(time.time())
        event("config_reloaded")
    else:
        event("config_reload_rejected", logging.ERROR, problems=problems)


def loop_error(loop: str, error: BaseException) -> None:
    LOOP_ERRORS.labels(loop).inc()
    log.error("loop_error", exc_info=error, extra={"fields": {"loop": loop, "error": repr(error)}})


def _quote(value: Any) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' "=\n\t'):
        return json.dumps(text, ensure_ascii=False)
    return text


class LogfmtFormatter(logging.Formatter):
    """``ts=… level=… event=… key=value`` lines with every known secret blanked."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", {})
        parts = [
            f"ts={self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}",
            f"level={record.levelname.lower()}",
            f"event={_quote(record.getMessage())}",
        ]
        parts += [f"{key}={_quote(value)}" for key, value in fields.items()]
        if record.name != "proactived":
            parts.append(f"logger={record.name}")
        if record.exc_info:
            parts.append(f"trace={_quote(self.formatException(record.exc_info))}")
        return redact(" ".join(parts))


class JsonFormatter(logging.Formatter):
    """One JSON object per line, secrets blanked."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {"ts": record.created, "level": record.levelname.lower(), "event": record.getMessage()}
        body.update(
            {k: v if isinstance(v, int | float | bool) else str(v) for k, v in getattr(record, "fields", {}).items()}
        )
        if record.exc_info:
            body["trace"] = self.formatException(record.exc_info)
        return redact(json.dumps(body, ensure_ascii=False))


def setup_logging(level: str, fmt: str) -> None:
    """Send every log line to stderr (journald picks it up) in the configured format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else LogfmtFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("proactived").setLevel(level.upper())
