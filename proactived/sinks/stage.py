"""The ticket stage: carries out ``ticket`` outbox rows against the desks, exactly one ticket per problem.

Each worker claims the head row of one problem (a lease, compare-and-swap), talks to the desk, then records
the ticket and completes the row in one transaction. Before creating a ticket it commits an "attempting"
marker; a retry that finds the marker (or a row claimed before) searches the desk by external key first and
adopts what it finds, so a crash between "created" and "recorded" never yields a second ticket. Transient
errors retry with backoff (honouring Retry-After) for as long as it takes, in order per problem; permanent
ones are recorded with the desk's message and never block other problems.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import select

from proactived import telemetry
from proactived.config.models import Config
from proactived.errors import TransportError
from proactived.runtime import Runtime
from proactived.sinks import build, events
from proactived.sinks import tickets as ticket_rows
from proactived.sinks.base import DeskStatus, NewTicket, Note, Searchable, SelfChecking, StatusReadable, TicketRef
from proactived.sinks.base import TicketSink as Sink
from proactived.sinks.render import cut, cut_title, render_note, render_ticket
from proactived.sinks.tickets import Ticket, TicketState
from proactived.store import outbox
from proactived.store.outbox import OutboxRow
from proactived.store.schema import outbox as outbox_table
from proactived.ticket_actions import TOPIC_TICKET, TicketAction, TicketKind

WORKERS = 4  # concurrent desk calls: a desk slow for one problem does not hold up the others
RECHECK = timedelta(seconds=15)  # a rate-limited update looks again this often for a resolve queued behind it
MIN_LEASE = timedelta(seconds=10)


class LeaseLost(Exception):
    """Another worker took the row over (our lease ran out); its work is rolled back and redone there."""


def build_sinks(config: Config) -> dict[str, Sink]:
    return {name: build(name, sink_config) for name, sink_config in config.sinks.items()}


class TicketStage:
    """Workers that drain the ``ticket`` topic."""

    def __init__(self, rt: Runtime, sinks: Mapping[str, Sink]) -> None:
        self.rt = rt
        self.sinks = dict(sinks)
        self.identity = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._config = rt.config.sinks

    def lease(self) -> timedelta:
        """Longer than the slowest handling: up to three desk calls, each bounded by its sink's timeout."""
        longest = max((s.settings.timeout for s in self.sinks.values()), default=timedelta(seconds=10))
        return max(MIN_LEASE, 3 * longest + timedelta(seconds=10))

    def reconfigure(self, config: Config) -> None:
        if config.sinks != self._config:
            self.sinks, self._config = build_sinks(config), config.sinks
            threading.Thread(target=self.check_sinks, name="sink-checks", daemon=True).start()

    def check_sinks(self) -> None:
        """Report desk configuration problems (unknown status names, a key field that cannot filter)."""
        for name, sink in self.sinks.items():
            if isinstance(sink, SelfChecking):
                try:
                    events.sink_checked(name, sink.check())
                except TransportError as exc:
                    events.sink_check_failed(name, exc)

    def run_once(self, worker: str) -> int:
        """Claim and carry out one row; returns 1 if one was handled."""
        with self.rt.store.transaction() as conn:
            rows = outbox.claim(conn, TOPIC_TICKET, worker, self.rt.clock.now(), self.lease(), limit=1)
        for row in rows:
            self.handle(row, worker)
        return len(rows)

    def handle(self, row: OutboxRow, worker: str) -> None:
        try:
            action = TicketAction.from_payload(dict(row.payload))
        except (KeyError, TypeError, ValueError) as exc:
            self._give_up(row, worker, "?", row.event, f"unreadable ticket action: {exc!r}")
            return
        sink_name, kind, problem = action.route.sink, action.kind.value, action.problem.problem_id
        sink = self.sinks.get(sink_name)
        if sink is None:
            known = ", ".join(sorted(self.sinks)) or "none"
            self._give_up(row, worker, sink_name, kind, f"no sink named {sink_name!r} (configured: {known})", problem)
            return
        try:
            result, ticket = _Handling(self, row, worker, action, sink).run()
        except LeaseLost:
            events.lease_lost(sink_name, problem)
            return
        except TransportError as exc:
            if exc.permanent:
                self._give_up(row, worker, sink_name, kind, str(exc), problem)
            else:
                self._retry(row, worker, sink, exc)
                events.ticket_action(sink_name, kind, "retry", problem, error=str(exc), attempts=row.attempts)
            return
        events.ticket_action(sink_name, kind, result, problem, ticket)

    def _retry(self, row: OutboxRow, worker: str, sink: Sink, exc: TransportError) -> None:
        settings = sink.settings
        if exc.retry_after is not None:
            delay = timedelta(seconds=exc.retry_after)
        else:
            delay = min(settings.max_backoff, settings.backoff * 2 ** min(row.attempts, 30))
        with self.rt.store.transaction() as conn:
            outbox.retry(conn, row.id, worker, str(exc), self.rt.clock.now() + delay)

    def _give_up(self, row: OutboxRow, worker: str, sink: str, kind: str, error: str, problem: str = "") -> None:
        now = self.rt.clock.now()
        with self.rt.store.transaction() as conn:
            outbox.fail(conn, row.id, worker, error, now)
            if problem and (ticket := ticket_rows.get(conn, problem)) is not None:
                failed = {"state": TicketState.FAILED} if ticket.state == TicketState.CREATING else {}
                ticket_rows.record(conn, problem, last_error=error[:2000], **failed)
        events.ticket_action(sink, kind, "failed", problem, error=error)


