"""Turns a problem decision into the ``TicketAction`` row the sinks read (proactived/ticket_actions.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from proactived.dedup import Incident
from proactived.rules.problem import Decision, Problem
from proactived.rules.ruleset import RuleSet
from proactived.ticket_actions import IncidentView, ProblemView, TicketAction

MAX_SYMPTOMS = 100  # symptoms listed in one action; symptom_count has the total
MAX_TIMELINE = 50


def incident_view(incident: Incident) -> IncidentView:
    return IncidentView(
        incident_id=incident.id,
        name=incident.name,
        status=incident.status.value,
        severity=incident.severity,
        source=incident.source,
        labels=dict(incident.labels),
        annotations=dict(incident.annotations),
        first_seen=incident.first_seen,
        resolved_at=incident.resolved_at,
        generator_url=incident.generator_url,
    )


def problem_view(
    problem: Problem,
    root: Incident | None,
    symptoms: Sequence[Incident],
    symptom_count: int,
    timeline: Sequence[tuple[datetime, str]],
) -> ProblemView:
    """The problem as a ticket shows it: root cause, up to MAX_SYMPTOMS symptoms (firing first), recent timeline."""
    listed = [s for s in symptoms if root is None or s.id != root.id][:MAX_SYMPTOMS]
    everyone = [i for i in [root, *listed] if i is not None]
    common = dict(everyone[0].labels) if everyone else {}
    for inc in everyone[1:]:
        common = {k: v for k, v in common.items() if inc.labels.get(k) == v}
    return ProblemView(
        problem_id=problem.id,
        rule=problem.rule,
        group_key=problem.group_key,
        status=problem.status.value,
        severity=problem.severity,
        first_seen=problem.first_seen,
        root_cause=incident_view(root) if root is not None else None,
        symptoms=[incident_view(s) for s in listed],
        common_labels={**common, **{k: v for k, v in problem.group_labels.items() if v}},
        timeline=list(timeline)[-MAX_TIMELINE:],
        previous_problem_id=problem.previous_problem_id,
        muted_by=problem.muted_by,
        symptom_count=symptom_count,
    )


def ticket_action(decision: Decision, problem: Problem, view: ProblemView, rules: RuleSet) -> TicketAction | None:
    """The row for ``decision``, or None when the problem's rule routes to no sink."""
    route = rules.get(problem.rule).route(problem.severity)
    if route is None:
        return None
    return TicketAction(decision.kind, decision.reason, view, route)
