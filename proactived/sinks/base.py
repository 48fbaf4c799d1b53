"""What every ticket sink implements, the plain data passed to and from it, and the settings all sinks share.

A sink is a small transport: ``open``/``update``/``resolve``/``reopen``. Optional capabilities are separate
protocols a sink implements only when its desk can do it: ``Searchable`` (find a ticket by external key, the
recovery path after a crash), ``StatusReadable`` (what a person did to the ticket), ``SelfChecking`` (start-up
checks of the desk's own configuration). Errors are ``TransportError`` with ``permanent`` saying whether a
retry can help.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from pydantic import Field

from proactived.config.base import ConfigModel, Duration
from proactived.model import Severity
from proactived.sinks.render import Dialect
from proactived.ticket_actions import TicketAction


class SinkSettings(ConfigModel):
    """Settings every sink has, besides its own connection details."""

    timeout: Duration = timedelta(seconds=10)
    """Timeout of one request to the desk."""
    note_interval: Duration = timedelta(minutes=5)  # at most one update note per problem this often
    """At most one update note per problem this often; updates in between are folded into it."""
    backoff: Duration = timedelta(seconds=10)  # first retry delay after a transient error, doubled each time
    """First retry delay after a transient error (timeout, 5xx, 429 without Retry-After), doubled each time."""
    max_backoff: Duration = timedelta(minutes=10)
    """Longest delay between retries; retries go on until the desk answers."""
    priorities: dict[Severity, str] = Field(default_factory=dict)  # severity -> the desk's priority name
    """Severity → the desk's priority name, set at creation only (a person's later change is kept)."""
    wont_fix: list[str] = Field(default_factory=list)  # status/resolution names a person closes with: never reopen
    """Status or resolution names a person closes with when the ticket must never be reopened."""
    title_template: str = ""  # overrides the packaged default; a route's own template wins over both
    """Jinja2 template of the title, overriding the packaged default (a rule route's template wins over both)."""
    body_template: str = ""
    """Jinja2 template of the description, overriding the packaged default."""


@dataclass(frozen=True)
class FieldLimits:
    """The desk's size limits; longer text is cut with a marker (the full text stays in the store)."""

    title: int = 255
    body: int = 32_767
    note: int = 32_767


@dataclass(frozen=True)
class NewTicket:
    """A ticket to create, already rendered and cut to the desk's limits."""

    external_key: str
    title: str
    body: str
    project: str
    priority: str
    assignee: str
    action: TicketAction
    delivery: str  # stable id of this delivery, for receivers that deduplicate


@dataclass(frozen=True)
class Note:
    """Text to add to a ticket (an update, the resolve note or the reopen note)."""

    text: str
    action: TicketAction  # the latest action folded into this note
    delivery: str


@dataclass(frozen=True)
class TicketRef:
    """Where a ticket lives in the desk."""

    id: str  # "123" (Redmine), "OPS-24" (Jira), the receiver's id or the external key (webhook)
    url: str


@dataclass(frozen=True)
class DeskStatus:
    """A ticket's state as the desk reports it."""

    name: str
    closed: bool
    resolution: str = ""
    acknowledged_at: datetime | None = None


class TicketSink(Protocol):
    """The lifecycle every desk supports."""

    dialect: Dialect
    limits: FieldLimits
    settings: SinkSettings

    def open(self, ticket: NewTicket) -> TicketRef: ...

    def update(self, ref: TicketRef, note: Note) -> None: ...

    def resolve(self, ref: TicketRef, note: Note) -> None: ...

    def reopen(self, ref: TicketRef, note: Note) -> None: ...


@runtime_checkable
class Searchable(Protocol):
    """The desk can find a ticket by the problem's external key (custom field, label)."""

    def find(self, external_key: str) -> TicketRef | None: ...


@runtime_checkable
class StatusReadable(Protocol):
    """The desk can say what state a ticket is in (a person may have closed or acknowledged it)."""

    def status(self, ref: TicketRef) -> DeskStatus: ...


@runtime_checkable
class SelfChecking(Protocol):
    """The desk's own configuration can be checked at start-up; returns the problems found."""

    def check(self) -> list[str]: ...
