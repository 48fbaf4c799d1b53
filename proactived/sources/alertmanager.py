"""Alertmanager: polls ``GET /api/v2/alerts`` and normalises webhook payloads (``version: "4"``).

Identity is Alertmanager's own ``fingerprint`` (a hash of the label set), prefixed by the source name;
webhooks from Alertmanager older than 0.19 carry none and fall back to the label hash. The v2 API
never lists resolved alerts, so the poller treats an alert missing from a successful poll as resolved.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from proactived.errors import InputError
from proactived.model import Alert, Severity, Status, fingerprint_of, normalise_severity, source_fingerprint
from proactived.sources.base import Collected, HttpPollConfig, Known, Reuse, json_body
from proactived.sources.push import MAX_ANNOTATION, MAX_LABELS, MAX_VALUE, parse_time, string_map

KIND = "alertmanager"
WEBHOOK_VERSION = "4"
_CHANGE_FIELDS = ("labels", "annotations", "startsAt", "generatorURL", "status")


class AlertmanagerConfig(HttpPollConfig):
    """``type: alertmanager``; ``url`` is Alertmanager's base URL."""

    type: Literal["alertmanager"]
    """`alertmanager`."""
    filter: list[str] = Field(default_factory=list)
    """Matchers passed to /api/v2/alerts as `filter`, e.g. team="db"."""
    receiver: str | None = None
    """Only alerts routed to this receiver (a regex, as Alertmanager takes it)."""
    include_suppressed: bool = False
    """Also take silenced/inhibited alerts, marked as in maintenance; by default they are skipped."""


def internal(name: str) -> bool:
    """Grafana's private ``__name__`` labels and annotations."""
    return name.startswith("__") and name.endswith("__") and len(name) > 4


def am_alert(
    item: Any,
    where: str,
    *,
    source: str,
    kind: str,
    now: datetime,
    status: Status,
    severity_table: Mapping[str, Severity] | None,
    strip_internal: bool = False,
    suppressed: str = "",
) -> Alert:
    """One alert object in Alertmanager's shape (API v2 or webhook) → Alert."""
    if not isinstance(item, dict):
        raise InputError(where, "expected an object")
    labels = string_map(item.get("labels"), f"{where}.labels", max_items=MAX_LABELS, max_value=MAX_VALUE, required=True)
    annotations = string_map(
        item.get("annotations"), f"{where}.annotations", max_items=MAX_LABELS, max_value=MAX_ANNOTATION, required=False
    )
    native = item.get("fingerprint")
    if native is not None and (not isinstance(native, str) or not 0 < len(native) <= MAX_VALUE):
        raise InputError(f"{where}.fingerprint", "expected a non-empty string")
    if strip_internal:
        shown = {k: v for k, v in labels.items() if not internal(k)}
        annotations = {k: v for k, v in annotations.items() if not internal(k)}
    else:
        shown = labels
    word = shown.get("severity", "")
    ends_at = parse_time(item.get("endsAt"), f"{where}.endsAt")  # validated always, kept only once resolved
    return Alert(
        source=source,
        source_kind=kind,
        fingerprint=source_fingerprint(source, native) if native else fingerprint_of(source, labels),
        labels=shown,
        annotations=annotations,
        severity=normalise_severity(word, severity_table),
        source_severity=word,
        status=status,
        starts_at=parse_time(item.get("startsAt"), f"{where}.startsAt") or now,
        ends_at=ends_at if status is Status.RESOLVED else None,
        generator_url=_str(item.get("generatorURL")),
        suppressed=suppressed,
        raw=item,
    )


def suppression(item: dict[str, Any], where: str, product: str) -> str:
    """Why the API reports an alert ``suppressed`` ("" when it is active or unprocessed)."""
    status = item.get("status")
    if not isinstance(status, dict) or not isinstance(status.get("state"), str):
        raise InputError(f"{where}.status.state", "expected a string")
    if status["state"] != "suppressed":
        return ""
    parts = [
        f"{verb} by {', '.join(str(x) for x in status[key])}"
        for key, verb in (("silencedBy", "silenced"), ("inhibitedBy", "inhibited"), ("mutedBy", "muted"))
        if isinstance(status.get(key), list) and status[key]
    ]
    return f"{product} {'; '.join(parts) or 'suppressed'}"


