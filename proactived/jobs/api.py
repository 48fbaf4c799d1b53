"""Check-in endpoints ``POST /api/v1/jobs/<name>/start|success|fail`` and the job listing ``GET /api/v1/jobs``.

A check-in is authorised by the job's own token or the server token (compared in constant time). It takes
``run_id`` and ``exit_status`` from the query string or a JSON body, and a log tail from the JSON ``log`` field
or a plain-text body; only the last ``maintenance.max_log_bytes`` bytes are kept.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from proactived.errors import InputError
from proactived.http.wsgi import Request, Response, bearer_matches, error, json_response
from proactived.jobs import tables
from proactived.jobs.config import JobConfig
from proactived.jobs.service import Jobs
from proactived.jobs.states import Finish, JobState, Signal, due_at, status_of

PREFIX = "/api/v1/jobs"
RUN_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")


def routes_for(jobs: Jobs, names: list[str]) -> dict[tuple[str, str], Any]:
    """The check-in routes of ``names`` (handlers look the job up per request, so a reload can remove it)."""
    found = {}
    for name in names:
        for signal in Signal:
            path = f"{PREFIX}/{name}/{signal.value}"
            found[("POST", path)] = (path, _handler(jobs, name, signal))
    return found


def _handler(jobs: Jobs, name: str, signal: Signal) -> Any:
    return lambda request: checkin(jobs, name, signal, request)


def authorised(jobs: Jobs, job: JobConfig, request: Request) -> bool:
    server = jobs.rt.config.server.auth_token
    tokens = [t.reveal() for t in (job.token, server) if t is not None]
    return not tokens or any(bearer_matches(request, token) for token in tokens)


def checkin(jobs: Jobs, name: str, signal: Signal, request: Request) -> Response:
    job = jobs.jobs().get(name)
    if job is None:
        return error(404, f"no such job: {name}")
    if not authorised(jobs, job, request):
        response = error(401, "missing or wrong bearer token (the job's token or the server's)")
        response.headers["WWW-Authenticate"] = 'Bearer realm="proactived"'
        return response
    run_id, finish = parse_checkin(request, jobs.rt.config.maintenance.max_log_bytes)
    if signal is Signal.SUCCESS and finish.exit_status not in (None, 0):
        raise InputError("exit_status", f"exit status {finish.exit_status} is not a success; send fail")
    result = jobs.check_in(job, signal, run_id, finish)
    return json_response(
        200,
        {"status": "success", "job": result.job, "signal": result.signal.value, "run_id": result.run_id,
         "state": result.status.value},
    )


def parse_checkin(request: Request, max_log: int) -> tuple[str | None, Finish]:
    """(run id, finish details) from the query string and the body; InputError names a bad field."""
    body = request.body()
    data: dict[str, Any] = {}
    log = ""
    if "json" in request.header("content-type") and body.strip():
        try:
            parsed = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise InputError("body", "invalid JSON") from None
        if not isinstance(parsed, dict) or set(parsed) - {"run_id", "exit_status", "log"}:
            raise InputError("body", "expected an object with run_id, exit_status and log")
        data = parsed
        log = data.get("log") or ""
        if not isinstance(log, str):
            raise InputError("log", "expected a string")
    elif body:
        log = body.decode("utf-8", "replace")
    run_id = request.arg("run_id") or data.get("run_id")
    if run_id is not None and (not isinstance(run_id, str) or not RUN_ID.match(run_id)):
        raise InputError("run_id", "use 1 to 100 letters, digits, '.', '_', ':' or '-'")
    raw_status = request.arg("exit_status") or data.get("exit_status")
    exit_status = None
    if raw_status is not None and raw_status != "":
        try:
            exit_status = int(raw_status)
        except (TypeError, ValueError):
            raise InputError("exit_status", "expected an integer") from None
        if not -(2**31) <= exit_status < 2**31:  # the column is a 32-bit integer
            raise InputError("exit_status", "expected an integer between -2147483648 and 2147483647")
    return run_id, Finish(exit_status, tail(log, max_log), run_id)


def tail(text: str, max_bytes: int) -> str:
    """The end of ``text`` within ``max_bytes`` of UTF-8, marked when cut."""
    data = text.encode("utf-8")
    if len(data) <= max_bytes:
        return text
    cut = data[len(data) - max_bytes :].decode("utf-8", "ignore")
    return "[…] " + cut


def job_row(job: JobConfig, state: JobState | None, now: datetime) -> dict[str, Any]:
    """One job as ``proactived jobs --json`` and ``GET /api/v1/jobs`` show it."""
    state = state or JobState(name=job.name, created_at=now)
    due = due_at(job, state)
    return {
        "name": job.name,
        "kind": job.kind,
        "state": status_of(job, state, now).value,
        "schedule": job.describe_schedule(),
        "last_checkin": state.last_checkin.isoformat() if state.last_checkin else None,
        "last_result": state.last_result or None,
        "last_finished_at": state.last_finished_at.isoformat() if state.last_finished_at else None,
        "last_exit_status": state.last_exit_status,
        "running_since": state.run_started_at.isoformat() if state.run_started_at else None,
        "next_due": due.isoformat() if due else None,
        "late_after": (due + job.grace).isoformat() if due else None,
        "labels": dict(job.labels),
    }


def list_jobs(jobs: Jobs) -> Response:
    now = jobs.rt.clock.now()
    with jobs.rt.store.reading() as conn:
        states = tables.load_states(conn)
    return json_response(200, {"jobs": [job_row(j, states.get(n), now) for n, j in sorted(jobs.jobs().items())]})
