"""A JSON POST of every ticket action, signed with HMAC-SHA256, for any desk proactived has no module for.

The receiver verifies ``X-Proactived-Signature: sha256=<hex HMAC of the raw body>`` and deduplicates by
``delivery`` (stable across retries): a webhook cannot be searched, so delivery is at least once. If the
receiver answers with ``{"id": …, "url": …}`` the ticket is recorded under that id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Literal

from pydantic import Field

from proactived.config.secrets import Secret
from proactived.http_client import HttpClient, RetryPolicy
from proactived.sinks import events
from proactived.sinks.base import FieldLimits, NewTicket, Note, SinkSettings, TicketRef
from proactived.sinks.render import DIALECTS, Dialect

SIGNATURE_HEADER = "X-Proactived-Signature"


class WebhookConfig(SinkSettings):
    """``type: webhook``."""

    type: Literal["webhook"]
    """`webhook`."""
    url: str
    """Receiver URL; every ticket action is POSTed to it as JSON."""
    secret: Secret | None = None
    """HMAC-SHA256 key signing each body (secret; `secret_file` works too); unsigned when absent."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra request headers, e.g. for a receiver that wants its own auth header."""


class WebhookSink:
    """One receiver URL."""

    limits = FieldLimits(title=1000, body=100_000, note=100_000)

    def __init__(self, name: str, config: WebhookConfig) -> None:
        self.name = name
        self.settings: SinkSettings = config
        self.config = config
        self.dialect: Dialect = DIALECTS["markdown"]
        headers = {"Content-Type": "application/json", **config.headers}
        self.http = HttpClient(timeout=config.timeout.total_seconds(), retry=RetryPolicy(attempts=1), headers=headers)

    def open(self, ticket: NewTicket) -> TicketRef:
        answer = self._post(
            "open",
            ticket.delivery,
            ticket.external_key,
            None,
            {"title": ticket.title, "body": ticket.body, "project": ticket.project, "priority": ticket.priority,
             "assignee": ticket.assignee, "action": ticket.action.to_payload()},
        )
        return TicketRef(str(answer.get("id") or ticket.external_key), str(answer.get("url") or ""))

    def update(self, ref: TicketRef, note: Note) -> None:
        self._note("update", ref, note)

    def resolve(self, ref: TicketRef, note: Note) -> None:
        self._note("resolve", ref, note)

    def reopen(self, ref: TicketRef, note: Note) -> None:
        self._note("reopen", ref, note)

    def _note(self, event: str, ref: TicketRef, note: Note) -> None:
        key = note.action.problem.external_key
        self._post(event, note.delivery, key, ref, {"note": note.text, "action": note.action.to_payload()})

    def _post(
        self, event: str, delivery: str, key: str, ref: TicketRef | None, fields: dict[str, Any]
    ) -> dict[str, Any]:
        ticket = {"id": ref.id, "url": ref.url} if ref else None
        body = json.dumps({"event": event, "delivery": delivery, "external_key": key, "ticket": ticket, **fields})
        headers = {"X-Proactived-Delivery": delivery, "X-Proactived-Event": event}
        if self.config.secret is not None:
            headers[SIGNATURE_HEADER] = "sha256=" + sign(self.config.secret.reveal(), body.encode())
        with events.desk_call(self.name):
            response = self.http.request("POST", self.config.url, data=body.encode(), headers=headers)
        try:
            answer = response.json()
        except ValueError:
            return {}
        return answer if isinstance(answer, dict) else {}


def sign(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``body``: what the receiver recomputes to trust a delivery."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
