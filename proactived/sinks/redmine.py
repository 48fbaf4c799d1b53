"""Redmine issues through its REST API: external key in a custom field, statuses and priorities by name.

Redmine answers ``204`` to an update even when its workflow silently drops the status change, so every
status change is read back. A ``cf_N`` filter is silently ignored unless the custom field is "used as a
filter"; ``check`` detects that at start-up, and ``find`` only trusts issues that really carry the key.
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from proactived.config.base import ConfigModel
from proactived.config.secrets import Secret
from proactived.errors import TransportError
from proactived.http_client import HttpClient, RetryPolicy
from proactived.model import Severity
from proactived.sinks import events
from proactived.sinks.base import DeskStatus, FieldLimits, NewTicket, Note, SinkSettings, TicketRef
from proactived.sinks.render import DIALECTS, Dialect

HELP_FILTER = "Administration → Custom fields → {name}: tick 'Used as a filter'"


class RedmineStatuses(ConfigModel):
    """Status names, looked up by name at start (ids differ between installations)."""

    resolved: str = "Resolved"
    """Status set when the problem recovers (looked up by name at start)."""
    reopened: str = "New"
    """Status set when the problem relapses within its reopen window."""
    acknowledged: list[str] = Field(default_factory=lambda: ["Acknowledged", "In Progress"])
    """Statuses meaning a person took the ticket; the first change to one is the acknowledgement time (MTTA)."""


class RedmineConfig(SinkSettings):
    """``type: redmine``."""

    type: Literal["redmine"]
    """`redmine`."""
    url: str
    """Base URL of Redmine, e.g. https://redmine.example.com."""
    api_key: Secret
    """API key of the bot user (secret; `api_key_file` works too); sent as X-Redmine-API-Key."""
    project: str  # identifier or numeric id; a route's ``project`` overrides it
    """Project identifier or id; a rule route's `project` overrides it."""
    tracker: str = ""  # name; empty: the project's default tracker
    """Tracker name; empty: the project's default tracker."""
    external_key_field: int = Field(ge=1)  # id of the issue custom field holding the problem's key
    """Id of the issue custom field that holds the problem's key; it must be 'used as a filter' (checked at start)."""
    priorities: dict[Severity, str] = Field(
        default_factory=lambda: {
            Severity.CRITICAL: "Urgent",
            Severity.HIGH: "High",
            Severity.WARNING: "Normal",
            Severity.INFO: "Low",
        }
    )
    """Severity → Redmine priority name, set at creation only."""
    statuses: RedmineStatuses = RedmineStatuses()
    wont_fix: list[str] = Field(default_factory=lambda: ["Rejected"])
    """Statuses a person closes with that must never be reopened."""
    text_formatting: Literal["textile", "markdown"] = "textile"
    """Redmine's text formatting, so descriptions and notes render as intended."""
    private_notes: bool = False
    """Write update notes as private notes."""


