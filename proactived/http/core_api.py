"""Core endpoints: push alerts, health, readiness and metrics."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from proactived import telemetry
from proactived.errors import InputError, StoreError
from proactived.http.wsgi import Request, Response, error, json_response
from proactived.intake import QUIET_SECONDS, Intake, read_backlog
from proactived.runtime import Runtime
from proactived.sources.push import KIND, parse_push
from proactived.store import incidents as incident_rows
from proactived.store import outbox

STUCK_OUTBOX = timedelta(minutes=15)
RETRY_AFTER_SECONDS = 5
INTAKE_STAGE = "intake"


def install(rt: Runtime) -> None:
    """Register the core routes, the intake stage and their status on the runtime."""
    intake = Intake(
        rt.store,
        rt.ingestor,
        lambda: rt.config.server.max_queued_alerts,
        lambda: rt.config.severity_map,
    )
    rt.dispatcher.add_stage(INTAKE_STAGE, intake.run_once, interval=QUIET_SECONDS)
    rt.in_turn = intake.in_turn
    rt.status_providers["intake"] = lambda: intake_status(rt, intake)
    rt.stop_hooks.append(intake.drain)
    registry = telemetry.new_registry()
    registry.register(StoreCollector(rt))
    rt.router.add("POST", "/api/v1/alerts", lambda req: post_alerts(rt, intake, req), auth=True)
    rt.router.add("GET", "/healthz", lambda req: json_response(200, {"status": "ok"}))
    rt.router.add("GET", "/readyz", lambda req: readyz(rt))
    rt.router.add("GET", "/metrics", lambda req: metrics(registry))


def post_alerts(rt: Runtime, intake: Intake, request: Request) -> Response:
    """Accept a JSON list of alerts; 200 only once every one of them is durably stored.

    By default the request is stored as received and deduplicated right after by the intake stage;
    ``?wait=true`` deduplicates it before answering and says what it did (opened, resolved, reopened).
    """
    if request.arg("wait").lower() in ("1", "true", "yes"):
        return _post_and_wait(rt, intake, request)
    if intake.full():
        telemetry.alerts_received(KIND, "deferred", batch_size(request.body()))
        response = error(503, "intake backlog full: nothing was accepted, retry later")
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    with _counted_failures(request):
        accepted = intake.accept(request.body(), rt.clock.now(), max_alerts=rt.config.server.max_alerts_per_request)
    telemetry.alerts_received(KIND, "accepted", accepted)
    rt.dispatcher.wake(INTAKE_STAGE)
    return json_response(200, {"status": "success", "accepted": accepted, "queued": accepted})


def _post_and_wait(rt: Runtime, intake: Intake, request: Request) -> Response:
    cfg = rt.config
    with _counted_failures(request):
        alerts = parse_push(
            request.body(),
            rt.clock.now(),
            max_alerts=cfg.server.max_alerts_per_request,
            severity_table=cfg.severity_map,
        )
        summary = intake.ingest_now(alerts)
    return json_response(
        200,
        {
            "status": "success",
            "accepted": summary.accepted,
            "queued": 0,
            "opened": summary.opened,
            "resolved": summary.resolved,
            "reopened": summary.reopened,
        },
    )


@contextmanager
def _counted_failures(request: Request) -> Iterator[None]:
    """Count the request's alerts as rejected (bad input) or failed (store error) when the block raises."""
    try:
        yield
    except InputError:
        telemetry.alerts_received(KIND, "rejected", batch_size(request.body()))
        raise
    except StoreError:
        telemetry.alerts_received(KIND, "failed", batch_size(request.body()))
        raise


def intake_status(rt: Runtime, intake: Intake) -> dict[str, object]:
    """The intake's backlog for ``/api/v1/status``."""
    backlog = intake.backlog()
    age = (rt.clock.now() - backlog.oldest).total_seconds() if backlog.oldest else 0.0
    return {"queued_requests": backlog.requests, "queued_alerts": backlog.alerts, "oldest_age_seconds": round(age, 1)}


def batch_size(body: bytes) -> int:
    """How many alerts a rejected request carried (1 when it is not even a JSON list)."""
    try:
        data = json.loads(body)
    except ValueError:
        return 1
    return len(data) if isinstance(data, list) and data else 1


def readyz(rt: Runtime) -> Response:
    """Ready when the store answers and the outbox is not stuck (a running config is always loaded).

    A rejected reload does not make the daemon unready: it keeps serving with the previous config, which
    ``checks.config`` says.
    """
    rejected = telemetry.LAST_RELOAD.ok is False
    checks: dict[str, str] = {"config": "loaded, last reload rejected" if rejected else "loaded"}
    try:
        with rt.store.reading() as conn:
            stats = outbox.stats(conn)
    except StoreError:
        checks["store"] = "unreachable"
        return json_response(503, {"status": "not ready", "checks": checks})
    checks["store"] = "ok"
    stuck = stats.oldest is not None and rt.clock.now() - stats.oldest > STUCK_OUTBOX
    checks["outbox"] = "stuck" if stuck else "ok"
    body: dict[str, object] = {"status": "not ready" if stuck else "ready", "checks": checks}
    if stats.oldest is not None:
        body["outbox_oldest_age_seconds"] = round((rt.clock.now() - stats.oldest).total_seconds(), 1)
    return json_response(503 if stuck else 200, body)


def metrics(registry: CollectorRegistry) -> Response:
    return Response(200, generate_latest(registry), {"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


class StoreCollector(Collector):
    """Gauges read from the store at scrape time (open incidents, outbox backlog)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def collect(self):  # type: ignore[no-untyped-def]  # prometheus_client's Collector protocol is untyped
        incidents = GaugeMetricFamily("proactived_incidents", "Current incidents by status", labels=["status"])
        depth = GaugeMetricFamily("proactived_outbox_pending", "Pending outbox actions by topic", labels=["topic"])
        oldest = GaugeMetricFamily("proactived_outbox_oldest_age_seconds", "Age of the oldest pending action")
        failed = GaugeMetricFamily("proactived_outbox_failed", "Actions given up after a permanent error")
        flapping = GaugeMetricFamily("proactived_incidents_flapping", "Incidents currently flapping")
        queued = GaugeMetricFamily("proactived_intake_queued_alerts", "Pushed alerts accepted, not yet deduplicated")
        try:
            with self.rt.store.reading() as conn:
                for status, n in incident_rows.count_by_status(conn).items():
                    incidents.add_metric([status], n)
                flapping.add_metric([], incident_rows.count_flapping(conn))
                stats = outbox.stats(conn)
                queued.add_metric([], read_backlog(conn).alerts)
        except Exception:  # a scrape must not fail because the store is briefly away
            return
        for topic, n in stats.pending.items():
            depth.add_metric([topic], n)
        age = (self.rt.clock.now() - stats.oldest).total_seconds() if stats.oldest else 0.0
        oldest.add_metric([], age)
        failed.add_metric([], stats.failed)
        yield from (incidents, flapping, depth, oldest, failed, queued)
