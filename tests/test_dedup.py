"""Timeline tests of the pure dedup core: repeats, resolve, reopen, flapping."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from itertools import count

from proactived import dedup
from proactived.dedup import DedupResult, DedupSettings, Incident, IncidentEvent
from proactived.model import Alert, Severity, Status
from tests.builders import alert
from tests.conftest import T0

SETTINGS = DedupSettings(
    reopen_window=timedelta(hours=1),
    flap_threshold=4,
    flap_window=timedelta(minutes=15),
    stable_for=timedelta(minutes=10),
)


class Timeline:
    """Feeds alerts at given offsets and keeps the resulting state, like the store would."""

    def __init__(self, settings: DedupSettings = SETTINGS) -> None:
        self.settings = settings
        self.state: dict[str, Incident] = {}
        self.actions: list[tuple[int, IncidentEvent]] = []
        self.ids = count(1)

    def _keep(self, result: DedupResult, second: int) -> None:
        for inc in [*result.inserted.values(), *result.changed.values(), *result.repeated.values()]:
            self.state[inc.fingerprint] = inc
        self.actions += [(second, a.event) for a in result.actions]

    def at(self, second: int, alerts: Sequence[Alert]) -> DedupResult:
        result = dedup.apply(
            self.state, alerts, T0 + timedelta(seconds=second), self.settings, new_id=lambda: f"i{next(self.ids)}"
        )
        self._keep(result, second)
        return result

    def tick(self, second: int) -> DedupResult:
        result = dedup.tick(self.state.values(), T0 + timedelta(seconds=second), self.settings)
        self._keep(result, second)
        return result

    def only(self) -> Incident:
        assert len(self.state) == 1
        return next(iter(self.state.values()))


FIRING = alert(host="web1")
RESOLVED = alert(host="web1", status=Status.RESOLVED)


def test_it_folds_100_repeats_into_one_incident_with_one_action() -> None:
    t = Timeline()
    for second in range(100):
        t.at(second, [FIRING])
    incident = t.only()
    assert incident.count == 100
    assert incident.first_seen == T0
    assert incident.last_seen == T0 + timedelta(seconds=99)
    assert t.actions == [(0, IncidentEvent.OPENED)]


def test_it_counts_repeats_within_one_batch() -> None:
    t = Timeline()
    result = t.at(0, [FIRING] * 5)
    assert next(iter(result.inserted.values())).count == 5
    assert t.actions == [(0, IncidentEvent.OPENED)]


def test_a_repeat_writes_only_the_cheap_bump() -> None:
    t = Timeline()
    t.at(0, [FIRING])
    result = t.at(30, [FIRING])
    assert not result.inserted and not result.changed and not result.history
    assert next(iter(result.repeated.values())).count == 2


def test_it_resolves_then_reopens_the_same_incident_within_the_window() -> None:
    t = Timeline()
    t.at(0, [FIRING])
    t.at(60, [RESOLVED])
    assert t.only().status is Status.RESOLVED
    assert t.only().resolved_at == T0 + timedelta(seconds=60)
    t.at(90, [FIRING])
    incident = t.only()
    assert incident.id == "i1"
    assert incident.status is Status.FIRING and incident.resolved_at is None
    assert t.actions == [(0, IncidentEvent.OPENED), (60, IncidentEvent.RESOLVED), (90, IncidentEvent.REOPENED)]


def test_a_resolve_counts_from_the_sources_end_time_within_what_we_saw() -> None:
    def ended(second: int) -> Alert:
        return replace(RESOLVED, ends_at=T0 + timedelta(seconds=second))

    t = Timeline()
    t.at(0, [FIRING])
    t.at(20, [FIRING])
    result = t.at(300, [ended(45)])  # a notification five minutes late: it ended at 45 s
    assert t.only().resolved_at == T0 + timedelta(seconds=45)
    assert [(a.event, a.at) for a in result.actions] == [(IncidentEvent.RESOLVED, T0 + timedelta(seconds=45))]
    assert t.only().last_seen == T0 + timedelta(seconds=300)  # when we heard it

    t.at(400, [FIRING])  # reopened; then an end time before we last heard it firing: not earlier than that
    t.at(500, [ended(350)])
    assert t.only().resolved_at == T0 + timedelta(seconds=400)
    t.at(600, [FIRING])
    t.at(700, [ended(900)])  # the source's clock runs ahead of ours: not later than now
    assert t.only().resolved_at == T0 + timedelta(seconds=700)


def test_a_relapse_counts_from_the_sources_new_start_time_when_it_proves_a_new_firing() -> None:
    t = Timeline(replace(SETTINGS, flap_threshold=10))
    t.at(0, [FIRING])
    t.at(60, [RESOLVED])
    result = t.at(90, [replace(FIRING, starts_at=T0 + timedelta(seconds=80))])  # e.g. activeAt before a `for:`
    assert [(a.event, a.at) for a in result.actions] == [(IncidentEvent.REOPENED, T0 + timedelta(seconds=80))]
    t.at(120, [RESOLVED])
    result = t.at(150, [FIRING])  # the first firing's start time again: no proof of when it came back
    assert [(a.event, a.at) for a in result.actions] == [(IncidentEvent.REOPENED, T0 + timedelta(seconds=150))]
    t.at(180, [RESOLVED])
    result = t.at(200, [replace(FIRING, starts_at=T0 + timedelta(seconds=900))])  # a clock ahead of ours
    assert [(a.event, a.at) for a in result.actions] == [(IncidentEvent.REOPENED, T0 + timedelta(seconds=200))]


def test_it_opens_a_new_incident_after_the_reopen_window() -> None:
    t = Timeline()
    t.at(0, [FIRING])
    t.at(60, [RESOLVED])
    result = t.at(60 + 3601, [FIRING])
    assert result.retired == {"i1"}
    assert list(result.inserted) == ["i2"]
    assert t.actions[-1] == (3661, IncidentEvent.OPENED)


def test_a_resolve_for_an_unknown_or_resolved_alert_is_ignored() -> None:
    t = Timeline()
    assert t.at(0, [RESOLVED]).ignored == 1
    t.at(1, [FIRING])
    t.at(2, [RESOLVED])
    assert t.at(3, [RESOLVED]).ignored == 1
    assert t.actions == [(1, IncidentEvent.OPENED), (2, IncidentEvent.RESOLVED)]


def test_distinct_label_sets_are_distinct_incidents() -> None:
    t = Timeline()
    t.at(0, [alert(host="web1"), alert(host="web2"), alert(host="web1")])
    assert sorted(i.count for i in t.state.values()) == [1, 2]


def test_a_severity_rise_escalates_and_a_fall_is_recorded_quietly() -> None:
    t = Timeline()
    t.at(0, [alert(host="web1", severity=Severity.WARNING)])
    t.at(10, [alert(host="web1", severity=Severity.CRITICAL)])
    assert t.only().severity is Severity.CRITICAL
    t.at(20, [alert(host="web1", severity=Severity.WARNING)])
    assert t.only().severity is Severity.WARNING
    assert t.actions == [(0, IncidentEvent.OPENED), (10, IncidentEvent.ESCALATED)]


def test_it_marks_an_alert_flapping_and_stops_churning_downstream() -> None:
    t = Timeline()
    t.at(0, [FIRING])
    for second in range(30, 600, 30):  # resolve, re-fire, resolve, … every 30 s
        t.at(second, [RESOLVED if (second // 30) % 2 else FIRING])
    incident = t.only()
    assert incident.flapping
    assert incident.flap_count == 19
    events = [e for _, e in t.actions]
    assert events == [
        IncidentEvent.OPENED,
        IncidentEvent.RESOLVED,
        IncidentEvent.REOPENED,
        IncidentEvent.RESOLVED,
        IncidentEvent.FLAPPING,
    ]


def test_a_flapping_alert_that_settles_resolved_sends_the_held_back_resolve() -> None:
    t = Timeline()
    t.at(0, [FIRING])
    for second in (30, 60, 90, 120, 150):
        t.at(second, [RESOLVED if second in (30, 90, 150) else FIRING])
    assert t.only().flapping and t.only().status is Status.RESOLVED
    assert not t.tick(150 + 599).actions  # not quiet long enough yet
    result = t.tick(150 + 600)
    assert [a.event for a in result.actions] == [IncidentEvent.RESOLVED]
    assert not t.only().flapping


def test_a_flapping_alert_that_settles_firing_reports_stable() -> None:
    t = Timeline()
    t.at(0, [FIRING])
    for second in (30, 60, 90, 120):
        t.at(second, [RESOLVED if second in (30, 90) else FIRING])
    assert t.only().flapping and t.only().status is Status.FIRING
    result = t.tick(120 + 601)
    assert [a.event for a in result.actions] == [IncidentEvent.STABLE]


def test_slow_state_changes_outside_the_window_never_flap() -> None:
    t = Timeline()
    for n in range(8):
        t.at(n * 1200, [FIRING if n % 2 == 0 else RESOLVED])  # one change every 20 minutes
    assert not t.only().flapping
    assert len(t.actions) == 8
