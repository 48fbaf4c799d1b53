"""The tickets table: which desk ticket belongs to which problem, and where it stands.

A row is written *before* the desk is asked to create a ticket (state ``creating``, the "attempting" marker),
so a retry after a crash knows a ticket may already exist and searches the desk for it instead of creating a
second one. Human-facing fields (assignee, priority) are never stored or rewritten here: the desk owns them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Connection, Index, String, Table, Text, insert, select, update

from proactived.store.schema import UTCDateTime, metadata


class TicketState(StrEnum):
    CREATING = "creating"  # we are (or were, before a crash) asking the desk to create it
    OPEN = "open"
    RESOLVED = "resolved"  # resolved by proactived
    CLOSED = "closed"  # closed by a person with a won't-fix status: never reopened
    FAILED = "failed"  # the desk refused to create it (the error is kept)


tickets = Table(
    "tickets",
    metadata,
    Column("problem_id", String(64), primary_key=True),
    Column("sink", String(100), nullable=False),
    Column("external_key", String(255), nullable=False),
    Column("external_id", String(100)),
    Column("url", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("desk_status", String(100), nullable=False),
    Column("last_action", String(16), nullable=False),
    Column("last_action_at", UTCDateTime, nullable=False),
    Column("last_note_at", UTCDateTime),
    Column("created_at", UTCDateTime),
    Column("resolved_at", UTCDateTime),
    Column("acknowledged_at", UTCDateTime),
    Column("previous_problem_id", String(64)),
    Column("title", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("last_error", Text),
    Index("ix_tickets_external_key", "external_key"),
)


@dataclass(frozen=True)
class Ticket:
    problem_id: str
    sink: str
    external_key: str
    external_id: str | None
    url: str
    state: TicketState
    desk_status: str
    last_action: str
    last_action_at: datetime
    last_note_at: datetime | None
    created_at: datetime | None
    resolved_at: datetime | None
    acknowledged_at: datetime | None
    previous_problem_id: str | None
    title: str
    body: str
    last_error: str | None


def get(conn: Connection, problem_id: str) -> Ticket | None:
    row = conn.execute(select(tickets).where(tickets.c.problem_id == problem_id)).first()
    if row is None:
        return None
    data = row._asdict()
    data["state"] = TicketState(data["state"])
    return Ticket(**data)


def mark_creating(
    conn: Connection, problem_id: str, sink: str, key: str, title: str, body: str, previous: str | None, now: datetime
) -> None:
    """The "attempting create" marker, committed before the desk is called."""
    values: dict[str, Any] = {
        "sink": sink, "external_key": key, "state": TicketState.CREATING, "last_action": "open",
        "last_action_at": now, "title": title, "body": body, "previous_problem_id": previous, "last_error": None,
    }  # fmt: skip
    if get(conn, problem_id) is None:
        conn.execute(insert(tickets).values(problem_id=problem_id, external_id=None, url="", desk_status="", **values))
    else:
        conn.execute(update(tickets).where(tickets.c.problem_id == problem_id).values(**values))


def record(conn: Connection, problem_id: str, **values: Any) -> None:
    """Update a ticket's row (state, ids, timestamps)."""
    conn.execute(update(tickets).where(tickets.c.problem_id == problem_id).values(**values))


def all_tickets(conn: Connection) -> list[Ticket]:
    return [t for t in (get(conn, pid) for (pid,) in conn.execute(select(tickets.c.problem_id))) if t]
