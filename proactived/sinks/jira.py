"""Jira issues: Cloud (REST v3, ADF, e-mail + API token) or Data Center (REST v2, wiki markup, bearer PAT).

The problem's external key is a label; transitions are chosen by name at run time (ids are per workflow).
Cloud search (``/rest/api/3/search/jql``) pages with ``nextPageToken`` and is eventually consistent, so it is
only the recovery path after a crash: the ticket table is the primary key → issue map.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, model_validator

from proactived.config.secrets import Secret
from proactived.errors import TransportError
from proactived.http_client import HttpClient, RetryPolicy
from proactived.model import Severity
from proactived.sinks import events
from proactived.sinks.adf import to_adf
from proactived.sinks.base import DeskStatus, FieldLimits, NewTicket, Note, SinkSettings, TicketRef
from proactived.sinks.render import DIALECTS, Dialect

MAX_LABEL = 255
SEARCH_PAGE = 50


class JiraConfig(SinkSettings):
    """``type: jira``."""

    type: Literal["jira"]
    """`jira`."""
    url: str
    """Base URL, e.g. https://example.atlassian.net or https://jira.example.com."""
    flavor: Literal["cloud", "datacenter"] = "cloud"
    """`cloud` (REST v3, ADF, e-mail + API token) or `datacenter` (REST v2, wiki markup, personal access token)."""
    email: str = ""  # Cloud: the account the API token belongs to
    """Cloud: the account the API token belongs to."""
    api_token: Secret | None = None  # Cloud
    """Cloud: the API token (secret; `api_token_file` works too)."""
    token: Secret | None = None  # Data Center personal access token
    """Data Center: a personal access token, sent as a bearer token (secret; `token_file` works too)."""
    project: str  # project key; a route's ``project`` overrides it
    """Project key; a rule route's `project` overrides it."""
    issue_type: str = "Task"
    """Issue type name of created tickets."""
    labels: list[str] = Field(default_factory=lambda: ["proactived"])
    """Labels put on every ticket (the problem's external key is added as a label too)."""
    priorities: dict[Severity, str] = Field(
        default_factory=lambda: {
            Severity.CRITICAL: "Highest",
            Severity.HIGH: "High",
            Severity.WARNING: "Medium",
            Severity.INFO: "Low",
        }
    )
    """Severity → Jira priority name, set at creation only."""
    resolve_transitions: list[str] = Field(default_factory=lambda: ["Resolve Issue", "Resolve", "Done", "Close Issue"])
    """Transition names tried in order to resolve a ticket."""
    reopen_transitions: list[str] = Field(default_factory=lambda: ["Reopen Issue", "Reopen", "To Do", "Open"])
    """Transition names tried in order to reopen a ticket."""
    resolution: str = ""  # set with the resolve transition when its screen requires one, e.g. "Done"
    """Resolution set with the resolve transition when its screen requires one, e.g. Done."""
    wont_fix: list[str] = Field(default_factory=lambda: ["Won't Fix", "Won't Do", "Declined", "Cannot Reproduce"])
    """Resolutions a person closes with that must never be reopened."""

    @model_validator(mode="after")
    def _credentials(self) -> JiraConfig:
        if self.flavor == "cloud" and (not self.email or self.api_token is None):
            raise ValueError("Jira Cloud needs email and api_token (or api_token_file)")
        if self.flavor == "datacenter" and self.token is None:
            raise ValueError("Jira Data Center needs token (a personal access token, or token_file)")
        return self


