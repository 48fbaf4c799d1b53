"""The report agrees with Prometheus: a real target goes down for known spans, TargetDown alerts flow into the
daemon (resolved ones with Prometheus' own end time, as its notifier sends them), and the reported availability
matches ``avg_over_time(up[...])`` within one scrape interval per outage."""

from __future__ import annotations

import threading
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy import func, select

from proactived.reports import periods
from proactived.reports.runner import build
from proactived.store.schema import incidents
from tests.running import RunningDaemon, make_config, running_daemon

if TYPE_CHECKING:
    from tests.peers.prometheus import PrometheusStack

pytest_plugins = ["tests.peers.prometheus"]
pytestmark = pytest.mark.peer

SCRAPE_INTERVAL = 1.0
DOWN_FOR = 6.0
UP_FOR = 5.0


class AlertRelay:
    """Polls Prometheus' /api/v1/alerts and pushes firing and resolved TargetDown alerts to the daemon."""

    def __init__(self, stack: PrometheusStack, daemon: RunningDaemon) -> None:
        self.stack, self.daemon = stack, daemon
        self.firing: dict[str, dict[str, Any]] = {}
        self.resolved = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            seen = {
                a["labels"]["instance"]: a for a in self.stack.prometheus_alerts("TargetDown") if a["state"] == "firing"
            }
            for key, item in seen.items():
                if key not in self.firing:
                    self._push(item, "firing")
                    self.firing[key] = item
            gone = [k for k in self.firing if k not in seen]
            if gone:
                ended = self._last_evaluation()  # the rule evaluation that found the target up again
                for key in gone:
                    self._push(self.firing.pop(key), "resolved", ended)
                    self.resolved += 1

    def _last_evaluation(self) -> str:
        """When Prometheus last evaluated TargetDown, as its notifier would send it in a resolved alert's endsAt."""
        from tests.peers.prometheus import get_json  # imported as a pytest plugin below, so not at the top

        groups = get_json(f"{self.stack.prometheus_url}/api/v1/rules?type=alert")["data"]["groups"]
        (rule,) = [r for g in groups for r in g["rules"] if r["name"] == "TargetDown"]
        return str(rule["lastEvaluation"])

    def _push(self, item: dict[str, Any], status: str, ends_at: str | None = None) -> None:
        body = [{"labels": item["labels"], "startsAt": item["activeAt"], "status": status, "source": "prometheus"}]
        if ends_at:
            body[0]["endsAt"] = ends_at
        assert self.daemon.post("/api/v1/alerts", body).status_code == 200

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.mark.parametrize("reopen_window", ["1s", "1h"], ids=["an incident per outage", "one incident reopened"])
def test_report_availability_matches_prometheus_up_average(
    prometheus_stack: PrometheusStack, tmp_path: Path, reopen_window: str
) -> None:
    stack = prometheus_stack
    stack.reset()
    services = [{"name": "harness target", "match": ['alertname="TargetDown"', f'job="{stack.target_job}"']}]
    # The second outage either opens its own incident (reopen window shorter than the gap) or reopens the
    # first: both count from Prometheus' activeAt (before the ``for: 2s``) and end at its resolving evaluation.
    config = make_config(tmp_path, services=services, dedup={"reopen_window": reopen_window})
    with running_daemon(config) as daemon:
        relay = AlertRelay(stack, daemon)
        try:
            begin = float(int(time.time()) + 1)
            time.sleep(begin - time.time())
            for _ in range(2):  # the known down spans
                stack.kill_target()
                time.sleep(DOWN_FOR)
                stack.start_target()
                time.sleep(UP_FOR)
            stack.wait_for(lambda: relay.resolved == 2 and not relay.firing, 20, what="both outages to resolve")
        finally:
            relay.stop()
        end = float(int(time.time()) + 1)
        time.sleep(max(0.0, end - time.time()) + 1.5)  # let Prometheus ingest the sample at `end`
        period = periods.explicit(
            datetime.fromtimestamp(begin, UTC).isoformat(), datetime.fromtimestamp(end, UTC).isoformat()
        )
        report = build(daemon.rt.store, daemon.rt.config.services, period, datetime.now(UTC), "peer")
        with daemon.rt.store.reading() as conn:  # both paths were taken: two incidents, or one reopened
            stored = conn.execute(select(func.count()).select_from(incidents)).scalar()
    (target,) = report.services
    assert target.problems == 2
    assert stored == (2 if reopen_window == "1s" else 1)
    seconds = int(end - begin)
    query = urllib.parse.urlencode({"query": f'avg_over_time(up{{job="{stack.target_job}"}}[{seconds}s])', "time": end})
    from tests.peers.prometheus import get_json

    (sample,) = get_json(f"{stack.prometheus_url}/api/v1/query?{query}")["data"]["result"]
    prometheus_pct = 100 * float(sample["value"][1])
    tolerance = 100 * target.problems * SCRAPE_INTERVAL / seconds
    print(f"report {target.availability:.3f} %, prometheus {prometheus_pct:.3f} %, tolerance {tolerance:.3f} points")
    assert target.availability is not None
    assert abs(target.availability - prometheus_pct) <= tolerance, (target.availability, prometheus_pct, tolerance)
    assert target.service_seconds == seconds
