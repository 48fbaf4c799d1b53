"""``GET /api/v1/status``: what ``proactived status`` shows; features add sections through ``rt.status_providers``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import make_url

from proactived import __version__, telemetry
from proactived.errors import StoreError
from proactived.http.wsgi import json_response
from proactived.runtime import Runtime
from proactived.store import incidents as incident_rows
from proactived.store import outbox


def install(rt: Runtime) -> None:
    started = rt.clock.now()
    rt.router.add("GET", "/api/v1/status", lambda req: json_response(200, status(rt, started)))


def status(rt: Runtime, started: datetime) -> dict[str, Any]:
    """The daemon's state in one JSON object; a failing provider shows its error instead of hiding the rest."""
    now = rt.clock.now()
    body: dict[str, Any] = {
        "version": __version__,
        "started_at": started.isoformat(),
        "uptime_seconds": round((now - started).total_seconds()),
        "config_path": str(rt.config_path),
        "last_reload": last_reload(),
        "store": {"dialect": rt.store.dialect, "url": make_url(rt.config.store_url()).render_as_string()},
        "schedule": [
            {"id": job.id, "next_run": job.next_run_time.isoformat() if job.next_run_time else None}
            for job in rt.scheduler.get_jobs()
        ],
    }
    try:
        with rt.store.reading() as conn:
            counts = incident_rows.count_by_status(conn)
            counts["flapping"] = incident_rows.count_flapping(conn)
            stats = outbox.stats(conn)
    except StoreError as exc:
        body["store"].update(reachable=False, error=str(exc))
    else:
        body["store"]["reachable"] = True
        body["incidents"] = counts
        body["outbox"] = {
            "pending": stats.pending,
            "oldest_age_seconds": round((now - stats.oldest).total_seconds(), 1) if stats.oldest else 0.0,
            "failed": stats.failed,
        }
    for name, provider in rt.status_providers.items():
        try:
            body[name] = provider()
        except Exception as exc:  # one broken provider must not hide the rest of the status
            telemetry.loop_error("status " + name, exc)
            body[name] = {"error": str(exc)}
    return body


def last_reload() -> dict[str, Any] | None:
    record = telemetry.LAST_RELOAD
    if record.at is None:
        return None
    at = datetime.fromtimestamp(record.at, UTC).isoformat()
    return {"at": at, "ok": record.ok, "problems": record.problems}
