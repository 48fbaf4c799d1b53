"""The correlation feature in the daemon: the outbox stage, the periodic tick, reload (SIGHUP and ``/-/reload``)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import Connection

from proactived import telemetry
from proactived.config.load import load_config
from proactived.config.models import Config
from proactived.dedup import IncidentEvent
from proactived.errors import ConfigError
from proactived.http.wsgi import Request, Response, json_response
from proactived.ingest import TOPIC_INCIDENT
from proactived.model import Status
from proactived.rules import correlate, store, views
from proactived.rules.correlate import Change
from proactived.rules.load import load_for_config
from proactived.rules.problem import Outcome
from proactived.rules.ruleset import RuleSet, group_hash, labels_of
from proactived.runtime import Runtime
from proactived.store import incidents as incident_rows
from proactived.store import outbox
from proactived.ticket_actions import TOPIC_TICKET

BATCH = 1000
TICK_SECONDS = 5

RULES_LOADED = Gauge("proactived_rules_loaded", "Correlation rules in the running set", registry=None)
RULES_RELOAD_OK = Gauge(
    "proactived_rules_last_reload_successful", "1 if the last rule (re)load succeeded", registry=None
)
RULES_ERRORS = Gauge("proactived_rules_errors", "Problems found in the rule files at the last load", registry=None)
PROBLEM_EVENTS = Counter("proactived_problem_events", "Problem changes and ticket actions", ["event"], registry=None)
CORRELATE_SECONDS = Histogram(
    "proactived_correlation_batch_seconds",
    "Time to correlate one batch of incident events",
    registry=None,
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
# Registered here so that the /metrics registry (built by core_api.install, after this import) includes them.
telemetry.ALL_METRICS.extend([RULES_LOADED, RULES_RELOAD_OK, RULES_ERRORS, PROBLEM_EVENTS, CORRELATE_SECONDS])


def rules_loaded(count: int) -> None:
    RULES_LOADED.set(count)
    RULES_RELOAD_OK.set(1)
    RULES_ERRORS.set(0)
    telemetry.event("rules_loaded", rules=count)


def rules_rejected(problems: list[str]) -> None:
    RULES_RELOAD_OK.set(0)
    RULES_ERRORS.set(len(problems))
    for problem in problems:
        telemetry.event("rules_error", logging.ERROR, problem=problem)
    telemetry.event("rules_reload_rejected", logging.ERROR, problems=len(problems), kept="running rule set")


def correlated(events: int, outcome: Outcome, seconds: float) -> None:
    CORRELATE_SECONDS.observe(seconds)
    PROBLEM_EVENTS.labels("created").inc(len(outcome.created))
    for decision in outcome.decisions:
        PROBLEM_EVENTS.labels("ticket_" + decision.kind.value).inc()
        telemetry.event("ticket_action", kind=decision.kind.value, problem=decision.problem_id, reason=decision.reason)
    telemetry.event(
        "incidents_correlated",
        logging.DEBUG,
        events=events,
        problems=len(outcome.problems),
        created=len(outcome.created),
        ms=round(seconds * 1000, 2),
    )


class Correlation:
    """Holds the running rule set and runs correlation steps against the store."""

    def __init__(self, rt: Runtime, rules: RuleSet) -> None:
        self.rt = rt
        self.rules = rules
        self._staged: tuple[Config, RuleSet] | None = None
        self._lock = threading.Lock()

    def mute(self, labels: Mapping[str, str], now: datetime) -> str:
        return self.rt.mute_reason(labels, now)

    def run_once(self) -> int:
        """Correlate up to BATCH incident events in one transaction; returns how many were handled."""
        started = time.perf_counter()
        rules, now = self.rules, self.rt.clock.now()
        with self.rt.store.transaction() as conn:
            rows = outbox.take(conn, TOPIC_INCIDENT, now, limit=BATCH)
            if not rows:
                return 0
            by_id = incident_rows.load_by_ids(conn, (r.payload["incident_id"] for r in rows))
            changes = [
                Change(
                    by_id[p["incident_id"]],
                    IncidentEvent(p["event"]),
                    Status(p["status"]),
                    datetime.fromisoformat(p["at"]),
                )
                for p in (r.payload for r in rows)
                if p["incident_id"] in by_id
            ]
            hashes = {
                group_hash(rule.name, key)
                for c in changes
                if c.status is Status.FIRING
                for rule, key, _ in correlate.routes(rules, labels_of(c.incident))
            }
            state = store.load_state(conn, {c.incident.id: c.incident for c in changes}, hashes, lock=True)
            resolved = {c.incident.id for c in changes if c.status is Status.RESOLVED}
            store.load_firing_members(
                conn, state, [p.id for p in state.problems.values() if p.root_cause_id in resolved]
            )
            outcome = correlate.apply(state, changes, rules, now, self.mute)
            self._write(conn, outcome, rules, now)
            outbox.finish(conn, [r.id for r in rows], now)
        correlated(len(rows), outcome, time.perf_counter() - started)
        return len(rows)

    def tick(self) -> int:
        """Time-driven decisions for problems that are due: open after hold, resolve after hold, updates."""
        rules, now = self.rules, self.rt.clock.now()
        with self.rt.store.transaction() as conn:
            state = store.load_due(conn, now)
            if not state.problems:
                return 0
            store.load_firing_members(conn, state, [p.id for p in state.problems.values() if p.muted_by])
            outcome = correlate.tick(state, rules, now, self.mute)
            self._write(conn, outcome, rules, now)
        correlated(0, outcome, 0.0)
        return len(outcome.problems)

    def _write(self, conn: Connection, outcome: Outcome, rules: RuleSet, now: datetime) -> None:
        store.write(conn, outcome)
        items = []
        for decision in outcome.decisions:
            problem = outcome.problems[decision.problem_id]
            root, symptoms, total, timeline = store.view_parts(conn, problem, views.MAX_SYMPTOMS)
            action = views.ticket_action(
                decision, problem, views.problem_view(problem, root, symptoms, total, timeline), rules
            )
            if action is not None:
                items.append((TOPIC_TICKET, problem.id, action.kind.value, action.to_payload()))
        outbox.enqueue_many(conn, items, now)

    def validate(self, config: Config) -> RuleSet:
        """The rule set ``config`` points at; ConfigError when broken. Staged for the reload hook."""
        rules = load_for_config(config, self.rt.config_path)
        self._staged = (config, rules)
        return rules

    def reload(self, config: Config) -> None:
        """Reload hook: swap in the new rules, or keep the running ones (logged, metric) if they are broken."""
        with self._lock:
            staged, self._staged = self._staged, None
            if staged is not None and staged[0] is config:
                rules = staged[1]
            else:
                try:
                    rules = load_for_config(config, self.rt.config_path)
                except ConfigError as exc:
                    rules_rejected(exc.problems)
                    return
            self.rules = rules
            rules_loaded(len(rules.rules))


def post_reload(rt: Runtime, corr: Correlation, _request: Request) -> Response:
    """``POST /-/reload``: re-read the config and rules; 400 with every problem (and nothing changed) if broken."""
    try:
        config = load_config(rt.config_path)
        corr.validate(config)
    except ConfigError as exc:
        telemetry.config_reloaded(False, len(exc.problems))
        rules_rejected(exc.problems)
        return json_response(400, {"status": "error", "errors": exc.problems})
    rt.apply_config(config)
    telemetry.config_reloaded(True)
    return json_response(200, {"status": "success", "rules": len(corr.rules.rules)})


def _guard(name: str, job: Callable[[], int]) -> Callable[[], None]:
    def run() -> None:
        try:
            job()
        except Exception as exc:  # scheduler boundary: log and try again next round
            telemetry.loop_error(name, exc)

    return run


def install(rt: Runtime) -> None:
    """Load the rules (ConfigError stops the start), add the stage, the tick, the reload hook and endpoint."""
    corr = Correlation(rt, load_for_config(rt.config, rt.config_path))
    rules_loaded(len(corr.rules.rules))
    rt.dispatcher.add_stage("correlate", rt.in_turn(corr.run_once))
    rt.scheduler.add_job(
        _guard("correlation-tick", corr.tick),
        "interval",
        seconds=TICK_SECONDS,
        id="correlation-tick",
        max_instances=1,
        coalesce=True,
    )
    rt.reload_hooks.append(corr.reload)
    rt.router.add("POST", "/-/reload", lambda req: post_reload(rt, corr, req), auth=True)
