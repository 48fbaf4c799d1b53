"""The typed configuration tree of the daemon's core sections (feature sections live beside their code)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator

from proactived.config.base import ConfigModel, Duration
from proactived.config.secrets import Secret
from proactived.model import Severity
from proactived.sources import SourceList
from proactived.sources.webhooks import WebhooksConfig


class ServerConfig(ConfigModel):
    """The HTTP server: push endpoints, health and metrics."""

    listen: str = "127.0.0.1:9393"
    threads: int = Field(default=8, ge=1, le=64)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_alerts_per_request: int = Field(default=10_000, ge=1)
    auth_token: Secret | None = None

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise ValueError("expected HOST:PORT, e.g. 127.0.0.1:9393")
        return value

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])


class StoreConfig(ConfigModel):
    """Where state lives: SQLite under ``state_dir`` unless a SQLAlchemy URL is given."""

    url: Secret | None = None
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"


class FlappingConfig(ConfigModel):
    """An alert changing state ``threshold`` times within ``window`` is flapping until stable for ``stable_for``."""

    threshold: int = Field(default=4, ge=2)
    window: Duration = timedelta(minutes=15)
    stable_for: Duration = timedelta(minutes=10)


class DedupConfig(ConfigModel):
    """How repeats of one alert fold into one incident."""

    reopen_window: Duration = timedelta(hours=1)
    flapping: FlappingConfig = FlappingConfig()


class LogConfig(ConfigModel):
    """Log level and line format (logfmt ``key=value`` or JSON), written to stderr for journald."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["logfmt", "json"] = "logfmt"


class Config(ConfigModel):
    """The whole daemon configuration."""

    state_dir: str = "/var/lib/proactived"
    store: StoreConfig = StoreConfig()
    server: ServerConfig = ServerConfig()
    dedup: DedupConfig = DedupConfig()
    log: LogConfig = LogConfig()
    severity_map: dict[str, Severity] = Field(default_factory=dict)
    sinks: dict[str, Any] = Field(default_factory=dict)  # typed by proactived.sinks (ticket sinks issue)
    sources: SourceList = Field(default_factory=list)  # polled sources: proactived.sources
    webhooks: WebhooksConfig = WebhooksConfig()  # push endpoints: proactived.sources.webhooks

    def store_url(self) -> str:
        """The SQLAlchemy URL of the store (default: SQLite file under ``state_dir``)."""
        if self.store.url is not None:
            return self.store.url.reveal()
        return f"sqlite:///{self.state_dir}/proactived.db"