class JiraSink:
    """One Jira site."""

    limits = FieldLimits(title=255, body=32_767, note=32_767)

    def __init__(self, name: str, config: JiraConfig) -> None:
        self.name = name
        self.settings: SinkSettings = config
        self.config = config
        self.cloud = config.flavor == "cloud"
        self.dialect: Dialect = DIALECTS["markdown" if self.cloud else "jira"]
        self.base = config.url.rstrip("/")
        self.api = f"{self.base}/rest/api/{3 if self.cloud else 2}"
        headers = {"Accept": "application/json"}
        auth = None
        if self.cloud:
            assert config.api_token is not None
            auth = (config.email, config.api_token.reveal())
        else:
            assert config.token is not None
            headers["Authorization"] = f"Bearer {config.token.reveal()}"
        self.http = HttpClient(
            timeout=config.timeout.total_seconds(), retry=RetryPolicy(attempts=1), headers=headers, auth=auth
        )

    def open(self, ticket: NewTicket) -> TicketRef:
        fields: dict[str, Any] = {
            "project": {"key": ticket.project or self.config.project},
            "issuetype": {"name": self.config.issue_type},
            "summary": ticket.title,
            "description": self._doc(ticket.body),
            "labels": [*(label_of(x) for x in self.config.labels), label_of(ticket.external_key)],
        }
        if ticket.priority:
            fields["priority"] = {"name": ticket.priority}
        if ticket.assignee:
            fields["assignee"] = {"accountId": ticket.assignee} if self.cloud else {"name": ticket.assignee}
        key = self._call("POST", "/issue", json={"fields": fields}).json()["key"]
        return TicketRef(key, f"{self.base}/browse/{key}")

    def update(self, ref: TicketRef, note: Note) -> None:
        self._call("POST", f"/issue/{ref.id}/comment", json={"body": self._doc(note.text)})

    def resolve(self, ref: TicketRef, note: Note) -> None:
        self.update(ref, note)
        extra = {"fields": {"resolution": {"name": self.config.resolution}}} if self.config.resolution else {}
        self._transition(ref, self.config.resolve_transitions, extra)

    def reopen(self, ref: TicketRef, note: Note) -> None:
        self.update(ref, note)
        self._transition(ref, self.config.reopen_transitions, {})

    def find(self, external_key: str) -> TicketRef | None:
        jql = f'labels = "{label_of(external_key)}" ORDER BY created ASC'
        params: dict[str, Any] = {"jql": jql, "fields": "labels,created", "maxResults": SEARCH_PAGE}
        found: list[str] = []
        if self.cloud:
            while True:
                page = self._call("GET", "/search/jql", params=params).json()
                found += [issue["key"] for issue in page.get("issues", [])]
                if page.get("isLast", True) or not page.get("nextPageToken"):
                    break
                params["nextPageToken"] = page["nextPageToken"]
        else:
            params["startAt"] = 0
            while True:
                page = self._call("GET", "/search", params=params).json()
                found += [issue["key"] for issue in page.get("issues", [])]
                params["startAt"] += len(page.get("issues", []))
                if not page.get("issues") or params["startAt"] >= page.get("total", 0):
                    break
        return TicketRef(found[0], f"{self.base}/browse/{found[0]}") if found else None

    def status(self, ref: TicketRef) -> DeskStatus:
        fields = self._call("GET", f"/issue/{ref.id}", params={"fields": "status,resolution"}).json()["fields"]
        status = fields["status"]
        return DeskStatus(
            name=status["name"],
            closed=status.get("statusCategory", {}).get("key") == "done",
            resolution=(fields.get("resolution") or {}).get("name", ""),
        )

    def _transition(self, ref: TicketRef, names: list[str], extra: dict[str, Any]) -> None:
        available = self._call("GET", f"/issue/{ref.id}/transitions").json()["transitions"]
        wanted = [n.casefold() for n in names]
        for name in wanted:
            for transition in available:
                if name in (transition["name"].casefold(), transition.get("to", {}).get("name", "").casefold()):
                    body = {"transition": {"id": transition["id"]}, **extra}
                    self._call("POST", f"/issue/{ref.id}/transitions", json=body)
                    return
        offered = ", ".join(t["name"] for t in available) or "none"
        raise TransportError(
            f"Jira issue {ref.id} offers no transition named {', '.join(names)} (offered: {offered})", permanent=True
        )

    def _doc(self, text: str) -> Any:
        return to_adf(text) if self.cloud else text

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        with events.desk_call(self.name):
            return self.http.request(method, self.api + path, **kwargs)


def label_of(text: str) -> str:
    """A Jira label: no spaces, at most 255 characters."""
    return re.sub(r"\s+", "_", text.strip())[:MAX_LABEL]
