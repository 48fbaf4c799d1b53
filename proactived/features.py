"""The explicit list of features installed into a runtime, in pipeline order (one line per feature)."""

from __future__ import annotations

from collections.abc import Callable

from proactived import housekeeping
from proactived.http import core_api
from proactived.reports import schedule as reports
from proactived.runtime import Runtime

FEATURES: list[Callable[[Runtime], None]] = [
    core_api.install,
    housekeeping.install,
    reports.install,
]


def install_all(rt: Runtime) -> None:
    for install in FEATURES:
        install(rt)
