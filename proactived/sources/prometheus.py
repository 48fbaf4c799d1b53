"""Polls Prometheus ``GET /api/v1/alerts`` and normalises its firing (optionally pending) alerts.

Prometheus gives alerts no id, so the fingerprint is the hash of the source name and the label set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from proactived.errors import InputError
from proactived.model import Alert, Severity, Status, fingerprint_of, normalise_severity
from proactived.sources.base import Collected, HttpPollConfig, Known, Reuse, json_body
from proactived.sources.push import MAX_ANNOTATION, MAX_LABELS, MAX_VALUE, parse_time, string_map

KIND = "prometheus"
_CHANGE_FIELDS = ("labels", "annotations", "state", "activeAt")


class PrometheusConfig(HttpPollConfig):
    """``type: prometheus``; ``url`` is the server's base URL (``/api/v1/alerts`` is appended)."""

    type: Literal["prometheus"]
    """`prometheus`."""
    include_pending: bool = False
    """Also take pending alerts (still inside their `for:` time)."""


def normalise(
    payload: Any,
    source: str,
    now: datetime,
    *,
    include_pending: bool = False,
    severity_table: Mapping[str, Severity] | None = None,
    base_url: str = "",
    previous: Mapping[str, Known] | None = None,
) -> Collected:
    """A ``/api/v1/alerts`` response → alerts that are firing (and pending ones when asked).

    ``previous`` is the last fetch's ``known``, by fingerprint: an alert whose labels, annotations, state and
    ``activeAt`` are unchanged reuses its previous result without being validated again (``value``, the
    latest sample, is not read).
    """
    if not isinstance(payload, dict):
        raise InputError("body", "expected a JSON object")
    if payload.get("status") != "success":
        raise InputError("status", f"Prometheus answered {payload.get('status')!r}: {payload.get('error', '')}")
    data = payload.get("data") or {}
    if not isinstance(data, dict):
        raise InputError("data", "expected an object")
    items = data.get("alerts")
    if not isinstance(items, list):
        raise InputError("data.alerts", "expected a list")
    previous = previous or {}
    wanted = {"firing", "pending"} if include_pending else {"firing"}
    alerts: list[Alert] = []
    known: dict[str, Known] = {}
    for i, item in enumerate(items):
        where = f"data.alerts[{i}]"
        if not isinstance(item, dict):
            raise InputError(where, "expected an object")
        if str(item.get("state")) not in wanted:
            continue
        labels, key = item.get("labels"), tuple(map(item.get, _CHANGE_FIELDS))
        fingerprint = fingerprint_of(source, labels) if previous and isinstance(labels, dict) else ""
        seen = previous.get(fingerprint)
        if seen is None or seen.key != key:
            seen = Known(key, _alert(item, where, source, now, severity_table, base_url), kept=False)
        known[seen.alert.fingerprint] = seen
        alerts.append(seen.alert)
    return Collected(alerts, known=known)


def _alert(
    item: dict[str, Any],
    where: str,
    source: str,
    now: datetime,
    severity_table: Mapping[str, Severity] | None,
    base_url: str,
) -> Alert:
    labels = string_map(item.get("labels"), f"{where}.labels", max_items=MAX_LABELS, max_value=MAX_VALUE, required=True)
    annotations = string_map(
        item.get("annotations"), f"{where}.annotations", max_items=MAX_LABELS, max_value=MAX_ANNOTATION, required=False
    )
    word = labels.get("severity", "")
    return Alert(
        source=source,
        source_kind=KIND,
        fingerprint=fingerprint_of(source, labels),
        labels=labels,
        annotations=annotations,
        severity=normalise_severity(word, severity_table),
        source_severity=word,
        status=Status.FIRING,
        starts_at=parse_time(item.get("activeAt"), f"{where}.activeAt") or now,
        generator_url=f"{base_url}/alerts" if base_url else "",
        raw=item,
    )


class PrometheusSource:
    """Fetches ``/api/v1/alerts`` through the shared HTTP client."""

    def __init__(self, config: PrometheusConfig, now: Callable[[], datetime]) -> None:
        self.config = config
        self.now = now
        self.client = config.client()
        self.reuse = Reuse()

    def collect(self, severity_table: Mapping[str, Severity]) -> Collected:
        response = self.client.request("GET", self.config.url + "/api/v1/alerts")
        collected = normalise(
            json_body(response, "body"),
            self.config.name,
            self.now(),
            include_pending=self.config.include_pending,
            severity_table=severity_table,
            base_url=self.config.url,
            previous=self.reuse.offer(severity_table),
        )
        return self.reuse.remember(severity_table, collected)

    def close(self) -> None:
        self.client.close()
