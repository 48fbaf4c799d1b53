"""The explicit list of features installed into a runtime, in pipeline order (one line per feature)."""

from __future__ import annotations

from collections.abc import Callable

from proactived import housekeeping
from proactived.http import core_api, status_api
from proactived.maintenance import feature as maintenance
from proactived.reports import schedule as reports
from proactived.rules import stage as correlation
from proactived.runtime import Runtime
from proactived.sinks import stage as ticket_stage
from proactived.sources import poller, webhooks

FEATURES: list[Callable[[Runtime], None]] = [
    core_api.install,
    status_api.install,
    webhooks.install,
    poller.install,
    housekeeping.install,
    maintenance.install,
    correlation.install,
    ticket_stage.install,
    reports.install,
]


def install_all(rt: Runtime) -> None:
    for install in FEATURES:
        install(rt)