class _Handling:
    """One claimed row being carried out (the decisions per action kind)."""

    def __init__(self, stage: TicketStage, row: OutboxRow, worker: str, action: TicketAction, sink: Sink) -> None:
        self.stage, self.row, self.worker, self.action, self.sink = stage, row, worker, action, sink
        self.now = stage.rt.clock.now()
        self.problem = action.problem
        with stage.rt.store.reading() as conn:
            self.ticket = ticket_rows.get(conn, self.problem.problem_id)

    def run(self) -> tuple[str, str]:
        kind = self.action.kind
        if kind == TicketKind.OPEN:
            return self.open()
        if kind == TicketKind.REOPEN:
            return self.reopen()
        if kind == TicketKind.RESOLVE:
            return self.resolve()
        return self.note()

    # -- the decisions ---------------------------------------------------------------------------------

    def open(self) -> tuple[str, str]:
        t = self.ticket
        if t is not None and t.external_id is not None and t.state != TicketState.FAILED:
            return self.finish("skipped", t.external_id)
        previous = self._previous_url()
        settings = self.sink.settings
        rendered = render_ticket(
            self.sink.dialect, self.action, previous, settings.title_template, settings.body_template
        )
        # ``attempts`` counts the claims before this one: any earlier claim may have reached the desk
        maybe_sent = self.row.attempts > 0 or (t is not None and t.state == TicketState.CREATING)
        with self.stage.rt.store.transaction() as conn:
            ticket_rows.mark_creating(
                conn, self.problem.problem_id, self.action.route.sink, self.problem.external_key,
                rendered.title, rendered.body, self.problem.previous_problem_id, self.now,
            )  # fmt: skip
        ref = self.sink.find(self.problem.external_key) if maybe_sent and isinstance(self.sink, Searchable) else None
        result = "adopted" if ref is not None else "done"
        if ref is None:
            limits = self.sink.limits
            ref = self.sink.open(
                NewTicket(
                    external_key=self.problem.external_key,
                    title=cut_title(rendered.title, limits.title),
                    body=cut(rendered.body, limits.body),
                    project=self.action.route.project,
                    priority=self.action.route.priority or self.sink.settings.priorities.get(self.problem.severity, ""),
                    assignee=self.action.route.assignee_group,
                    action=self.action,
                    delivery=str(self.row.id),
                )
            )
        return self.finish(
            result, ref.id, external_id=ref.id, url=ref.url, state=TicketState.OPEN, created_at=self.now,
            last_note_at=self.now, resolved_at=None, last_error=None,
        )  # fmt: skip

    def note(self) -> tuple[str, str]:
        t = self.ticket
        if t is None or t.external_id is None or t.state != TicketState.OPEN:
            return self.finish("skipped", t.external_id or "" if t else "")
        folded: list[OutboxRow] = []
        if self.action.kind == TicketKind.UPDATE:
            behind = self._pending_behind()
            while len(folded) < len(behind) and behind[len(folded)].event == TicketKind.UPDATE.value:
                folded.append(behind[len(folded)])
            due = t.last_note_at + self.sink.settings.note_interval if t.last_note_at else self.now
            if self.now < due and len(folded) == len(behind):  # nothing but updates queued: wait and fold
                with self.stage.rt.store.transaction() as conn:
                    outbox.retry(conn, self.row.id, self.worker, f"notes rate-limited until {due.isoformat()}",
                                 min(due, self.now + RECHECK))  # fmt: skip
                return "deferred", t.external_id
        entries = [(self.row.created_at, self.action)]
        entries += [(r.created_at, TicketAction.from_payload(dict(r.payload))) for r in folded]
        self.sink.update(self._ref(t), self._note(entries))
        return self.finish(
            "done", t.external_id, also=[r.id for r in folded], last_note_at=self.now
        )

    def resolve(self) -> tuple[str, str]:
        t = self.ticket
        if t is None or t.external_id is None or t.state != TicketState.OPEN:
            return self.finish("skipped", t.external_id or "" if t else "")
        ref, status = self._ref(t), self._status(t)
        if status is not None and status.closed:  # a person closed it already: keep their status
            return self.finish("skipped", ref.id, **self._closed_by_desk(status))
        note = self._note([(self.row.created_at, self.action)])
        if not self.action.route.auto_resolve:
            self.sink.update(ref, note)
            return self.finish("done", ref.id, last_note_at=self.now)
        self.sink.resolve(ref, note)
        return self.finish("done", ref.id, state=TicketState.RESOLVED, resolved_at=self.now, desk_status="")

    def reopen(self) -> tuple[str, str]:
        t = self.ticket
        if t is None or t.external_id is None or t.state == TicketState.FAILED:
            return self.open()  # nothing to reopen: a fresh ticket
        if t.state == TicketState.CLOSED:
            return self.finish("skipped", t.external_id)
        ref, status = self._ref(t), self._status(t)
        if status is not None and self._wont_fix(status):
            return self.finish("skipped", ref.id, **self._closed_by_desk(status))
        note = self._note([(self.row.created_at, self.action)])
        if t.state == TicketState.OPEN:  # it relapsed before the resolve went out: a note says so
            self.sink.update(ref, note)
        else:
            self.sink.reopen(ref, note)
        return self.finish("done", ref.id, state=TicketState.OPEN, resolved_at=None, last_note_at=self.now)

    # -- helpers ---------------------------------------------------------------------------------------

    def finish(self, result: str, ticket_id: str, also: Sequence[int] = (), **values: Any) -> tuple[str, str]:
        """Record the ticket and complete the row (and folded rows) in one transaction."""
        with self.stage.rt.store.transaction() as conn:
            if self.ticket is not None or values:
                ticket_rows.record(
                    conn, self.problem.problem_id, last_action=self.action.kind.value, last_action_at=self.now, **values
                )
            outbox.finish(conn, list(also), self.now)
            if not outbox.complete(conn, self.row.id, self.worker, self.now):
                raise LeaseLost(self.row.id)
        return result, ticket_id

    def _note(self, entries: list[tuple[datetime, TicketAction]]) -> Note:
        text = cut(render_note(self.sink.dialect, entries), self.sink.limits.note)
        return Note(text, entries[-1][1], str(self.row.id))

    def _ref(self, t: Ticket) -> TicketRef:
        assert t.external_id is not None
        return TicketRef(t.external_id, t.url)

    def _status(self, t: Ticket) -> DeskStatus | None:
        if not isinstance(self.sink, StatusReadable):
            return None
        status = self.sink.status(self._ref(t))
        if status.acknowledged_at and not t.acknowledged_at:
            with self.stage.rt.store.transaction() as conn:
                ticket_rows.record(conn, t.problem_id, acknowledged_at=status.acknowledged_at)
        return status

    def _wont_fix(self, status: DeskStatus) -> bool:
        return bool({status.name, status.resolution} & set(self.sink.settings.wont_fix))

    def _closed_by_desk(self, status: DeskStatus) -> dict[str, Any]:
        state = TicketState.CLOSED if self._wont_fix(status) else TicketState.RESOLVED
        return {"state": state, "desk_status": status.name, "resolved_at": self.now}

    def _previous_url(self) -> str:
        if not self.problem.previous_problem_id:
            return ""
        with self.stage.rt.store.reading() as conn:
            previous = ticket_rows.get(conn, self.problem.previous_problem_id)
        return previous.url if previous is not None else ""

    def _pending_behind(self) -> list[OutboxRow]:
        """Rows of the same problem queued after the claimed one, in order."""
        query = (
            select(outbox_table)
            .where(
                outbox_table.c.topic == TOPIC_TICKET,
                outbox_table.c.key == self.row.key,
                outbox_table.c.done_at.is_(None),
                outbox_table.c.id > self.row.id,
            )
            .order_by(outbox_table.c.id)
            .limit(500)
        )
        with self.stage.rt.store.reading() as conn:
            return [
                OutboxRow(r.id, r.topic, r.key, r.event, r.payload, r.created_at, r.attempts)
                for r in conn.execute(query)
            ]


def install(rt: Runtime) -> None:
    """Workers on the ``ticket`` topic, start-up checks of every desk, and sinks rebuilt on reload."""
    stage = TicketStage(rt, build_sinks(rt.config))
    for n in range(WORKERS):
        rt.dispatcher.add_stage(f"tickets-{n}", partial(stage.run_once, f"{stage.identity}:{n}"))
    rt.reload_hooks.append(stage.reconfigure)
    rt.scheduler.add_job(lambda: _guard(stage.check_sinks), id="sink-checks")


def _guard(job: Any) -> None:
    try:
        job()
    except Exception as exc:  # scheduler boundary: a check must not take the daemon down
        telemetry.loop_error("sink-checks", exc)
