"""Maintenance endpoints: ``POST /api/v1/maintenance`` (create), ``GET`` (list), ``POST …/end`` (end early)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from proactived.durations import parse_duration
from proactived.errors import InputError
from proactived.http.wsgi import Request, Response, error, json_response
from proactived.maintenance.service import Maintenance
from proactived.maintenance.windows import Window, parse_matcher_list
from proactived.sources.push import parse_time

_FIELDS = {"matchers", "starts_at", "ends_at", "duration", "reason", "created_by", "name"}


def _object(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(request.body() or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise InputError("body", "invalid JSON") from None
    if not isinstance(data, dict):
        raise InputError("body", "expected a JSON object")
    return data


def _text(data: dict[str, Any], key: str, limit: int = 1000) -> str:
    value = data.get(key) or ""
    if not isinstance(value, str) or len(value) > limit:
        raise InputError(key, f"expected a string of at most {limit} characters")
    return value


def create(maintenance: Maintenance, request: Request) -> Response:
    data = _object(request)
    unknown = set(data) - _FIELDS
    if unknown:
        raise InputError(sorted(unknown)[0], "unknown field")
    raw = data.get("matchers")
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise InputError("matchers", 'expected a list of matchers such as ["host=db1", "team=\\"dba\\""]')
    try:
        matchers = [str(m) for m in parse_matcher_list(texts)]
    except ValueError as exc:
        raise InputError("matchers", str(exc)) from None
    now = maintenance.rt.clock.now()
    starts = parse_time(data.get("starts_at"), "starts_at") or now
    ends = parse_time(data.get("ends_at"), "ends_at")
    if data.get("duration") is not None:
        if ends is not None:
            raise InputError("duration", "give ends_at or duration, not both")
        try:
            ends = starts + parse_duration(_text(data, "duration", 40))
        except ValueError as exc:
            raise InputError("duration", str(exc)) from None
    if ends is None or ends <= starts or ends <= now:
        raise InputError("ends_at", "needs an end (ends_at or duration) after the start and in the future")
    reason = _text(data, "reason")
    name = _text(data, "name", 200) or reason[:60] or ",".join(matchers)[:200]
    window_id = maintenance.create(matchers, starts, ends, reason, _text(data, "created_by", 200), name)
    return json_response(201, {"status": "success", "id": window_id})


def end(maintenance: Maintenance, request: Request) -> Response:
    data = _object(request)
    window_id = data.get("id", request.arg("id"))
    try:
        number = int(window_id)
    except (TypeError, ValueError):
        raise InputError("id", "expected the window's numeric id") from None
    if not maintenance.end(number):
        return error(404, f"no active or upcoming window {number} (config windows end by editing the config)")
    return json_response(200, {"status": "success", "id": number})


def window_row(window: Window, now: datetime) -> dict[str, Any]:
    return {
        "id": window.key.split(":", 1)[1] if window.origin != "config" else window.name,
        "origin": window.origin,
        "name": window.name,
        "matchers": [str(m) for m in window.matchers],
        "reason": window.reason,
        "starts_at": window.starts_at.isoformat(),
        "ends_at": window.ends_at.isoformat(),
        "active": window.active(now),
    }


def listing(maintenance: Maintenance) -> Response:
    now = maintenance.rt.clock.now()
    rows = [window_row(w, now) for w in sorted(maintenance.windows(now), key=lambda w: w.starts_at)]
    return json_response(200, {"windows": rows})
