"""A bounded loopback load run against a real daemon process, shared by the CI test and ``bench/soak.py``.

1. measure: as many pushes as a few client threads can get acknowledged for ``measure_s`` seconds;
2. sustain: pushes paced at ``fraction`` of that rate for ``sustain_s`` seconds while an Alertmanager source
   is polled, problems open and resolve tickets in a local Jira, and ``proactived report`` runs twice;
3. settle: wait for the accepted pushes to be deduplicated and the outbox to drain.
Nothing here asserts; callers check the figures.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from sqlalchemy import func, select

from proactived.store import Store
from proactived.store.schema import intake, outbox
from tests.desks.jira import FakeJira, running_jira
from tests.fake_monitoring import ALERTMANAGER_ALERTS, fake_monitoring
from tests.process import DaemonProcess
from tests.reliability.pipeline import pipeline_yaml
from tests.running import TOKEN

BATCH = 10
CLIENTS = 4


@dataclass
class LoadFigures:
    measured_rate: float = 0.0  # alerts per second acknowledged at full speed
    target_rate: float = 0.0
    sent_alerts: int = 0
    achieved_rate: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)  # status or exception name -> count
    reports_ok: int = 0
    tickets: int = 0  # of the 25 RelDown problems (the rule's title is "<host> is down")
    tickets_under_load: int = 0  # of those, in the desk when the sustained pushes stopped
    other_tickets: int = 0  # LoadAlerts are in no rule: each gets its own ticket once the default rule's hold is due
    drained_after_s: float | None = None
    rss_kib: list[int] = field(default_factory=list)  # sampled every second during the sustained phase

    @property
    def rss_middle(self) -> int:
        return self.rss_kib[len(self.rss_kib) // 2]

    @property
    def rss_end(self) -> int:
        return self.rss_kib[-1]

    def summary(self) -> str:
        return (f"measured {self.measured_rate:.0f} alerts/s; sustained {self.achieved_rate:.0f}/s "
                f"(target {self.target_rate:.0f}/s), {self.sent_alerts} alerts, errors {self.errors or 'none'}, "
                f"{self.tickets} tickets ({self.tickets_under_load} under load; {self.other_tickets} others), "
                f"{self.reports_ok} reports, "
                f"outbox drained after {self.drained_after_s}s, "
                f"RSS middle {self.rss_middle} KiB end {self.rss_end} KiB")  # fmt: skip


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _problem_tickets(jira: FakeJira) -> int:
    """Tickets of the RelDown problems (LoadAlerts, in no rule, open their own once due)."""
    return sum(1 for issue in list(jira.issues.values()) if str(issue.fields.get("summary", "")).endswith(" is down"))


def _batch(n: int) -> list[dict[str, object]]:
    alerts: list[dict[str, object]] = [
        {"labels": {"alertname": "LoadAlert", "host": f"h{(n * BATCH + i) % 500}", "severity": "warning"}}
        for i in range(BATCH - 1)
    ]
    host = f"t{n % 25}"  # 25 problems that open, resolve and reopen tickets as the load runs
    alerts.append({"labels": {"alertname": "RelDown", "host": host, "severity": "critical"},
                   "status": "firing" if (n // 25) % 2 == 0 else "resolved"})  # fmt: skip
    return alerts


def run_load(tmp_path: Path, measure_s: float, sustain_s: float, fraction: float = 0.8) -> LoadFigures:
    figures = LoadFigures()
    lock = threading.Lock()
    counter = iter(range(10**9))
    session_headers = {"Authorization": f"Bearer {TOKEN}"}
    with running_jira("cloud") as jira, fake_monitoring() as am:
        am.serve(ALERTMANAGER_ALERTS, [])
        extra = (pipeline_yaml(tmp_path, jira)
                 + f"sources:\n  - name: am\n    type: alertmanager\n    url: {am.url}\n    interval: 5s\n"
                 + "services:\n  - name: load\n    match: 'alertname=\"RelDown\"'\n    target: 99.9\n")  # fmt: skip
        daemon = DaemonProcess(tmp_path, extra.replace("level: debug", "level: info"))
        daemon.config_path.write_text(daemon.config_path.read_text().replace("level: debug", "level: info"))
        daemon.start()
        try:

            def client(until: float, interval: float, sent: list[int]) -> None:
                session = requests.Session()
                next_at = time.monotonic()
                while (now := time.monotonic()) < until:
                    if interval:
                        if now < next_at:
                            time.sleep(next_at - now)
                        next_at += interval
                    try:
                        r = session.post(daemon.url + "/api/v1/alerts", json=_batch(next(counter)),
                                         headers=session_headers, timeout=10)  # fmt: skip
                        key = None if r.status_code == 200 else str(r.status_code)
                    except requests.RequestException as exc:
                        key = type(exc).__name__
                    with lock:
                        if key:
                            figures.errors[key] = figures.errors.get(key, 0) + 1
                        else:
                            sent[0] += BATCH

            # 1. measure
            sent, started = [0], time.monotonic()
            threads = [threading.Thread(target=client, args=(started + measure_s, 0.0, sent)) for _ in range(CLIENTS)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            figures.measured_rate = sent[0] / (time.monotonic() - started)
            figures.target_rate = figures.measured_rate * fraction
            figures.errors.clear()

            # 2. sustain, with reports and RSS samples alongside
            interval = CLIENTS * BATCH / figures.target_rate
            sent, started = [0], time.monotonic()
            threads = [threading.Thread(target=client, args=(started + sustain_s, interval, sent))
                       for _ in range(CLIENTS)]  # fmt: skip
            for t in threads:
                t.start()
            report_at = {started + sustain_s * 0.3, started + sustain_s * 0.7}
            assert daemon.proc is not None
            while time.monotonic() < started + sustain_s:
                figures.rss_kib.append(_rss(daemon.proc.pid))
                if report_at and time.monotonic() >= min(report_at):
                    report_at.discard(min(report_at))
                    done = subprocess.run([sys.executable, "-m", "proactived", "report", "--config",
                                           str(daemon.config_path), "--period", "this-month", "--format", "json"],
                                          capture_output=True, timeout=120)  # fmt: skip
                    figures.reports_ok += done.returncode == 0
                time.sleep(1.0)
            for t in threads:
                t.join()
            figures.sent_alerts = sent[0]
            figures.achieved_rate = sent[0] / (time.monotonic() - started)
            figures.rss_kib.append(_rss(daemon.proc.pid))
            figures.tickets_under_load = _problem_tickets(jira)

            # 3. settle
            store = Store(f"sqlite:///{tmp_path}/state/proactived.db")
            try:
                settle_started = time.monotonic()
                while time.monotonic() < settle_started + 120:
                    with store.reading() as conn:  # accepted pushes still to deduplicate, then tickets to send
                        pending = conn.execute(select(func.count()).select_from(intake)).scalar()
                        pending = (
                            pending or conn.execute(select(func.count()).where(outbox.c.done_at.is_(None))).scalar()
                        )
                    if not pending:
                        figures.drained_after_s = round(time.monotonic() - settle_started, 1)
                        break
                    time.sleep(0.5)
            finally:
                store.close()
            figures.tickets = _problem_tickets(jira)
            figures.other_tickets = len(jira.issues) - figures.tickets
        finally:
            daemon.stop()
    return figures