def normalise(
    payload: Any,
    source: str,
    now: datetime,
    *,
    include_suppressed: bool = False,
    severity_table: Mapping[str, Severity] | None = None,
    kind: str = KIND,
    strip_internal: bool = False,
    previous: Mapping[str, Known] | None = None,
) -> Collected:
    """A ``/api/v2/alerts`` response → active alerts; suppressed ones are carried or only kept open.

    ``previous`` is the last fetch's ``known``: an alert whose ``change_key`` is unchanged reuses its previous
    result without being validated again (a steady poll of 10,000 alerts costs their decoding and a lookup).
    """
    if not isinstance(payload, list):
        raise InputError("body", "expected a JSON list of alerts")
    previous = previous or {}
    alerts: list[Alert] = []
    keep: set[str] = set()
    known: dict[str, Known] = {}
    for i, item in enumerate(payload):
        if not isinstance(item, dict):
            raise InputError(f"[{i}]", "expected an object")
        native, key = item.get("fingerprint"), change_key(item)
        seen = previous.get(native) if isinstance(native, str) else None
        if seen is None or seen.key != key:
            seen = _known(item, f"[{i}]", key, source, kind, now, include_suppressed, severity_table, strip_internal)
        if isinstance(native, str):
            known[native] = seen
        if seen.kept:
            keep.add(seen.alert.fingerprint)  # silenced is not resolved: leave an open incident open
        else:
            alerts.append(seen.alert)
    return Collected(alerts, frozenset(keep), known)


def change_key(item: dict[str, Any]) -> tuple[Any, ...]:
    """The fields of an API alert that ``normalise`` reads (besides its fingerprint).

    ``endsAt`` and ``updatedAt`` are left out: both move each time Prometheus re-sends a firing alert, and
    an active alert's end is not used. ``status`` holds the state and the silences/inhibitions behind it.
    """
    return tuple(map(item.get, _CHANGE_FIELDS))


def _known(
    item: dict[str, Any],
    where: str,
    key: tuple[Any, ...],
    source: str,
    kind: str,
    now: datetime,
    include_suppressed: bool,
    severity_table: Mapping[str, Severity] | None,
    strip_internal: bool,
) -> Known:
    """Validate and normalise one API alert."""
    reason = suppression(item, where, kind)
    alert = am_alert(
        item,
        where,
        source=source,
        kind=kind,
        now=now,
        status=Status.FIRING,
        severity_table=severity_table,
        strip_internal=strip_internal,
        suppressed=reason,
    )
    return Known(key, alert, bool(reason) and not include_suppressed)


def normalise_webhook(
    payload: Any, source: str, now: datetime, severity_table: Mapping[str, Severity] | None = None
) -> list[Alert]:
    """A webhook notification: every alert of the group, firing and resolved, each by its own status."""
    if not isinstance(payload, dict):
        raise InputError("body", "expected a JSON object")
    if payload.get("version") != WEBHOOK_VERSION:
        raise InputError("version", f"expected webhook payload version {WEBHOOK_VERSION!r}")
    return webhook_alerts(payload, source, KIND, now, severity_table)


def webhook_alerts(
    payload: dict[str, Any],
    source: str,
    kind: str,
    now: datetime,
    severity_table: Mapping[str, Severity] | None,
    strip_internal: bool = False,
) -> list[Alert]:
    """The ``alerts`` list shared by Alertmanager's and Grafana's webhook bodies."""
    items = payload.get("alerts")
    if not isinstance(items, list):
        raise InputError("alerts", "expected a list")
    alerts = []
    for i, item in enumerate(items):
        where = f"alerts[{i}]"
        status = item.get("status") if isinstance(item, dict) else None
        if status not in ("firing", "resolved"):
            raise InputError(f"{where}.status", "expected 'firing' or 'resolved'")
        alerts.append(
            am_alert(
                item,
                where,
                source=source,
                kind=kind,
                now=now,
                status=Status(status),
                severity_table=severity_table,
                strip_internal=strip_internal,
            )
        )
    return alerts


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


class AlertmanagerSource:
    """Fetches ``/api/v2/alerts`` (with the configured ``filter`` matchers and ``receiver``)."""

    def __init__(self, config: AlertmanagerConfig, now: Callable[[], datetime]) -> None:
        self.config = config
        self.now = now
        self.client = config.client()
        self.reuse = Reuse()

    def collect(self, severity_table: Mapping[str, Severity]) -> Collected:
        params: list[tuple[str, str]] = [("active", "true")] + [("filter", m) for m in self.config.filter]
        if self.config.receiver:
            params.append(("receiver", self.config.receiver))
        response = self.client.request("GET", self.config.url + "/api/v2/alerts", params=params)
        collected = normalise(
            json_body(response, "body"),
            self.config.name,
            self.now(),
            include_suppressed=self.config.include_suppressed,
            severity_table=severity_table,
            previous=self.reuse.offer(severity_table),
        )
        return self.reuse.remember(severity_table, collected)

    def close(self) -> None:
        self.client.close()
