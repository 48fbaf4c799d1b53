"""What every polled source shares: its config keys, the ``Source`` protocol, and the HTTP client it builds."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from pydantic import Field, field_validator, model_validator

from proactived.config.base import ConfigModel, Duration
from proactived.config.secrets import Secret
from proactived.errors import InputError
from proactived.gc_pause import collector_paused
from proactived.http_client import HttpClient, RetryPolicy
from proactived.model import Alert, Severity

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}$")
RESERVED_NAMES = frozenset({"proactived", "push"})
# No retry inside a poll: a failed poll changes nothing and the next one comes an interval later, so a
# retry would only hold the source's thread; ``unreachable_after`` already absorbs a blip.
POLL_RETRY = RetryPolicy(attempts=1)


def check_name(value: str) -> str:
    """A source name: it labels metrics and incidents, so keep it short and plain."""
    if not _NAME.match(value):
        raise ValueError("use 1 to 63 of a-z 0-9 _ . - starting with a letter or digit")
    if value in RESERVED_NAMES:
        raise ValueError(f"{value!r} is reserved")
    return value


class PollConfig(ConfigModel):
    """Keys common to every polled source."""

    name: str
    """Unique source name; alerts carry it as `source`, and it names the source in metrics and tickets."""
    type: str
    """Which monitoring system: prometheus, alertmanager, grafana or zabbix."""
    url: str
    """Base URL of the source API (for Zabbix: the frontend URL, /api_jsonrpc.php is added)."""
    interval: Duration = timedelta(seconds=30)
    """How often the source is polled."""
    timeout: Duration = timedelta(seconds=10)
    """Timeout of one poll request; a slow source never blocks the others."""
    unreachable_after: int = Field(default=3, ge=1)
    """Consecutive failed polls before a SourceUnreachable incident is raised (a failed poll resolves nothing)."""
    severity_map: dict[str, Severity] = Field(default_factory=dict)
    """Source severity word → normalised severity, on top of the built-in table."""
    tls_verify: bool | str = True
    """Verify the TLS certificate: true, false, or a CA bundle path."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("interval", "timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("must be at least 1s")
        return value


class HttpAuthConfig(ConfigModel):
    """Bearer token or basic auth sent with every request (both optional, not both)."""

    bearer_token: Secret | None = None
    """Bearer token (secret; `bearer_token_file` works too)."""
    username: str | None = None
    """Basic-auth user."""
    password: Secret | None = None
    """Basic-auth password (secret; `password_file` works too)."""

    @model_validator(mode="after")
    def _one_scheme(self) -> HttpAuthConfig:
        if self.bearer_token is not None and (self.username or self.password):
            raise ValueError("give either bearer_token or username/password, not both")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.bearer_token.reveal()}"} if self.bearer_token else {}

    def basic(self) -> tuple[str, str] | None:
        if self.username is not None and self.password is not None:
            return (self.username, self.password.reveal())
        return None


class HttpPollConfig(PollConfig, HttpAuthConfig):
    """A source polled over plain HTTP(S) with optional auth."""

    def client(self) -> HttpClient:
        return HttpClient(
            timeout=self.timeout.total_seconds(),
            retry=POLL_RETRY,
            headers={"Accept": "application/json", **self.headers()},
            auth=self.basic(),
            verify=self.tls_verify,
        )


class Source(Protocol):
    """A polled monitoring system: ``collect`` fetches and normalises; errors mean "this poll failed"."""

    @property
    def config(self) -> PollConfig: ...

    def collect(self, severity_table: Mapping[str, Severity]) -> Collected:
        """Fetch the current alerts; raise TransportError (unreachable) or InputError (bad payload)."""
        ...

    def close(self) -> None: ...


class Collected:
    """One successful poll: alerts to ingest, plus fingerprints that are still active but not ingested.

    ``keep`` holds alerts the source still reports but that we do not (re)announce — e.g. silenced ones
    when suppressed alerts are skipped. They must not be resolved just because they were not ingested.
    ``known`` is what a source that reuses its normalisation hands to its next fetch (see ``Reuse``).
    """

    __slots__ = ("alerts", "keep", "known")

    def __init__(
        self, alerts: list[Alert], keep: frozenset[str] = frozenset(), known: Mapping[str, Known] | None = None
    ) -> None:
        self.alerts = alerts
        self.keep = keep
        self.known: Mapping[str, Known] = known or {}


@dataclass(frozen=True, slots=True)
class Known:
    """One item of a fetch as normalised: the payload fields it was built from, its alert, whether only kept."""

    key: tuple[Any, ...]
    alert: Alert
    kept: bool


class Reuse:
    """The items a source normalised in its previous fetch, by the source's own id, for the next fetch to reuse.

    An item whose change key (the payload fields ``normalise`` reads) is equal is neither validated nor
    normalised again: its previous ``Alert`` object is taken as it is. A changed severity table (a reload)
    voids them all.
    """

    def __init__(self) -> None:
        self.known: Mapping[str, Known] = {}
        self.table: dict[str, Severity] | None = None

    def offer(self, table: Mapping[str, Severity]) -> Mapping[str, Known]:
        """What the next fetch may reuse under ``table``."""
        return self.known if table == self.table else {}

    def remember(self, table: Mapping[str, Severity], collected: Collected) -> Collected:
        """Keep what this fetch normalised under ``table``; returns ``collected``."""
        self.known, self.table = collected.known, dict(table)
        return collected


def merged_table(global_map: Mapping[str, Severity], own: Mapping[str, Severity]) -> dict[str, Severity]:
    """The source's severity words win over the global ``severity_map``."""
    return {k.lower(): v for k, v in {**global_map, **own}.items()}


def json_body(response: Any, what: str) -> Any:
    """Decode a JSON response body, or raise InputError naming ``what``."""
    try:
        with collector_paused():
            return response.json()
    except ValueError:
        raise InputError(what, "response is not JSON") from None
