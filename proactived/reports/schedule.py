"""The reports feature inside the daemon: cron runs through APScheduler, catch-up after downtime, retries.

Each report's latest cron time since it was first configured decides the period due (``last-month`` at
the 1st 07:00 → the previous month). The ledger decides whether that period still needs sending, so a
missed run is caught up once after a restart, a failed one is retried hourly, and none is sent twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import proactived.reports.events  # noqa: F401  # registers the report metrics at start (the rest loads when due)
from proactived import telemetry
from proactived.config.models import Config
from proactived.config.yamlsource import YamlSyntaxError, read_yaml
from proactived.errors import ConfigError
from proactived.reports import ledger, periods
from proactived.reports.config import ReportConfig, reference_problems
from proactived.runtime import Runtime
from proactived.store import Store

if TYPE_CHECKING:
    from proactived.reports.inputs import Inputs
    from proactived.reports.mail import SmtpSender

RETRY_EVERY = timedelta(hours=1)
_LOOKBACKS = (timedelta(days=2), timedelta(days=33), timedelta(days=370))


def latest_run(cfg: ReportConfig, since: datetime, now: datetime) -> datetime | None:
    """The latest cron time in ``(since, now]``, or None."""
    trigger = cfg.trigger()
    for lookback in _LOOKBACKS:
        found: datetime | None = None
        probe = trigger.get_next_fire_time(None, max(since, now - lookback))
        while probe is not None and probe <= now:
            if probe > since:
                found = probe
            probe = trigger.get_next_fire_time(probe, probe + timedelta(seconds=1))
        if found is not None or now - lookback <= since:
            return found
    return None


def check(config: Config, config_path: Path | None = None) -> None:
    """Cross-section problems (unknown services, duplicate names) as ConfigError, located in the file if we can."""
    problems = reference_problems(config.services, config.reports)
    if config.reports and config.smtp is None:
        problems.append((("reports",), "reports are scheduled but there is no smtp section to send them"))
    if not problems:
        return
    lines = []
    for path, message in problems:
        where = ""
        if config_path is not None:
            try:
                doc = read_yaml(config_path)
                line, col = doc.locate(path)
                where = f"{config_path}:{line}:{col}: "
            except YamlSyntaxError:
                pass
        lines.append(f"{where}{'.'.join(str(p) for p in path)}: {message}")
    raise ConfigError(lines)


class ReportScheduler:
    """Keeps one APScheduler cron job per configured report and runs what is due."""

    def __init__(self, rt: Runtime, inputs: Inputs | None = None, sender: SmtpSender | None = None) -> None:
        """``inputs``: None reads planned downtime, job runs and acknowledgements from the store."""
        self.rt = rt
        self.inputs = inputs
        self.sender = sender

    def apply(self, config: Config) -> None:
        """(Re)schedule the reports of ``config``; called at install and on every reload."""
        for job in self.rt.scheduler.get_jobs():
            if job.id.startswith("report:"):
                job.remove()
        for cfg in config.reports:
            self.rt.scheduler.add_job(
                self.run_due,
                cfg.trigger(),
                args=[cfg.name],
                id=f"report:{cfg.name}",
                coalesce=True,
                max_instances=1,
                misfire_grace_time=3600,
            )

    def run_due(self, name: str) -> str:
        """Send the period due for report ``name`` if it is not sent yet; returns what happened."""
        try:
            return self._run_due(name)
        except Exception as exc:  # scheduler boundary: log, count, and try again at the next run
            telemetry.loop_error(f"report:{name}", exc)
            return "error"

    def _run_due(self, name: str) -> str:
        config, store, now = self.rt.config, self.rt.store, self.rt.clock.now()
        cfg = next((r for r in config.reports if r.name == name), None)
        if cfg is None or config.smtp is None:
            return "not-configured"
        with store.transaction() as conn:
            registered, _ = ledger.schedule_marks(conn, name, now)
        fire = latest_run(cfg, registered, now)
        if fire is None:
            return "nothing-due"
        period = periods.resolve(cfg.period, fire, cfg.time_zone)
        # The report pipeline (computation, rendering, mail) loads when a report is first due, not at start.
        from proactived.reports.runner import deliver

        outcome = deliver(store, cfg, config.services, config.smtp, period, now, self.inputs, self.sender)
        with store.transaction() as conn:
            ledger.mark_run(conn, name, fire)
        return outcome

    def catch_up(self) -> dict[str, str]:
        """Run every report whose latest period is not sent (after a restart, and hourly for failed sends)."""
        return {cfg.name: self.run_due(cfg.name) for cfg in self.rt.config.reports}


def register_all(store: Store, config: Config, now: datetime) -> None:
    """Record the first sighting of each report, so a new report does not send an old period at once."""
    with store.transaction() as conn:
        for cfg in config.reports:
            ledger.schedule_marks(conn, cfg.name, now)


def install(rt: Runtime) -> None:
    """Validate references, schedule the reports, and catch up once the scheduler starts."""
    check(rt.config, rt.config_path if rt.config_path.exists() else None)
    if not rt.config.reports:
        return
    register_all(rt.store, rt.config, rt.clock.now())
    scheduler = ReportScheduler(rt)
    scheduler.apply(rt.config)
    rt.reload_hooks.append(scheduler.apply)
    rt.reload_hooks.append(lambda config: register_all(rt.store, config, rt.clock.now()))
    rt.scheduler.add_job(scheduler.catch_up, id="reports-catch-up", misfire_grace_time=None)
    rt.scheduler.add_job(
        scheduler.catch_up, "interval", seconds=RETRY_EVERY.total_seconds(), id="reports-retry", coalesce=True
    )
