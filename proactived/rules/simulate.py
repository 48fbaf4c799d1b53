"""An in-memory pipeline (dedup → correlation → ticket actions) driven by a timeline, for rule unit tests.

It runs the same pure functions as the daemon, with ticks every ``tick_every`` as the daemon's scheduler
does, so a rule behaves here as it will in production.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from proactived import dedup
from proactived.dedup import DedupSettings, Incident
from proactived.model import Alert, Status
from proactived.rules import correlate, views
from proactived.rules.correlate import Change, MuteCheck, State
from proactived.rules.problem import Outcome, Problem
from proactived.rules.ruleset import RuleSet
from proactived.ticket_actions import ProblemView, TicketAction

TICK = timedelta(seconds=5)


def never_muted(_labels: object, _now: datetime) -> str:
    return ""


@dataclass(frozen=True)
class Emitted:
    """A ticket action and when it was written."""

    at: datetime
    action: TicketAction


class Simulation:
    """Feeds alerts at given times; keeps incidents, problems, timeline and every ticket action."""

    def __init__(
        self,
        rules: RuleSet,
        start: datetime,
        *,
        settings: DedupSettings | None = None,
        mute: MuteCheck = never_muted,
        tick_every: timedelta = TICK,
    ) -> None:
        self.rules, self.now, self.mute, self.tick_every = rules, start, mute, tick_every
        self.settings = settings or DedupSettings()
        self.start = start
        self.incidents: dict[str, Incident] = {}  # by fingerprint (the current one)
        self.by_id: dict[str, Incident] = {}
        self.state = State()
        self.timeline: dict[str, list[tuple[datetime, str]]] = {}
        self.emitted: list[Emitted] = []
        self._ids = itertools.count(1)
        self._next_tick = start + tick_every

    def advance(self, to: datetime) -> None:
        """Run every tick up to and including ``to``."""
        while self._next_tick <= to:
            self.now = self._next_tick
            due = [p for p in self.state.problems.values() if p.due_at is not None and p.due_at <= self.now]
            if due:
                sub = State(**{**self.state.__dict__, "problems": {p.id: p for p in due}})
                self._keep(correlate.tick(sub, self.rules, self.now, self.mute))
            self._next_tick += self.tick_every
        self.now = max(self.now, to)

    def push(self, at: datetime, alerts: Sequence[Alert]) -> None:
        """Alerts arrive at ``at`` (after the ticks before it)."""
        self.advance(at)
        result = dedup.apply(self.incidents, alerts, at, self.settings, new_id=lambda: f"i{next(self._ids)}")
        for inc in [*result.inserted.values(), *result.changed.values(), *result.repeated.values()]:
            self.incidents[inc.fingerprint] = inc
            self.by_id[inc.id] = inc
        changes = [Change(self.by_id[a.incident_id], a.event, a.status, a.at) for a in result.actions]
        if changes:
            outcome = correlate.apply(self.state, changes, self.rules, at, self.mute, lambda: f"p{next(self._ids)}")
            self._keep(outcome)

    def _keep(self, outcome: Outcome) -> None:
        for problem in outcome.problems.values():
            self.state.add_problem(problem)
        for pid, at, text in outcome.timeline:
            self.timeline.setdefault(pid, []).append((at, text))
        for decision in outcome.decisions:
            problem = self.state.problems[decision.problem_id]
            action = views.ticket_action(decision, problem, self.view(problem), self.rules)
            if action is not None:
                self.emitted.append(Emitted(self.now, action))

    def members(self, problem: Problem) -> list[Incident]:
        """The problem's incidents as they are now, firing first, then by first seen."""
        ids = self.state.of_problem.get(problem.id, set())
        found = [self._current(iid) for iid in ids]
        return sorted(found, key=lambda i: (i.status is not Status.FIRING, i.first_seen, i.id))

    def _current(self, incident_id: str) -> Incident:
        inc = self.by_id[incident_id]
        latest = self.incidents.get(inc.fingerprint)
        return latest if latest is not None and latest.id == incident_id else inc

    def view(self, problem: Problem) -> ProblemView:
        members = self.members(problem)
        root = next((m for m in members if m.id == problem.root_cause_id), None)
        symptoms = [m for m in members if m.id != problem.root_cause_id]
        return views.problem_view(problem, root, symptoms, len(symptoms), self.timeline.get(problem.id, []))

    def problems(self) -> list[Problem]:
        return sorted(self.state.problems.values(), key=lambda p: (p.first_seen, p.rule, p.group_key))
