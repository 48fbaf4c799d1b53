"""The contract between correlation and the ticket sinks: what a ``ticket`` outbox row says.

The correlation stage (``proactived/rules/``) decides *what* should happen to a problem's ticket and writes a
``TicketAction`` to the outbox (topic ``ticket``, key = problem id) in the same transaction as the problem
change. The ticket stage (``proactived/sinks/``) decides *how*: it renders the templates and talks to the desk.
Every field is plain data so a row written by one version can be read by the next.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from proactived.model import Severity

TOPIC_TICKET = "ticket"


class TicketKind(StrEnum):
    """What to do with the problem's ticket."""

    OPEN = "open"  # create a ticket (or adopt one found by external key); links previous_problem_id's ticket
    UPDATE = "update"  # add a note: incidents joined, root cause changed, severity rose
    NOTE = "note"  # a one-off informational note (e.g. entered maintenance)
    RESOLVE = "resolve"  # note + resolved status, when the route auto-resolves
    REOPEN = "reopen"  # the same problem relapsed within its reopen window: reopen the same ticket


@dataclass(frozen=True)
class IncidentView:
    """One member incident as tickets show it."""

    incident_id: str
    name: str
    status: str
    severity: Severity
    source: str
    labels: dict[str, str]
    annotations: dict[str, str]
    first_seen: datetime
    resolved_at: datetime | None = None
    generator_url: str = ""


@dataclass(frozen=True)
class ProblemView:
    """A problem at the moment the action was decided."""

    problem_id: str
    rule: str
    group_key: str
    status: str  # "open" or "resolved"
    severity: Severity
    first_seen: datetime
    root_cause: IncidentView | None
    symptoms: list[IncidentView] = field(default_factory=list)
    common_labels: dict[str, str] = field(default_factory=dict)
    timeline: list[tuple[datetime, str]] = field(default_factory=list)
    previous_problem_id: str | None = None
    muted_by: str = ""  # maintenance window or source suppression, when muted

    @property
    def external_key(self) -> str:
        """The key stored in the desk (custom field / label) to find this problem's ticket again."""
        return f"proactived-{self.problem_id}"


@dataclass(frozen=True)
class TicketRoute:
    """Where and how the ticket goes, from the matching rule's ``ticket:`` section."""

    sink: str
    project: str = ""
    priority: str = ""
    assignee_group: str = ""
    title_template: str = ""  # empty: the sink's default template
    body_template: str = ""
    auto_resolve: bool = True


@dataclass(frozen=True)
class TicketAction:
    """One row of the ``ticket`` topic."""

    kind: TicketKind
    reason: str
    problem: ProblemView
    route: TicketRoute

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = _jsonable(asdict(self))
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> TicketAction:
        problem = dict(payload["problem"])
        problem["severity"] = Severity(problem["severity"])
        problem["first_seen"] = datetime.fromisoformat(problem["first_seen"])
        problem["root_cause"] = _incident(problem["root_cause"]) if problem.get("root_cause") else None
        problem["symptoms"] = [_incident(s) for s in problem.get("symptoms", [])]
        problem["timeline"] = [(datetime.fromisoformat(at), text) for at, text in problem.get("timeline", [])]
        return cls(TicketKind(payload["kind"]), payload["reason"], ProblemView(**problem),
                   TicketRoute(**payload["route"]))


def _incident(data: dict[str, Any]) -> IncidentView:
    item = dict(data)
    item["severity"] = Severity(item["severity"])
    item["first_seen"] = datetime.fromisoformat(item["first_seen"])
    item["resolved_at"] = datetime.fromisoformat(item["resolved_at"]) if item.get("resolved_at") else None
    return IncidentView(**item)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value
