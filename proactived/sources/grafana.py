"""Grafana unified alerting: polls its embedded Alertmanager API and normalises webhook contact-point payloads.

Grafana's alert instances have Alertmanager's shape and a ``fingerprint`` computed over the full label
set, private ``__…__`` labels included; that fingerprint is the identity, while the private labels and
annotations are dropped from what tickets show.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from proactived.errors import InputError
from proactived.model import Alert, Severity
from proactived.sources import alertmanager
from proactived.sources.base import Collected, HttpPollConfig, Known, Reuse, json_body

KIND = "grafana"
WEBHOOK_VERSION = "1"
SIGNATURE_HEADER = "X-Grafana-Alerting-Signature"


class GrafanaConfig(HttpPollConfig):
    """``type: grafana``; ``url`` is Grafana's base URL, ``bearer_token`` a service-account token."""

    type: Literal["grafana"]
    """`grafana`."""
    alertmanager: str = "grafana"  # "grafana" = the built-in one; else an Alertmanager data source UID
    """`grafana` for the built-in Alertmanager, else the UID of an Alertmanager data source."""
    filter: list[str] = Field(default_factory=list)
    """Matchers passed as `filter`."""
    include_suppressed: bool = False
    """Also take silenced alerts, marked as in maintenance; by default they are skipped."""


def normalise(
    payload: Any,
    source: str,
    now: datetime,
    *,
    include_suppressed: bool = False,
    severity_table: Mapping[str, Severity] | None = None,
    previous: Mapping[str, Known] | None = None,
) -> Collected:
    """``/api/alertmanager/grafana/api/v2/alerts`` → alerts, private labels dropped from display."""
    return alertmanager.normalise(
        payload,
        source,
        now,
        include_suppressed=include_suppressed,
        severity_table=severity_table,
        kind=KIND,
        strip_internal=True,
        previous=previous,
    )


def normalise_webhook(
    payload: Any, source: str, now: datetime, severity_table: Mapping[str, Severity] | None = None
) -> list[Alert]:
    """A webhook contact-point notification (``version: "1"``): each alert by its own status."""
    if not isinstance(payload, dict):
        raise InputError("body", "expected a JSON object")
    if payload.get("version") != WEBHOOK_VERSION:
        raise InputError("version", f"expected webhook payload version {WEBHOOK_VERSION!r}")
    return alertmanager.webhook_alerts(payload, source, KIND, now, severity_table, strip_internal=True)


def signature(secret: str, body: bytes, timestamp: str = "") -> str:
    """What Grafana puts in the signature header: hex HMAC-SHA256 over ``[timestamp ":"] body``."""
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha256)
    if timestamp:
        mac.update(timestamp.encode() + b":")
    mac.update(body)
    return mac.hexdigest()


def signature_matches(secret: str, body: bytes, given: str, timestamp: str = "") -> bool:
    """Constant-time check of a received signature."""
    return hmac.compare_digest(signature(secret, body, timestamp), given.strip().lower())


class GrafanaSource:
    """Fetches the alert instances of Grafana's (or a data source's) Alertmanager."""

    def __init__(self, config: GrafanaConfig, now: Callable[[], datetime]) -> None:
        self.config = config
        self.now = now
        self.client = config.client()
        self.reuse = Reuse()

    def collect(self, severity_table: Mapping[str, Severity]) -> Collected:
        url = f"{self.config.url}/api/alertmanager/{self.config.alertmanager}/api/v2/alerts"
        params = [("active", "true")] + [("filter", m) for m in self.config.filter]
        response = self.client.request("GET", url, params=params)
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
