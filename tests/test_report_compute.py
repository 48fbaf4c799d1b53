"""Golden tests of the availability arithmetic, to the second (pure: no store, no clock)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from typing import Any

import pytest

from proactived.reports.compute import compute
from proactived.reports.config import ServiceConfig
from proactived.reports.hours import service_intervals
from proactived.reports.intervals import intersect, normalise, total
from proactived.reports.model import IncidentSpans, JobRun, MaintenanceSpan, Report
from proactived.reports.periods import explicit, resolve
from proactived.reports.render import render
from proactived.store.spans import spans_of

NOV = resolve("2026-11", datetime(2026, 12, 5, tzinfo=UTC))
NOV_SECONDS = 30 * 86400
LATER = datetime(2027, 1, 1, tzinfo=UTC)
BERLIN_OFFICE = {"days": "mon-fri", "start": "09:30", "end": "18:30", "time_zone": "Europe/Berlin"}


def ts(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def spans(*pairs: tuple[str, str], name: str = "HostDown", iid: str = "", **labels: str) -> IncidentSpans:
    down = tuple((ts(a).timestamp(), ts(b).timestamp()) for a, b in pairs)
    return IncidentSpans(iid or f"{name}-{pairs[0][0]}", name, {"service": "shop", **labels}, "critical", down)


def service(**kw: Any) -> ServiceConfig:
    return ServiceConfig.model_validate({"name": "shop", "match": 'service="shop"', **kw})


def report(*incidents: IncidentSpans, period: Any = NOV, now: datetime = LATER, **kw: Any) -> Report:
    svc = kw.pop("svc", service())
    return compute("Test", period, now, [svc], list(incidents), **kw)


def test_it_merges_overlapping_outages_into_one_and_counts_the_union() -> None:
    (shop,) = report(
        spans(("2026-11-10T10:00", "2026-11-10T10:30")),
        spans(("2026-11-10T10:20", "2026-11-10T11:00"), name="HttpErrors"),
    ).services
    assert shop.downtime == 3600
    assert shop.problems == 1 and shop.incidents == 2
    assert shop.outages[0].alerts == ("HostDown", "HttpErrors")
    assert shop.service_seconds == NOV_SECONDS
    assert shop.availability == pytest.approx(100 * (1 - 3600 / NOV_SECONDS))
    assert shop.budget_allowed == pytest.approx(2592.0)
    assert shop.budget_remaining == pytest.approx(2592.0 - 3600)
    assert shop.sla_met is False


def test_it_merges_adjacent_outages_and_keeps_separate_ones_apart() -> None:
    (shop,) = report(
        spans(("2026-11-10T10:00", "2026-11-10T10:30")),
        spans(("2026-11-10T10:30", "2026-11-10T11:00"), name="B"),
        spans(("2026-11-12T08:00", "2026-11-12T08:00:42"), name="C"),
    ).services
    assert [o.counted for o in shop.outages] == [3600, 42]
    assert shop.mttr == pytest.approx((3600 + 42) / 2)
    assert shop.mtbf == pytest.approx((NOV_SECONDS - 3642) / 2)
    assert shop.longest is not None and shop.longest.counted == 3600
    assert shop.sla_met is False and shop.budget_remaining == pytest.approx(2592 - 3642)


def test_it_clips_outages_crossing_the_period_edges() -> None:
    (shop,) = report(
        spans(("2026-10-31T23:00", "2026-11-01T01:00")),
        spans(("2026-11-30T23:59:30", "2026-12-01T02:00"), name="Late"),
    ).services
    assert [o.counted for o in shop.outages] == [3600, 30]
    assert shop.outages[0].duration == 7200  # detection to recovery is not clipped
    assert shop.downtime == 3630


def test_it_counts_only_service_hours_across_their_edges() -> None:
    # Monday 9 Nov 2026, Berlin is UTC+1: office hours 08:30-17:30 UTC.
    (shop,) = report(
        spans(("2026-11-09T17:00", "2026-11-09T19:00")),  # 30 min inside, the rest after hours
        spans(("2026-11-14T10:00", "2026-11-14T12:00"), name="Weekend"),  # Saturday: not counted at all
        svc=service(hours=BERLIN_OFFICE),
    ).services
    assert shop.service_seconds == 21 * 9 * 3600  # 21 weekdays in November 2026
    assert shop.downtime == 1800
    assert shop.problems == 1 and shop.outages[0].duration == 7200


def test_it_subtracts_maintenance_inside_an_outage_and_reports_it_separately() -> None:
    window = MaintenanceSpan(ts("2026-11-10T10:30"), ts("2026-11-10T11:00"), ('service="shop"',), "db upgrade")
    (shop,) = report(spans(("2026-11-10T10:00", "2026-11-10T12:00")), windows=[window]).services
    assert shop.planned == 1800
    assert shop.downtime == 5400
    assert shop.service_seconds == NOV_SECONDS - 1800
    assert shop.problems == 1


def test_it_subtracts_maintenance_across_an_outage_start_and_drops_an_outage_fully_planned() -> None:
    windows = [
        MaintenanceSpan(ts("2026-11-10T09:00"), ts("2026-11-10T10:30"), ('host="db1"',)),
        MaintenanceSpan(ts("2026-11-20T01:00"), ts("2026-11-20T03:00"), ('service="shop"',)),
    ]
    (shop,) = report(
        spans(("2026-11-10T10:00", "2026-11-10T11:00"), host="db1"),
        spans(("2026-11-20T01:30", "2026-11-20T02:00"), name="Planned"),
        windows=windows,
    ).services
    assert shop.downtime == 1800
    assert shop.planned == 1.5 * 3600 + 2 * 3600
    assert shop.problems == 1 and shop.outages[0].alerts == ("HostDown",)


def test_a_window_for_other_labels_does_not_apply() -> None:
    window = MaintenanceSpan(ts("2026-11-10T09:00"), ts("2026-11-10T12:00"), ('host="other"',))
    (shop,) = report(spans(("2026-11-10T10:00", "2026-11-10T11:00"), host="db1"), windows=[window]).services
    assert shop.planned == 0 and shop.downtime == 3600


def test_a_month_with_the_autumn_dst_change_has_one_hour_more() -> None:
    october = resolve("2026-10", LATER, "Europe/Berlin")
    assert october.start == ts("2026-09-30T22:00") and october.end == ts("2026-10-31T23:00")
    (shop,) = report(period=october).services
    assert shop.service_seconds == 31 * 86400 + 3600
    assert shop.availability == 100.0 and shop.sla_met is True


def test_service_hours_stay_at_local_time_across_the_spring_dst_change() -> None:
    march = resolve("2026-03", LATER, "Europe/Berlin")
    # Friday 27 March 2026 is UTC+1 (office 08:30-17:30 UTC), Monday 30 March UTC+2 (07:30-16:30 UTC).
    (shop,) = report(
        spans(("2026-03-27T17:00", "2026-03-27T18:00")),
        spans(("2026-03-30T07:00", "2026-03-30T08:00"), name="Monday"),
        period=march,
        svc=service(hours=BERLIN_OFFICE),
    ).services
    assert shop.service_seconds == 22 * 9 * 3600
    assert [o.counted for o in shop.outages] == [1800, 1800]


def test_an_empty_period_is_fully_available_with_no_means() -> None:
    result = report()
    (shop,) = result.services
    assert shop.availability == 100.0 and shop.downtime == 0 and shop.sla_met is True
    assert (shop.mttr, shop.mtta, shop.mtbf, shop.longest) == (None, None, None, None)
    assert shop.budget_remaining == pytest.approx(2592.0) and shop.budget_used_pct == 0


def test_a_period_that_has_not_started_counts_no_time() -> None:
    (shop,) = report(now=ts("2026-10-15T00:00")).services
    assert shop.service_seconds == 0 and shop.availability is None and shop.sla_met is None


def test_a_running_period_stops_at_now_and_an_ongoing_outage_has_no_end() -> None:
    now = ts("2026-11-11T00:00")
    ongoing = IncidentSpans(
        "i1",
        "HostDown",
        {"service": "shop"},
        "critical",
        ((ts("2026-11-10T23:00").timestamp(), now.timestamp()),),  # the store's reader ends it at now
    )
    result = report(ongoing, now=now)
    (shop,) = result.services
    assert result.observed_until == now
    assert shop.service_seconds == 10 * 86400 and shop.downtime == 3600
    assert shop.outages[0].end is None and shop.mttr is None


def test_history_becomes_firing_intervals_from_the_source_start_time() -> None:
    t = ts("2026-11-10T10:00").timestamp()
    events = [
        (t + 5, "opened"),
        (t + 60, "resolved"),
        (t + 90, "reopened"),
        (t + 95, "escalated"),
        (t + 120, "resolved"),
        (t + 600, "resolved"),
    ]
    assert spans_of(events, t) == [(t, t + 60), (t + 90, t + 120)]
    assert spans_of([(t, "opened")], t - 30) == [(t - 30, None)]  # still firing


def test_only_the_configured_severities_count_and_noisy_alerts_are_ranked() -> None:
    warn = IncidentSpans(
        "w",
        "DiskFilling",
        {"service": "shop"},
        "warning",
        ((ts("2026-11-03T00:00").timestamp(), ts("2026-11-03T05:00").timestamp()),),
    )
    flappy = spans(*[(f"2026-11-04T10:0{i}", f"2026-11-04T10:0{i}:30") for i in range(4)], name="Flappy")
    result = report(warn, flappy, svc=service(severities=["critical", "high"]))
    (shop,) = result.services
    assert shop.downtime == 4 * 30 and shop.problems == 4
    assert shop.noisy == (("Flappy", 4),)
    assert result.noisy == (("Flappy", 4), ("DiskFilling", 1))


def test_alerts_that_fired_equally_often_rank_by_their_first_incident_whatever_order_incidents_come_in() -> None:
    incidents = [
        spans((f"2026-11-0{day}T10:00", f"2026-11-0{day}T10:30"), name=name, iid=iid)
        for day, (name, iid) in enumerate((("Zeta", "i1"), ("Alpha", "i3"), ("Mid", "i2"), ("Alpha", "i0")), 1)
    ]
    incidents.append(spans(("2026-11-08T10:00", "2026-11-08T10:30"), name="Zeta", iid="i4"))
    expected = (("Alpha", 2), ("Zeta", 2), ("Mid", 1))  # Alpha's first incident is i0, Zeta's i1
    for order in (incidents, incidents[::-1], random.Random(3).sample(incidents, len(incidents))):
        result = report(*order)
        assert result.noisy == expected
        assert result.services[0].noisy == expected


def test_mtta_comes_from_the_first_acknowledgement_after_the_outage_began() -> None:
    a = spans(("2026-11-10T10:00", "2026-11-10T11:00"), iid="a")
    b = spans(("2026-11-10T10:10", "2026-11-10T10:20"), iid="b", name="B")
    c = spans(("2026-11-12T10:00", "2026-11-12T10:30"), iid="c", name="C")
    acks = {"a": ts("2026-11-10T10:09").timestamp(), "b": ts("2026-11-10T10:07").timestamp()}
    (shop,) = report(a, b, c, acks=acks).services
    assert shop.outages[0].acknowledged_after == 7 * 60
    assert shop.outages[1].acknowledged_after is None
    assert shop.mtta == 7 * 60


def test_jobs_are_summarised_with_rate_lates_failures_and_mean_duration() -> None:
    runs = [
        JobRun("backup-db", "backup", "success", ts("2026-11-01T02:00"), ts("2026-11-01T02:10")),
        JobRun("backup-db", "backup", "failed", ts("2026-11-02T02:00"), ts("2026-11-02T02:20")),
        JobRun("backup-db", "backup", "overrun", ts("2026-11-03T02:00"), ts("2026-11-03T05:00")),
        JobRun("backup-db", "backup", "late"),
        JobRun("apt-update", "update", "success", ts("2026-11-01T03:00"), ts("2026-11-01T03:01")),
    ]
    update, backup = report(job_runs=runs).jobs
    assert (backup.runs, backup.succeeded, backup.failed, backup.late) == (3, 1, 2, 1)
    assert backup.success_rate == pytest.approx(100 / 3)
    assert backup.mean_duration == (600 + 1200 + 10800) / 3
    assert (update.name, update.success_rate, update.mean_duration) == ("apt-update", 100.0, 60.0)


def test_outages_walked_in_one_pass_equal_the_interval_arithmetic_on_a_generated_month() -> None:
    rng = random.Random(3)
    start, end = NOV.start.timestamp(), NOV.end.timestamp()
    incidents = []
    for n in range(400):
        first = start - 86400 + rng.uniform(0, 32 * 86400)
        down = ((first, first + rng.uniform(60, 3000)), (first + 9000, first + 9000 + rng.uniform(0, 2000)))
        incidents.append(IncidentSpans(f"i{n}", f"A{n % 4}", {"service": "shop"}, "critical", down[: 1 + n % 2]))
    svc = service(hours=BERLIN_OFFICE)
    (shop,) = report(*incidents, svc=svc).services
    countable = service_intervals(svc.hours, start, end)
    merged = normalise(span for inc in incidents for span in inc.down if span[1] > start and span[0] < end)
    expected = [(s, total(intersect([(s, e)], countable))) for s, e in merged]
    expected = [(s, counted) for s, counted in expected if counted > 0]
    assert len(expected) > 100
    assert [o.start_ts for o in shop.outages] == [s for s, _ in expected]
    assert [o.counted for o in shop.outages] == pytest.approx([counted for _, counted in expected])
    assert shop.downtime == pytest.approx(total(intersect(merged, countable)))


def test_an_explicit_periods_heading_names_its_time_zone_once() -> None:
    period = explicit("2026-12-01", "2026-12-01T04:00", "Europe/Berlin")
    heading = render("text", report(period=period, now=ts("2026-12-02T00:00"))).splitlines()[1]
    assert heading.count("Europe/Berlin") == 1, heading
