"""The typed configuration tree of the daemon's core sections (feature sections live beside their code)."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator

from proactived.config.base import ConfigModel, Duration
from proactived.config.secrets import Secret
from proactived.jobs.config import JobsDir, UniqueJobs
from proactived.maintenance.windows import MaintenanceConfig
from proactived.model import Severity
from proactived.reports.config import ReportConfig, ServiceConfig, SmtpConfig
from proactived.sinks import SinkConfig
from proactived.sources import SourceList
from proactived.sources.webhooks import WebhooksConfig


class ServerConfig(ConfigModel):
    """The HTTP server: push endpoints, health and metrics."""

    listen: str = "127.0.0.1:9393"
    """HOST:PORT the HTTP server listens on (push API, /healthz, /readyz, /metrics, /api/v1/status)."""
    threads: int = Field(default=8, ge=1, le=64)
    """HTTP worker threads."""
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    """Larger request bodies are answered 413."""
    max_alerts_per_request: int = Field(default=10_000, ge=1)
    """More alerts in one push are answered 400."""
    max_queued_alerts: int = Field(default=500_000, ge=1)
    """Bound of pushed alerts accepted but not yet deduplicated; past it pushes are answered 503 (retry)."""
    auth_token: Secret | None = None
    """Bearer token required on write endpoints; without it they are open (a warning is logged at start)."""
    protect_reads: bool = False
    """Require the bearer token on read endpoints too (``/metrics``, ``/healthz``, ``/readyz``, ``/api/v1/status``)."""

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
    """SQLAlchemy URL, e.g. ``postgresql+psycopg://proactived@db/proactived``; default SQLite in ``state_dir``."""
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    """SQLite only: ``FULL`` survives power loss, ``NORMAL`` only process crashes."""


class FlappingConfig(ConfigModel):
    """An alert changing state ``threshold`` times within ``window`` is flapping until stable for ``stable_for``."""

    threshold: int = Field(default=4, ge=2)
    """State changes within ``window`` that make an incident flapping."""
    window: Duration = timedelta(minutes=15)
    """The sliding window the state changes are counted in."""
    stable_for: Duration = timedelta(minutes=10)
    """Quiet time after which a flapping incident settles (and a held-back resolve is sent)."""


class DedupConfig(ConfigModel):
    """How repeats of one alert fold into one incident."""

    reopen_window: Duration = timedelta(hours=1)
    """A re-fire this soon after a resolve reopens the same incident; later it starts a new one."""
    flapping: FlappingConfig = FlappingConfig()


class LogConfig(ConfigModel):
    """Log level and line format (logfmt ``key=value`` or JSON), written to stderr for journald."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    """Lowest level written; raw payloads are only logged at ``debug``."""
    format: Literal["logfmt", "json"] = "logfmt"
    """``logfmt`` (``key=value``) or one JSON object per line."""


class Config(ConfigModel):
    """The whole daemon configuration."""

    state_dir: str = "/var/lib/proactived"
    """Where the SQLite store lives (created with mode 0700)."""
    store: StoreConfig = StoreConfig()
    server: ServerConfig = ServerConfig()
    dedup: DedupConfig = DedupConfig()
    log: LogConfig = LogConfig()
    severity_map: dict[str, Severity] = Field(default_factory=dict)
    """Extra source-word to severity mappings on top of the built-in table, e.g. ``{sev1: critical}``."""
    sources: SourceList = Field(default_factory=list)  # polled sources: proactived.sources
    """Monitoring systems polled for alerts (Prometheus, Alertmanager, Grafana, Zabbix)."""
    webhooks: WebhooksConfig = WebhooksConfig()  # push endpoints: proactived.sources.webhooks
    """Webhook endpoints Alertmanager and Grafana push to, with their credentials."""
    sinks: dict[str, SinkConfig] = Field(default_factory=dict)  # name -> desk (proactived/sinks/)
    """Service desks by name: where ticket actions go (see the Tickets section of the README)."""
    jobs: UniqueJobs = Field(default_factory=list)  # proactived.jobs
    jobs_dir: JobsDir | None = None  # after ``jobs``: its validator checks names against them
    """A folder of YAML files each holding a list of jobs, merged with `jobs` (names must be unique)."""
    maintenance: MaintenanceConfig = MaintenanceConfig()  # proactived.maintenance
    rules_dir: str = ""  # correlation rules (proactived/rules/load.py); default: rules.d beside this file
    """Folder of correlation rule files (`*.yaml`, loaded in name order); default: `rules.d` beside this file."""
    services: tuple[ServiceConfig, ...] = ()  # availability reports (proactived.reports)
    """Services whose availability reports compute, each with its down-matchers, SLA target and hours."""
    reports: tuple[ReportConfig, ...] = ()
    """Scheduled availability reports e-mailed by the daemon."""
    smtp: SmtpConfig | None = None
    """The mail server reports are sent through."""

    def store_url(self) -> str:
        """The SQLAlchemy URL of the store (default: SQLite file under ``state_dir``)."""
        if self.store.url is not None:
            return self.store.url.reveal()
        return f"sqlite:///{self.state_dir}/proactived.db"
