"""The ticket action contract survives a round trip through the outbox's JSON."""

from __future__ import annotations

import json
from datetime import timedelta

from proactived.model import Severity
from proactived.ticket_actions import IncidentView, ProblemView, TicketAction, TicketKind, TicketRoute
from tests.conftest import T0


def test_a_ticket_action_round_trips_through_json() -> None:
    root = IncidentView("i1", "SwitchDown", "firing", Severity.CRITICAL, "prom", {"switch": "sw1"}, {}, T0)
    symptom = IncidentView("i2", "HostDown", "resolved", Severity.HIGH, "prom", {"host": "h1"}, {"summary": "x"},
                           T0 + timedelta(seconds=5), resolved_at=T0 + timedelta(minutes=1))
    action = TicketAction(
        TicketKind.OPEN, "problem held for 1m",
        ProblemView("p1", "switches", "switch=sw1", "open", Severity.CRITICAL, T0, root, [symptom],
                    {"switch": "sw1"}, [(T0, "opened")]),
        TicketRoute("redmine", project="ops", priority="High"),
    )
    again = TicketAction.from_payload(json.loads(json.dumps(action.to_payload())))
    assert again == action
    assert again.problem.external_key == "proactived-p1"
