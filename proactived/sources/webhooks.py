"""Push: ``POST /api/v1/webhooks/alertmanager`` and ``/api/v1/webhooks/grafana``, each with its own auth.

Every delivery carries the whole group; each alert is applied by its own status, so a partial resolve
resolves only its alerts and a re-delivery changes no incident state. 200 only once stored.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from proactived.config.base import ConfigModel, Duration
from proactived.config.secrets import Secret
from proactived.errors import InputError
from proactived.http.wsgi import Request, Response, bearer_matches, error, json_response
from proactived.model import Alert, Severity
from proactived.sources import alertmanager, grafana, metrics
from proactived.sources.base import HttpAuthConfig, check_name, merged_table

if TYPE_CHECKING:
    from proactived.runtime import Runtime

Normaliser = Callable[[Any, str, datetime, Mapping[str, Severity] | None], list[Alert]]


class WebhookConfig(HttpAuthConfig):
    """One endpoint: its credentials (else ``server.auth_token``), the source name its alerts get."""

    source: str
    """Source name given to pushed alerts (keep it distinct from polled sources)."""
    severity_map: dict[str, Severity] = Field(default_factory=dict)
    """Source severity word → normalised severity, on top of the built-in table."""

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        return check_name(value)

    def check_auth(self, request: Request, fallback: Callable[[Request], bool]) -> bool:
        if self.bearer_token is not None:
            return bearer_matches(request, self.bearer_token.reveal())
        basic = self.basic()
        if basic is not None:
            return basic_matches(request, *basic)
        return fallback(request)


class AlertmanagerWebhookConfig(WebhookConfig):
    source: str = "alertmanager-webhook"
    """Source name given to alerts Alertmanager pushes."""


class GrafanaWebhookConfig(WebhookConfig):
    """Adds the optional HMAC signature Grafana computes with the contact point's secret."""

    source: str = "grafana-webhook"
    """Source name given to alerts Grafana pushes."""
    hmac_secret: Secret | None = None
    """Key of the contact point HMAC signature: unsigned deliveries get 401 (secret; `hmac_secret_file` too)."""
    signature_header: str = grafana.SIGNATURE_HEADER
    """Header carrying the hex HMAC-SHA256 signature."""
    timestamp_header: str | None = None  # set it to what the contact point sends, to refuse replays
    """Header carrying the signed timestamp; set it to refuse replayed deliveries older than `max_age`."""
    max_age: Duration = timedelta(minutes=5)
    """Oldest accepted delivery when `timestamp_header` is set."""


class WebhooksConfig(ConfigModel):
    """The ``webhooks:`` section."""

    alertmanager: AlertmanagerWebhookConfig = AlertmanagerWebhookConfig()
    grafana: GrafanaWebhookConfig = GrafanaWebhookConfig()


def basic_matches(request: Request, username: str, password: str) -> bool:
    """Constant-time check of HTTP basic credentials."""
    scheme, _, value = request.header("authorization").partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        user, sep, given = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    user_ok = hmac.compare_digest(user.encode(), username.encode())
    password_ok = hmac.compare_digest(given.encode(), password.encode())
    return bool(sep) and user_ok and password_ok


def signature_problem(cfg: GrafanaWebhookConfig, request: Request, body: bytes, now: datetime) -> str:
    """Why a Grafana delivery's signature is refused ("" when none is configured or it matches)."""
    if cfg.hmac_secret is None:
        return ""
    timestamp = ""
    if cfg.timestamp_header:
        timestamp = request.header(cfg.timestamp_header)
        if not timestamp.isdigit():
            return f"missing or malformed {cfg.timestamp_header} header"
        if abs(now.timestamp() - int(timestamp)) > cfg.max_age.total_seconds():
            return "timestamp outside the allowed window (replayed or clock skew)"
    given = request.header(cfg.signature_header)
    if not given or not grafana.signature_matches(cfg.hmac_secret.reveal(), body, given, timestamp):
        return f"missing or wrong {cfg.signature_header} signature"
    return ""


def unauthorised(message: str) -> Response:
    response = error(401, message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="proactived", Basic realm="proactived"'
    return response


def receive(rt: Runtime, request: Request, endpoint: str, cfg: WebhookConfig, normalise: Normaliser) -> Response:
    """Authenticate, verify, parse, store: the whole delivery or nothing."""
    if not cfg.check_auth(request, rt.authorised):
        metrics.webhook_rejected(endpoint, "unauthorised")
        return unauthorised("missing or wrong credentials")
    body = request.body()
    now = rt.clock.now()
    if isinstance(cfg, GrafanaWebhookConfig) and (problem := signature_problem(cfg, request, body, now)):
        metrics.webhook_rejected(endpoint, "bad_signature")
        return unauthorised(problem)
    try:
        alerts = normalise(_json(body), cfg.source, now, merged_table(rt.config.severity_map, cfg.severity_map))
        if len(alerts) > rt.config.server.max_alerts_per_request:
            raise InputError("alerts", f"too many alerts ({len(alerts)} > {rt.config.server.max_alerts_per_request})")
    except InputError:
        metrics.webhook_rejected(endpoint, "invalid")
        raise
    summary = rt.ingestor.ingest(alerts, source=cfg.source)
    metrics.webhook_received(endpoint, len(alerts))
    body_out = {"status": "success", "accepted": summary.accepted, "opened": summary.opened}
    return json_response(200, body_out | {"resolved": summary.resolved, "reopened": summary.reopened})


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError("body", f"invalid JSON: {exc}") from None


def install(rt: Runtime) -> None:
    """Register both endpoints; they read their config per request, so a reload applies at once.

    ``auth=False`` on the router because each endpoint checks its own credentials (``receive``),
    falling back to ``server.auth_token``; no request reaches the store without that check.
    """
    rt.router.add(
        "POST",
        "/api/v1/webhooks/alertmanager",
        lambda req: receive(rt, req, "alertmanager", rt.config.webhooks.alertmanager, alertmanager.normalise_webhook),
    )
    rt.router.add(
        "POST",
        "/api/v1/webhooks/grafana",
        lambda req: receive(rt, req, "grafana", rt.config.webhooks.grafana, grafana.normalise_webhook),
    )
