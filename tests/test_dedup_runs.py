"""Runs: a batch folded into runs of one fingerprint in one state deduplicates exactly as the alerts themselves.

The ingest step relies on it to read and write each fingerprint once per batch, and the intake folds stored
requests into runs without building an Alert per repeat; both must store what ``dedup.apply`` decides over the
alerts one by one.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from proactived import dedup
from proactived.dedup import DedupResult, DedupSettings, Incident
from proactived.model import Alert, Severity, Status
from proactived.sources.push import Fold, build_one
from tests.builders import alert
from tests.conftest import T0

SETTINGS = DedupSettings(reopen_window=timedelta(minutes=5), flap_threshold=3)
HOSTS = ("a", "b", "c")


def counter_ids() -> Callable[[], str]:
    numbers = itertools.count(1)
    return lambda: f"n{next(numbers)}"


def outcome(result: DedupResult) -> tuple[object, ...]:
    """Everything a batch decided, comparable across two runs with the same id sequence."""
    return (
        result.inserted,
        result.changed,
        result.repeated,
        result.retired,
        result.history,
        result.actions,
        result.ignored,
    )


alert_strategy = st.builds(
    lambda host, status, severity, note, start, end, url: replace(
        alert(host=host, status=status, severity=severity, at=T0 + timedelta(minutes=start)),
        annotations={"summary": note},
        ends_at=None if end is None else T0 + timedelta(minutes=end),
        generator_url=url,
    ),
    st.sampled_from(HOSTS),
    st.sampled_from([Status.FIRING, Status.RESOLVED]),
    st.sampled_from([Severity.CRITICAL, Severity.WARNING]),
    st.sampled_from(["one", "two"]),
    st.integers(-30, 30),
    st.none() | st.integers(-30, 30),
    st.sampled_from(["", "http://prom/graph"]),
)


def incident_state(
    host: str, status: Status, severity: Severity, resolved_minutes_ago: int, flapping: bool
) -> Incident:
    base = alert(host=host, severity=severity)
    incident = dedup.open_incident(base, T0 - timedelta(hours=1), f"old-{host}")
    if status is Status.RESOLVED:
        incident = replace(incident, status=status, resolved_at=T0 - timedelta(minutes=resolved_minutes_ago))
    if flapping:
        incident = replace(incident, flapping=True, transitions=(T0 - timedelta(minutes=1),), flap_count=3)
    return incident


states_strategy = st.lists(
    st.builds(
        incident_state,
        st.sampled_from(HOSTS),
        st.sampled_from([Status.FIRING, Status.RESOLVED]),
        st.sampled_from([Severity.CRITICAL, Severity.WARNING]),
        st.integers(0, 20),
        st.booleans(),
    ),
    max_size=3,
).map(lambda incidents: {i.fingerprint: i for i in incidents})


@settings(max_examples=400, deadline=None)
@given(states=states_strategy, alerts=st.lists(alert_strategy, max_size=25))
def test_apply_over_runs_decides_exactly_what_it_decides_over_the_alerts(
    states: dict[str, Incident], alerts: list[Alert]
) -> None:
    one_by_one = dedup.apply(states, alerts, T0, SETTINGS, counter_ids())
    runs = dedup.fold(alerts)
    folded = dedup.apply(states, [a for run in runs for a in run.alerts()], T0, SETTINGS, counter_ids())

    assert outcome(folded) == outcome(one_by_one)
    assert sum(run.count for run in runs) == len(alerts)


def test_a_run_breaks_when_the_state_changes_and_keeps_its_first_and_last_alert() -> None:
    first = alert(host="a")
    later = replace(first, annotations={"summary": "later"})
    escalated = alert(host="a", severity=Severity.CRITICAL, name="HostDown")
    batch = [first, alert(host="b"), later, replace(escalated, status=Status.RESOLVED), later]

    runs = dedup.fold(batch)

    assert [(r.fingerprint, r.status, r.count) for r in runs] == [
        (first.fingerprint, Status.FIRING, 2),
        (alert(host="b").fingerprint, Status.FIRING, 1),
        (first.fingerprint, Status.RESOLVED, 1),
        (first.fingerprint, Status.FIRING, 1),
    ]
    assert (runs[0].first(), runs[0].last()) == (first, later)
    assert list(runs[0].alerts()) == [first, later]
    assert runs[0].annotations() == {"summary": "later"}


def pushed(host: str, **fields: object) -> dict[str, object]:
    return {"labels": {"alertname": "HostDown", "host": host, "severity": "critical"}, **fields}


def test_stored_requests_fold_into_runs_that_deduplicate_as_the_alerts_they_build() -> None:
    native = {"fingerprint": "abc", "source": "am"}
    requests = [
        [
            pushed("a", annotations={"n": "1"}, startsAt="2026-11-02T08:50:00Z"),
            pushed("b"),
            pushed("a", annotations={"n": "2"}, startsAt="2026-11-02T08:55:00Z"),
            {"labels": {"alertname": "First"}, **native},
        ],
        [
            pushed("a", status="resolved", endsAt="2026-11-02T08:59:00Z"),
            pushed("a", status="resolved", endsAt="2026-11-02T08:59:30Z"),
            pushed("b", generatorURL="http://x"),
            {"labels": {"alertname": "Renamed"}, **native},
        ],
        [pushed("c", labels={"host": "c", "alertname": "HostDown", "severity": "p5"}), pushed("a")],
    ]
    received = [T0, T0 + timedelta(seconds=1), T0 + timedelta(seconds=2)]
    table = {"p5": Severity.INFO}

    bodies = {key: json.dumps(items).encode() for key, items in enumerate(requests)}
    fold = Fold(table, bodies.__getitem__, known={build_one(requests[0][1], T0).fingerprint})
    for (key, body), at in zip(bodies.items(), received, strict=True):
        fold.add_request(key, json.loads(body), at)
    alerts = [build_one(item, at, table) for items, at in zip(requests, received, strict=True) for item in items]
    built = dedup.fold(alerts)

    assert (fold.alerts, len(fold), fold.changing) == (10, 4, 6)  # all but b's first run (known) and repeats
    assert [(r.fingerprint, r.status, r.severity, r.generator_url, r.count) for r in fold.runs] == [
        (r.fingerprint, r.status, r.severity, r.generator_url, r.count) for r in built
    ]
    assert fold.runs[0].annotations() == {"n": "2"}
    assert fold.runs[0].first().starts_at == T0 - timedelta(minutes=10)  # the first object's, not the last's
    folded = [a for run in fold.runs for a in run.alerts()]
    for states in (
        {},
        {a.fingerprint: dedup.open_incident(a, T0 - timedelta(hours=1), f"old{i}") for i, a in enumerate(alerts)},
        {
            a.fingerprint: replace(
                dedup.open_incident(a, T0 - timedelta(hours=1), f"old{i}"),
                status=Status.RESOLVED,
                resolved_at=T0 - timedelta(minutes=30),
            )
            for i, a in enumerate(alerts)
        },
    ):
        want = dedup.apply(states, alerts, T0, SETTINGS, counter_ids())
        assert outcome(dedup.apply(states, folded, T0, SETTINGS, counter_ids())) == outcome(want)


def test_a_request_that_no_longer_folds_leaves_nothing_of_itself_in_the_fold() -> None:
    fold = Fold(None, {}.__getitem__)
    fold.add_request(1, [pushed("a")], T0)

    try:
        fold.add_request(2, [pushed("b"), pushed("c", startsAt="not a time")], T0)
    except ValueError:
        pass
    else:
        raise AssertionError("a bad stored alert must fail its request")

    assert (fold.alerts, len(fold), [r.count for r in fold.runs]) == (1, 1, [1])


def test_a_run_of_known_repeats_keeps_only_its_annotations_and_reads_its_request_again_when_asked() -> None:
    first, later = pushed("a", annotations={"n": "1"}), pushed("a", annotations={"n": "2"})
    bodies = {7: json.dumps([first]).encode(), 8: json.dumps([pushed("b"), later]).encode()}
    read: list[int] = []

    def load(key: int) -> bytes:
        read.append(key)
        return bodies[key]

    known = {build_one(first, T0).fingerprint, build_one(pushed("b"), T0).fingerprint}
    fold = Fold(None, load, known)
    fold.add_request(7, json.loads(bodies[7]), T0)
    fold.add_request(8, json.loads(bodies[8]), T0 + timedelta(seconds=1))

    run = fold.runs[0]
    assert (fold.changing, run.count, run.annotations(), read) == (0, 2, {"n": "2"}, [])
    assert run.last() == build_one(later, T0 + timedelta(seconds=1))
    assert read == [8]
    assert run.first() == replace(build_one(later, T0 + timedelta(seconds=1)), starts_at=T0)  # no startsAt: received
