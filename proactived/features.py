"""The explicit list of features installed into a runtime, in pipeline order (one line per feature)."""

from __future__ import annotations

from collections.abc import Callable

from proactived import housekeeping
from proactived.http import core_api
from proactived.runtime import Runtime
from proactived.sources import poller, webhooks

FEATURES: list[Callable[[Runtime], None]] = [
    core_api.install,
    webhooks.install,
    poller.install,
    housekeeping.install,
]


def install_all(rt: Runtime) -> None:
    for install in FEATURES:
        install(rt)
