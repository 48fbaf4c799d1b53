"""Named telemetry of the ticket stage and the sinks: one function per event, a log line and a metric."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Histogram

from proactived import telemetry

TICKET_ACTIONS = Counter(
    "proactived_ticket_actions", "Ticket actions handled, by sink, kind and result", ["sink", "kind", "result"],
    registry=None,
)
DESK_SECONDS = Histogram(
    "proactived_desk_request_seconds", "Latency of calls to a service desk", ["sink"], registry=None,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SINK_PROBLEMS = Counter(
    "proactived_sink_config_problems", "Problems found in a desk's own configuration at start-up", ["sink"],
    registry=None,
)
telemetry.ALL_METRICS.extend([TICKET_ACTIONS, DESK_SECONDS, SINK_PROBLEMS])  # before the daemon builds its registry


@contextmanager
def desk_call(sink: str) -> Iterator[None]:
    started = time.monotonic()
    try:
        yield
    finally:
        DESK_SECONDS.labels(sink).observe(time.monotonic() - started)


def ticket_action(sink: str, kind: str, result: str, problem: str, ticket: str = "", **fields: object) -> None:
    """An action reached an outcome: done, adopted, skipped, retry, failed."""
    TICKET_ACTIONS.labels(sink, kind, result).inc()
    level = logging.ERROR if result == "failed" else logging.WARNING if result == "retry" else logging.INFO
    telemetry.event("ticket_" + result, level, sink=sink, kind=kind, problem=problem, ticket=ticket, **fields)


def field_dropped(sink: str, field: str, value: str, reason: str) -> None:
    """A ticket was created without one of its fields (unknown priority or assignee): better than no ticket."""
    SINK_PROBLEMS.labels(sink).inc()
    telemetry.event("ticket_field_dropped", logging.WARNING, sink=sink, field=field, value=value, reason=reason)


def search_filter_ignored(sink: str, field: int, hint: str) -> None:
    SINK_PROBLEMS.labels(sink).inc()
    telemetry.event("desk_search_filter_ignored", logging.ERROR, sink=sink, field=field, hint=hint)


def sink_checked(sink: str, problems: list[str]) -> None:
    if not problems:
        telemetry.event("sink_ready", sink=sink)
    for problem in problems:
        SINK_PROBLEMS.labels(sink).inc()
        telemetry.event("sink_config_problem", logging.ERROR, sink=sink, problem=problem)


def sink_check_failed(sink: str, error: Exception) -> None:
    telemetry.event("sink_check_failed", logging.WARNING, sink=sink, error=str(error))


def lease_lost(sink: str, problem: str) -> None:
    telemetry.event("ticket_lease_lost", logging.WARNING, sink=sink, problem=problem)
