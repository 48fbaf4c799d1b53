"""The problem and its members as the correlation core sees them: plain frozen values, no store, no clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from proactived.dedup import Incident
from proactived.model import Severity, Status
from proactived.ticket_actions import TicketKind


class ProblemStatus(StrEnum):
    OPEN = "open"  # some incident fires, or all resolved less than resolve_hold ago
    RESOLVED = "resolved"


class TicketState(StrEnum):
    NONE = "none"  # no ticket yet: held (hold_for / window), muted, or never routed
    OPEN = "open"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Member:
    """One incident inside one problem, with the status correlation last saw for it."""

    problem_id: str
    incident: Incident
    status: Status
    severity: Severity
    muted_by: str
    joined_at: datetime

    @property
    def firing(self) -> bool:
        return self.status is Status.FIRING

    @property
    def live(self) -> bool:
        """Firing and not muted: counts towards opening and updating a ticket."""
        return self.firing and not self.muted_by


@dataclass(frozen=True, slots=True)
class Problem:
    """Correlated incidents of one rule and group key, with a root cause and a ticket lifecycle."""

    id: str
    rule: str
    group_key: str
    group_labels: Mapping[str, str]
    first_seen: datetime
    episode_start: datetime  # start of the current open spell (reset on reopen): hold_for counts from here
    status: ProblemStatus = ProblemStatus.OPEN
    ticket: TicketState = TicketState.NONE
    severity: Severity = Severity.INFO
    root_cause_id: str | None = None
    members: int = 0
    firing: int = 0
    live: int = 0
    quiet_since: datetime | None = None  # when the last incident resolved (None while any fires)
    resolved_at: datetime | None = None
    muted_by: str = ""
    mute_noted: bool = False  # the ticket got its one "muted" note in this episode
    previous_problem_id: str | None = None
    pending_joins: int = 0  # incidents joined since the last ticket action (coalesced into one update)
    pending: tuple[str, ...] = ()  # other changes waiting for the next update
    due_at: datetime | None = None  # when the tick must look at this problem next
    last_change: datetime | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """A ticket action decided for a problem; the stage renders it into a TicketAction with the problem's view."""

    kind: TicketKind
    reason: str
    problem_id: str


@dataclass
class Outcome:
    """What one correlation step changed: rows to write, timeline lines, ticket decisions."""

    problems: dict[str, Problem] = field(default_factory=dict)
    created: set[str] = field(default_factory=set)
    members: dict[tuple[str, str], Member] = field(default_factory=dict)
    joined: set[tuple[str, str]] = field(default_factory=set)
    timeline: list[tuple[str, datetime, str]] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