class RedmineSink:
    """One Redmine instance."""

    limits = FieldLimits(title=255, body=65_000, note=65_000)

    def __init__(self, name: str, config: RedmineConfig) -> None:
        self.name = name
        self.settings: SinkSettings = config
        self.config = config
        self.dialect: Dialect = DIALECTS[config.text_formatting]
        self.base = config.url.rstrip("/")
        self.http = HttpClient(
            timeout=config.timeout.total_seconds(),
            retry=RetryPolicy(attempts=1),  # the outbox retries; a repeated POST could create a second issue
            headers={"X-Redmine-API-Key": config.api_key.reveal(), "Accept": "application/json"},
        )
        self._ids: dict[str, dict[str, int]] = {}
        self._closed: set[int] = set()
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------------

    def open(self, ticket: NewTicket) -> TicketRef:
        ids = self._lookups()
        issue: dict[str, Any] = {
            "project_id": ticket.project or self.config.project,
            "subject": ticket.title,
            "description": ticket.body,
            "custom_fields": [{"id": self.config.external_key_field, "value": ticket.external_key}],
        }
        if self.config.tracker:
            issue["tracker_id"] = _named(ids["trackers"], self.config.tracker, "tracker")
        # An unknown priority or assignee must not cost the ticket: create it without that field and say so.
        if ticket.priority:
            priority = _find(ids["priorities"], ticket.priority)
            if priority is None:
                events.field_dropped(self.name, "priority", ticket.priority, f"known: {', '.join(ids['priorities'])}")
            else:
                issue["priority_id"] = priority
        if ticket.assignee:
            assignee = self._assignee(issue["project_id"], ticket.assignee)
            if assignee is None:
                events.field_dropped(self.name, "assignee", ticket.assignee, "not a member of the project")
            else:
                issue["assigned_to_id"] = assignee
        body = self._call("POST", "/issues.json", json={"issue": issue}).json()
        issue_id = str(body["issue"]["id"])
        return TicketRef(issue_id, f"{self.base}/issues/{issue_id}")

    def update(self, ref: TicketRef, note: Note) -> None:
        self._put(ref, {"notes": note.text, "private_notes": self.config.private_notes})

    def resolve(self, ref: TicketRef, note: Note) -> None:
        self._change_status(ref, note, self.config.statuses.resolved)

    def reopen(self, ref: TicketRef, note: Note) -> None:
        self._change_status(ref, note, self.config.statuses.reopened)

    def find(self, external_key: str) -> TicketRef | None:
        field = self.config.external_key_field
        params = {f"cf_{field}": external_key, "status_id": "*", "sort": "id:asc", "limit": 100}
        issues = self._call("GET", "/issues.json", params=params).json()["issues"]
        for issue in issues:
            if _cf(issue, field) == external_key:
                return TicketRef(str(issue["id"]), f"{self.base}/issues/{issue['id']}")
        if issues:  # the filter was ignored: never adopt someone else's issue
            events.search_filter_ignored(self.name, field, _filter_hint(field))
        return None

    def status(self, ref: TicketRef) -> DeskStatus:
        issue = self._issue(ref, journals=True)
        status = issue["status"]
        ack_ids = {str(i) for n, i in self._lookups()["statuses"].items() if n in self.config.statuses.acknowledged}
        return DeskStatus(
            name=status["name"],
            closed=bool(status.get("is_closed", int(status["id"]) in self._closed)),
            acknowledged_at=_acknowledged_at(issue.get("journals", []), ack_ids),
        )

    def check(self) -> list[str]:
        """Configured names exist, and the external-key field really filters (else dedup searches fail)."""
        ids = self._lookups()
        problems = [
            f"sink {self.name}: Redmine has no {kind} named {name!r} (known: {', '.join(sorted(ids[table]))})"
            for kind, table, names in (
                ("status", "statuses", [self.config.statuses.resolved, self.config.statuses.reopened]),
                ("priority", "priorities", list(self.config.priorities.values())),
                ("tracker", "trackers", [self.config.tracker] if self.config.tracker else []),
            )
            for name in names
            if name not in ids[table]
        ]
        return problems + self._check_filter()

    # -- helpers ---------------------------------------------------------------------------------------

    def _check_filter(self) -> list[str]:
        field = self.config.external_key_field
        response = self.http.session.get(f"{self.base}/custom_fields.json", timeout=self.http.timeout)
        if response.status_code == 200:  # admin key: read the flag itself
            found = [f for f in response.json()["custom_fields"] if f["id"] == field]
            if not found or found[0].get("customized_type") != "issue":
                return [f"sink {self.name}: Redmine has no issue custom field with id {field} (external_key_field)"]
            if not found[0].get("is_filter"):
                return [f"sink {self.name}: custom field {field} is not used as a filter: {_filter_hint(field)}"]
            return []
        probe = {f"cf_{field}": f"proactived-probe-{uuid.uuid4().hex}", "status_id": "*", "limit": 1}
        if self._call("GET", "/issues.json", params=probe).json()["total_count"] > 0:
            return [f"sink {self.name}: searching by custom field {field} is ignored by Redmine: {_filter_hint(field)}"]
        return []

    def _change_status(self, ref: TicketRef, note: Note, status_name: str) -> None:
        status_id = _named(self._lookups()["statuses"], status_name, "status")
        self._put(ref, {"notes": note.text, "status_id": status_id, "private_notes": self.config.private_notes})
        now = self._issue(ref, journals=False)["status"]
        if int(now["id"]) != status_id:  # 204 even when the workflow refused
            raise TransportError(
                f"Redmine kept issue #{ref.id} in status {now['name']!r} instead of {status_name!r}: the workflow "
                "does not allow this change for the API user's role and tracker",
                permanent=True,
            )

    def _put(self, ref: TicketRef, fields: dict[str, Any]) -> None:
        self._call("PUT", f"/issues/{ref.id}.json", json={"issue": fields})

    def _issue(self, ref: TicketRef, journals: bool) -> dict[str, Any]:
        params = {"include": "journals"} if journals else {}
        issue: dict[str, Any] = self._call("GET", f"/issues/{ref.id}.json", params=params).json()["issue"]
        return issue

    def _assignee(self, project: str, who: str) -> int | None:
        if who.isdigit():
            return int(who)
        members = self._call("GET", f"/projects/{project}/memberships.json", params={"limit": 100}).json()
        for member in members["memberships"]:
            principal = member.get("user") or member.get("group") or {}
            if str(principal.get("name", "")).casefold() == who.casefold():
                return int(principal["id"])
        return None

    def _lookups(self) -> dict[str, dict[str, int]]:
        with self._lock:
            if not self._ids:
                statuses = self._call("GET", "/issue_statuses.json").json()["issue_statuses"]
                self._closed = {s["id"] for s in statuses if s.get("is_closed")}
                priorities = self._call("GET", "/enumerations/issue_priorities.json").json()["issue_priorities"]
                trackers = self._call("GET", "/trackers.json").json()["trackers"]
                self._ids = {
                    "statuses": {s["name"]: s["id"] for s in statuses},
                    "priorities": {p["name"]: p["id"] for p in priorities},
                    "trackers": {t["name"]: t["id"] for t in trackers},
                }
            return self._ids

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        with events.desk_call(self.name):
            return self.http.request(method, self.base + path, **kwargs)


def _find(table: dict[str, int], name: str) -> int | None:
    """Case-insensitive lookup of a desk's named value (rules say ``urgent``, Redmine says ``Urgent``)."""
    folded = name.casefold()
    return next((value for key, value in table.items() if key.casefold() == folded), None)


def _named(table: dict[str, int], name: str, kind: str) -> int:
    found = _find(table, name)
    if found is None:
        known = ", ".join(sorted(table))
        raise TransportError(f"Redmine has no {kind} named {name!r} (known: {known})", permanent=True)
    return found


def _cf(issue: dict[str, Any], field: int) -> Any:
    return next((cf.get("value") for cf in issue.get("custom_fields", []) if cf.get("id") == field), None)


def _filter_hint(field: int) -> str:
    return HELP_FILTER.format(name=f"#{field}")


def _acknowledged_at(journals: list[dict[str, Any]], ack_ids: set[str]) -> datetime | None:
    """When a status first moved to an 'acknowledged' one (for MTTA)."""
    for journal in journals:
        for detail in journal.get("details", []):
            if detail.get("name") == "status_id" and str(detail.get("new_value")) in ack_ids:
                return datetime.fromisoformat(journal["created_on"].replace("Z", "+00:00"))
    return None
