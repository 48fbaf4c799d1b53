"""Correlation, pure: ``apply(state, incident changes, rules, now)`` and ``tick(state, rules, now)``.

Both update the given ``State`` (the problems and members the caller loaded) and return an ``Outcome``
listing what changed and which ticket actions follow. Nothing here touches the store or the clock.

Ticket lifecycle: OPEN once a problem has fired for ``max(hold_for, window)`` and is not muted; UPDATE
(coalesced, at ticks) when incidents join, the root cause changes or the severity rises; RESOLVE once every
incident has been resolved for ``resolve_hold`` (if the route auto-resolves; never muted); REOPEN when the
same group relapses within ``reopen_window`` of the resolve; later a relapse is a new problem that points
at the previous one. A problem whose firing incidents are all muted sends nothing but one NOTE.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from proactived.dedup import Incident, IncidentEvent
from proactived.durations import format_duration
from proactived.ids import time_ordered_id
from proactived.model import Status
from proactived.rules import rootcause
from proactived.rules.problem import Decision, Member, Outcome, Problem, ProblemStatus, TicketState
from proactived.rules.ruleset import Rule, RuleSet, group_key, labels_of
from proactived.ticket_actions import TicketKind

MuteCheck = Callable[[Mapping[str, str], datetime], str]
MUTE_RECHECK = timedelta(seconds=30)


@dataclass(frozen=True, slots=True)
class Change:
    """One incident event from the outbox, with the incident as it is now."""

    incident: Incident
    event: IncidentEvent
    status: Status
    at: datetime


@dataclass
class State:
    """The problems and members a step may touch: everything (tests) or what the stage loaded (daemon)."""

    problems: dict[str, Problem] = field(default_factory=dict)
    latest: dict[tuple[str, str], str] = field(default_factory=dict)  # (rule, group key) -> newest problem id
    members: dict[tuple[str, str], Member] = field(default_factory=dict)  # (problem id, incident id)
    of_incident: dict[str, list[str]] = field(default_factory=dict)
    of_problem: dict[str, set[str]] = field(default_factory=dict)

    def add_problem(self, problem: Problem) -> None:
        self.problems[problem.id] = problem
        current = self.problems.get(self.latest.get((problem.rule, problem.group_key), ""))
        if current is None or current.first_seen <= problem.first_seen:
            self.latest[(problem.rule, problem.group_key)] = problem.id

    def add_member(self, member: Member) -> None:
        key = (member.problem_id, member.incident.id)
        if key not in self.members:
            self.of_incident.setdefault(member.incident.id, []).append(member.problem_id)
            self.of_problem.setdefault(member.problem_id, set()).add(member.incident.id)
        self.members[key] = member

    def firing_members(self, problem_id: str) -> list[Member]:
        ids = self.of_problem.get(problem_id, set())
        return [m for iid in ids if (m := self.members[(problem_id, iid)]).firing]


def routes(rules: RuleSet, labels: Mapping[str, str]) -> list[tuple[Rule, str, dict[str, str]]]:
    """(rule, group key, group labels) for every rule an incident with ``labels`` belongs to."""
    found = []
    for rule in rules.matching(labels):
        values = rules.group_labels(rule, labels)
        found.append((rule, group_key(values), values))
    return found


def describe(incident: Incident) -> str:
    """A short human name for an incident: its alert name and identifying labels."""
    extra = [f"{k}={v}" for k, v in sorted(incident.labels.items()) if k not in ("alertname", "severity")]
    return " ".join([incident.name, *extra[:4]])


def mute_of(incident: Incident, mute: MuteCheck, now: datetime) -> str:
    """Why an incident is muted: source-side suppression or a maintenance window ("" = not muted)."""
    if incident.suppressed:
        return f"source: {incident.suppressed}"
    return mute(incident.labels, now)


class _Step:
    """Bookkeeping of one apply/tick: the state, the rules, the outcome being built."""

    def __init__(self, state: State, rules: RuleSet, now: datetime, mute: MuteCheck, new_id: Callable[[], str]):
        self.state, self.rules, self.now, self.mute, self.new_id = state, rules, now, mute, new_id
        self.out = Outcome()
        self.touched: dict[str, str] = {}  # problem id -> muted_by before the step

    def problem(self, pid: str) -> Problem:
        return self.state.problems[pid]

    def save(self, problem: Problem) -> None:
        self.touched.setdefault(
            problem.id, self.state.problems[problem.id].muted_by if problem.id in self.state.problems else ""
        )
        problem = replace(problem, last_change=self.now)
        self.state.add_problem(problem)
        self.out.problems[problem.id] = problem

    def save_member(self, member: Member) -> None:
        self.state.add_member(member)
        self.out.members[(member.problem_id, member.incident.id)] = member

    def note(self, pid: str, text: str) -> None:
        self.out.timeline.append((pid, self.now, text))

    def decide(self, kind: TicketKind, reason: str, pid: str) -> None:
        self.out.decisions.append(Decision(kind, reason, pid))


def apply(
    state: State,
    changes: Sequence[Change],
    rules: RuleSet,
    now: datetime,
    mute: MuteCheck,
    new_id: Callable[[], str] = time_ordered_id,
) -> Outcome:
    """Fold incident changes (in order) into problems; decide the ticket actions that cannot wait for a tick."""
    step = _Step(state, rules, now, mute, new_id)
    for change in changes:
        pids = state.of_incident.get(change.incident.id, [])
        open_pids = [p for p in pids if state.problems[p].status is ProblemStatus.OPEN]
        for pid in open_pids:
            _member_changed(step, state.members[(pid, change.incident.id)], change)
        if not open_pids and change.status is Status.FIRING:
            _route(step, change)
    _finish(step, flush=False)
    return step.out


def tick(state: State, rules: RuleSet, now: datetime, mute: MuteCheck) -> Outcome:
    """Time-driven decisions for the problems in ``state``: open after hold, resolve after hold, flush updates."""
    step = _Step(state, rules, now, mute, time_ordered_id)
    for problem in list(state.problems.values()):
        if problem.status is ProblemStatus.OPEN:
            if problem.muted_by:
                _recheck_mutes(step, problem)
            step.save(step.problem(problem.id))
    _finish(step, flush=True)
    return step.out


def _route(step: _Step, change: Change) -> None:
    for rule, key, values in routes(step.rules, labels_of(change.incident)):
        latest = step.state.problems.get(step.state.latest.get((rule.name, key), ""))
        if latest is not None and latest.status is ProblemStatus.OPEN:
            problem = latest
        elif (
            latest is not None
            and latest.resolved_at is not None
            and step.now - latest.resolved_at <= rule.reopen_window
        ):
            problem = _reopen(step, latest, change)
        else:
            problem = Problem(
                id=step.new_id(),
                rule=rule.name,
                group_key=key,
                group_labels=values,
                first_seen=step.now,
                episode_start=step.now,
                previous_problem_id=latest.id if latest is not None else None,
            )
            step.out.created.add(problem.id)
            step.save(problem)
            step.note(problem.id, f"opened by {describe(change.incident)} (rule {rule.name})")
        existing = step.state.members.get((problem.id, change.incident.id))
        if existing is not None:
            _member_changed(step, existing, change)
        else:
            _join(step, step.problem(problem.id), rule, change)


def _reopen(step: _Step, problem: Problem, change: Change) -> Problem:
    reopened = replace(problem, status=ProblemStatus.OPEN, episode_start=step.now, quiet_since=None, resolved_at=None)
    step.save(reopened)
    step.note(problem.id, f"reopened: {describe(change.incident)} fired again")
    return reopened


def _join(step: _Step, problem: Problem, rule: Rule, change: Change) -> None:
    inc = change.incident
    member = Member(problem.id, inc, change.status, inc.severity, mute_of(inc, step.mute, step.now), step.now)
    step.save_member(member)
    step.out.joined.add((problem.id, inc.id))
    problem = replace(
        problem,
        members=problem.members + 1,
        firing=problem.firing + member.firing,
        live=problem.live + member.live,
        pending_joins=problem.pending_joins + (problem.members > 0 and member.live),
    )
    if member.firing:
        problem = replace(problem, quiet_since=None)
    if member.muted_by:
        problem = replace(problem, muted_by=problem.muted_by or member.muted_by)
    if problem.members > 1:
        step.note(problem.id, f"joined: {describe(inc)}")
    problem = _raise_severity(step, problem, member)
    root = step.state.members.get((problem.id, problem.root_cause_id or ""))
    if member.firing and (root is None or not root.firing or rootcause.better(step.rules, rule, member, root)):
        problem = _set_root(step, problem, member)
    step.save(problem)


def _member_changed(step: _Step, old: Member, change: Change) -> None:
    problem = step.problem(old.problem_id)
    inc = change.incident
    if old.live and problem.live == 1 and change.status is not Status.FIRING:
        # The problem goes quiet within this batch: decide first what a batch ending here would have decided
        # (open or reopen its ticket when due), so how changes happen to be batched never swallows a ticket.
        problem = _lifecycle(step, problem, step.rules.get(problem.rule), flush=False)
    new = replace(
        old, incident=inc, status=change.status, severity=inc.severity, muted_by=mute_of(inc, step.mute, step.now)
    )
    step.save_member(new)
    problem = replace(
        problem,
        firing=problem.firing + new.firing - old.firing,
        live=problem.live + new.live - old.live,
    )
    if change.event is IncidentEvent.FLAPPING:
        step.note(problem.id, f"flapping: {describe(inc)} (its changes are held back until it settles)")
    elif change.event is IncidentEvent.STABLE:
        step.note(problem.id, f"stopped flapping, firing: {describe(inc)}")
    elif new.status is not old.status:
        step.note(problem.id, f"{'fired again' if new.firing else 'resolved'}: {describe(inc)}")
    if problem.firing == 0 and old.firing:
        problem = replace(problem, quiet_since=step.now)
    elif new.firing:
        problem = replace(problem, quiet_since=None)
    problem = _raise_severity(step, problem, new)
    rule = step.rules.get(problem.rule)
    if problem.root_cause_id == inc.id and not new.firing:
        elected = rootcause.elect(step.rules, rule, step.state.firing_members(problem.id))
        if elected is not None:
            problem = _set_root(step, problem, elected)
    elif new.firing and not old.firing:
        root = step.state.members.get((problem.id, problem.root_cause_id or ""))
        if root is None or not root.firing or rootcause.better(step.rules, rule, new, root):
            problem = _set_root(step, problem, new)
    step.save(problem)


def _raise_severity(step: _Step, problem: Problem, member: Member) -> Problem:
    if not member.firing or member.severity.rank >= problem.severity.rank:
        return problem
    if problem.members > 1 and problem.ticket is TicketState.OPEN:
        step.note(problem.id, f"severity rose to {member.severity.value}")
        problem = replace(problem, pending=_add(problem.pending, f"severity rose to {member.severity.value}"))
    return replace(problem, severity=member.severity)


def _set_root(step: _Step, problem: Problem, member: Member) -> Problem:
    if problem.root_cause_id == member.incident.id:
        return problem
    if problem.root_cause_id is not None:
        text = f"root cause changed to {describe(member.incident)}"
        step.note(problem.id, text)
        problem = replace(problem, pending=_add(problem.pending, text))
    return replace(problem, root_cause_id=member.incident.id)


def _add(pending: tuple[str, ...], text: str) -> tuple[str, ...]:
    kept = tuple(p for p in pending if p.split(" to ")[0] != text.split(" to ")[0])
    return (*kept, text)[-10:]


def _recheck_mutes(step: _Step, problem: Problem) -> None:
    """A muted problem is looked at again each tick: a maintenance window may have ended."""
    for member in step.state.firing_members(problem.id):
        reason = mute_of(member.incident, step.mute, step.now)
        if reason != member.muted_by:
            step.save_member(replace(member, muted_by=reason))
            problem = replace(problem, live=problem.live + (not reason) - (not member.muted_by))
    step.save(problem)


def _finish(step: _Step, *, flush: bool) -> None:
    """Settle mute state, take the ticket decisions due now, and schedule the next look for each touched problem."""
    for pid, muted_before in step.touched.items():
        problem = step.problem(pid)
        rule = step.rules.get(problem.rule)
        muted = problem.firing > 0 and problem.live == 0
        problem = replace(problem, muted_by=(problem.muted_by or "maintenance") if muted else "")
        if problem.muted_by and not muted_before:
            step.note(pid, f"muted: {problem.muted_by}")
            if problem.ticket is TicketState.OPEN and problem.status is ProblemStatus.OPEN and not problem.mute_noted:
                problem = replace(problem, mute_noted=True)
                step.decide(
                    TicketKind.NOTE, f"muted ({problem.muted_by}): updates paused, the resolve still comes", pid
                )
        elif muted_before and not problem.muted_by and problem.firing:
            step.note(pid, "no longer muted")
        problem = _lifecycle(step, problem, rule, flush)
        problem = replace(problem, due_at=_due(problem, rule, step.now))
        step.state.add_problem(problem)
        step.out.problems[pid] = problem


def _lifecycle(step: _Step, p: Problem, rule: Rule, flush: bool) -> Problem:
    now = step.now
    routed = rule.sink is not None
    if p.status is not ProblemStatus.OPEN:
        return p
    if p.quiet_since is not None and now - p.quiet_since >= rule.resolve_hold:
        p = replace(p, status=ProblemStatus.RESOLVED, resolved_at=now, pending=(), pending_joins=0)
        if p.ticket is TicketState.OPEN and rule.auto_resolve:
            step.decide(TicketKind.RESOLVE, f"all incidents resolved for {_fmt(rule.resolve_hold)}", p.id)
            step.note(p.id, "resolved; ticket resolved")
            return replace(p, ticket=TicketState.RESOLVED)
        step.note(p.id, "resolved" if p.ticket is not TicketState.NONE else "resolved before a ticket was opened")
        return p
    if not routed or p.live == 0:  # nothing to tell: no desk, muted, or all resolved (the resolve follows)
        return replace(p, pending=(), pending_joins=0)
    if p.ticket is TicketState.NONE and now - p.episode_start >= rule.wait:
        step.decide(TicketKind.OPEN, f"problem persisted for {_fmt(rule.wait)}", p.id)
        step.note(p.id, "ticket opened")
        return replace(p, ticket=TicketState.OPEN, pending=(), pending_joins=0)
    if p.ticket is TicketState.RESOLVED:
        step.decide(TicketKind.REOPEN, f"relapsed within {_fmt(rule.reopen_window)} of the resolve", p.id)
        step.note(p.id, "ticket reopened")
        return replace(p, ticket=TicketState.OPEN, pending=(), pending_joins=0)
    if p.ticket is TicketState.OPEN and flush and (p.pending or p.pending_joins):
        joined = [f"{p.pending_joins} incident{'s' if p.pending_joins != 1 else ''} joined"] if p.pending_joins else []
        step.decide(TicketKind.UPDATE, "; ".join([*joined, *p.pending]), p.id)
        return replace(p, pending=(), pending_joins=0)
    return p


def _due(p: Problem, rule: Rule, now: datetime) -> datetime | None:
    if p.status is not ProblemStatus.OPEN:
        return None
    times: list[datetime] = []
    if p.quiet_since is not None:
        times.append(p.quiet_since + rule.resolve_hold)
    if rule.sink is not None and p.ticket is TicketState.NONE and p.live:
        times.append(p.episode_start + rule.wait)
    if p.pending or p.pending_joins:
        times.append(now)
    if p.muted_by:
        times.append(now + MUTE_RECHECK)
    return min(times) if times else None


def _fmt(delta: timedelta) -> str:
    return format_duration(delta)


def load_order(changes: Iterable[Change]) -> list[str]:
    """Incident ids in first-seen order (the stage loads their rows in one query)."""
    return list(dict.fromkeys(c.incident.id for c in changes))
