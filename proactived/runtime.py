"""The running daemon's parts, wired once: config, store, clock, scheduler, router, stages, ingestor."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from proactived.clock import Clock
from proactived.config.models import Config
from proactived.dedup import DedupSettings
from proactived.dispatch import Dispatcher, Stage
from proactived.http.wsgi import Request, Router, bearer_matches
from proactived.ingest import Ingestor
from proactived.store import Store

ReloadHook = Callable[[Config], None]
StatusProvider = Callable[[], Any]
StopHook = Callable[[float], None]
MuteCheck = Callable[[Mapping[str, str], datetime], str]


def never_muted(_labels: Mapping[str, str], _now: datetime) -> str:
    """The default mute check: nothing is in maintenance (the maintenance feature replaces it)."""
    return ""


def _as_is(stage: Stage) -> Stage:
    """The default turn-taking: none (a runtime without the push intake)."""
    return stage


def dedup_settings(config: Config) -> DedupSettings:
    d = config.dedup
    return DedupSettings(d.reopen_window, d.flapping.threshold, d.flapping.window, d.flapping.stable_for)


@dataclass
class Runtime:
    """Everything a feature needs to install itself: add routes, stages, scheduled jobs and reload hooks."""

    config: Config
    config_path: Path
    store: Store
    clock: Clock
    router: Router = field(default_factory=Router)
    dispatcher: Dispatcher = field(default_factory=Dispatcher)
    scheduler: BackgroundScheduler = field(default_factory=lambda: BackgroundScheduler(timezone="UTC"))
    reload_hooks: list[ReloadHook] = field(default_factory=list)
    mute_reason: MuteCheck = never_muted  # labels, now -> reason ("" = not muted); set by maintenance
    status_providers: dict[str, StatusProvider] = field(default_factory=dict)  # name -> JSON for /api/v1/status
    stop_hooks: list[StopHook] = field(default_factory=list)  # run once HTTP is closed, with a time budget (s)
    # a background stage as one that takes turns with accepting pushes; set by the intake (core_api)
    in_turn: Callable[[Stage], Stage] = _as_is
    ingestor: Ingestor = field(init=False)

    def __post_init__(self) -> None:
        self.ingestor = Ingestor(self.store, self.clock, lambda: dedup_settings(self.config))
        self.store.on_commit(self.dispatcher.wake)

    def authorised(self, request: Request) -> bool:
        """Write endpoints: allowed when no token is configured, else only with the bearer token."""
        token = self.config.server.auth_token
        return token is None or bearer_matches(request, token.reveal())

    def apply_config(self, config: Config) -> None:
        """Swap in a validated configuration and let every feature pick up its part."""
        self.config = config
        for hook in self.reload_hooks:
            hook(config)
