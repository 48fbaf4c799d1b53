"""Ticket sinks: one module per service desk, registered by one line each in ``REGISTRY``.

``sinks:`` in the configuration maps a sink name (what a rule's ``ticket.sink`` names) to one of these
configs, chosen by its ``type``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Discriminator, Tag

from proactived.sinks.base import TicketSink
from proactived.sinks.jira import JiraConfig, JiraSink
from proactived.sinks.redmine import RedmineConfig, RedmineSink
from proactived.sinks.webhook import WebhookConfig, WebhookSink

REGISTRY: dict[str, tuple[type[Any], Callable[[str, Any], TicketSink]]] = {
    "redmine": (RedmineConfig, RedmineSink),
    "jira": (JiraConfig, JiraSink),
    "webhook": (WebhookConfig, WebhookSink),
}



def _tag(value: Any) -> str | None:
    """The union member for a sink's ``type`` (bracketed so error paths show only the YAML's own keys)."""
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return f"[{kind}]" if kind in REGISTRY else None


SinkConfig = Annotated[
    Annotated[RedmineConfig, Tag("[redmine]")] | Annotated[JiraConfig, Tag("[jira]")]
    | Annotated[WebhookConfig, Tag("[webhook]")],
    Discriminator(
        _tag, custom_error_type="sink_type", custom_error_message=f"type must be one of: {', '.join(REGISTRY)}"
    ),
]


def build(name: str, config: Any) -> TicketSink:
    """The sink object for one configured sink."""
    return REGISTRY[config.type][1](name, config)
