"""The registry of polled source types: ``type:`` in a ``sources:`` entry → its config model and source class.

Adding a source type is one module under ``proactived/sources/`` plus one line in ``REGISTRY`` and one
member in ``SourceConfig``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Discriminator, Tag

from proactived.sources import metrics  # noqa: F401  # registers the source metrics
from proactived.sources.alertmanager import AlertmanagerConfig, AlertmanagerSource
from proactived.sources.base import PollConfig, Source
from proactived.sources.grafana import GrafanaConfig, GrafanaSource
from proactived.sources.prometheus import PrometheusConfig, PrometheusSource
from proactived.sources.zabbix import ZabbixConfig, ZabbixSource

REGISTRY: dict[str, Callable[[Any, Callable[[], datetime]], Source]] = {
    "alertmanager": AlertmanagerSource,
    "grafana": GrafanaSource,
    "prometheus": PrometheusSource,
    "zabbix": ZabbixSource,
}


def _type_of(value: Any) -> str | None:
    """The discriminator: which model validates this entry.

    The tag has brackets so config errors leave it out of the key path (``config.load._real_path``).
    """
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return f"type[{kind}]" if kind in REGISTRY else None


def _known_type(value: Any) -> Any:
    """Reject an unknown or missing ``type`` with the list of known ones (before the union is tried)."""
    if isinstance(value, dict) and value.get("type") not in REGISTRY:
        known = ", ".join(sorted(REGISTRY))
        kind = value.get("type")
        raise ValueError(f"unknown source type {kind!r} (known: {known})" if kind else f"type is required ({known})")
    return value


def _unique_names(sources: list[PollConfig]) -> list[PollConfig]:
    seen: set[str] = set()
    for source in sources:
        if source.name in seen:
            raise ValueError(f"two sources are named {source.name!r}")
        seen.add(source.name)
    return sources


SourceConfig = Annotated[
    Annotated[AlertmanagerConfig, Tag("type[alertmanager]")]
    | Annotated[GrafanaConfig, Tag("type[grafana]")]
    | Annotated[PrometheusConfig, Tag("type[prometheus]")]
    | Annotated[ZabbixConfig, Tag("type[zabbix]")],
    Discriminator(_type_of),
    BeforeValidator(_known_type),
]
SourceList = Annotated[list[SourceConfig], AfterValidator(_unique_names)]


def build_source(config: PollConfig, now: Callable[[], datetime]) -> Source:
    """The source object for one validated config entry."""
    return REGISTRY[config.type](config, now)
