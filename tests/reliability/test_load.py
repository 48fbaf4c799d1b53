"""A short bounded load run (the CI variant of ``bench/soak.py``): 80 % of the rate measured in the same run,
while a source is polled, tickets flow to a local Jira and reports run — no error response, the outbox drains."""

from __future__ import annotations

from pathlib import Path

from tests.reliability.load import run_load


def test_sustained_pushes_at_80_percent_of_the_measured_rate_get_no_errors_and_the_outbox_drains(
    tmp_path: Path,
) -> None:
    figures = run_load(tmp_path, measure_s=5, sustain_s=20)
    print("\n" + figures.summary())
    assert figures.measured_rate > 50, "the daemon hardly took any load; the run proves nothing"
    assert figures.errors == {}
    assert figures.achieved_rate > figures.target_rate * 0.8
    assert figures.drained_after_s is not None, "the outbox did not drain within 2 minutes"
    assert figures.reports_ok == 2
    assert figures.tickets == 25  # one per problem, whatever the churn
    assert figures.tickets_under_load == 25, "a steady stream of pushes must not hold tickets back until it stops"
    assert figures.rss_end < figures.rss_middle * 1.5  # loose here; bench/soak checks 10 % over 2 minutes
