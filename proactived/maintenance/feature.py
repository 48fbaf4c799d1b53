"""Installs jobs and maintenance into a runtime: routes, the periodic check, the mute check, reload handling."""

from __future__ import annotations

from collections.abc import Callable

from proactived import telemetry
from proactived.config.models import Config
from proactived.http.wsgi import Route
from proactived.jobs import api as job_api
from proactived.jobs.service import Jobs
from proactived.maintenance import api
from proactived.maintenance.service import Maintenance
from proactived.runtime import Runtime

TICK_ID = "maintenance-tick"


class Ticker:
    """The periodic job: ``run`` raises (tests call it), calling the object guards it (the scheduler does)."""

    def __init__(self, maintenance: Maintenance, jobs: Jobs) -> None:
        self.maintenance = maintenance
        self.jobs = jobs

    def run(self) -> int:
        self.maintenance.tick()
        return self.jobs.tick()

    def __call__(self) -> None:
        try:
            self.run()
        except Exception as exc:  # scheduler boundary: log, try again next round
            telemetry.loop_error(TICK_ID, exc)


def install(rt: Runtime) -> None:
    maintenance = Maintenance(rt)
    jobs = Jobs(rt, maintenance)
    rt.mute_reason = maintenance.mute_reason
    rt.router.add("GET", job_api.PREFIX, lambda req: job_api.list_jobs(jobs), auth=True)
    rt.router.add("POST", "/api/v1/maintenance", lambda req: api.create(maintenance, req), auth=True)
    rt.router.add("GET", "/api/v1/maintenance", lambda req: api.listing(maintenance), auth=True)
    rt.router.add("POST", "/api/v1/maintenance/end", lambda req: api.end(maintenance, req), auth=True)
    add_checkin_routes = _route_adder(rt, jobs)
    ticker = Ticker(maintenance, jobs)
    rt.scheduler.add_job(ticker, "interval", seconds=_interval(rt.config), id=TICK_ID, max_instances=1, coalesce=True)
    add_checkin_routes(rt.config)
    rt.reload_hooks.append(add_checkin_routes)


def _interval(config: Config) -> float:
    return max(1.0, config.maintenance.check_interval.total_seconds())


def _route_adder(rt: Runtime, jobs: Jobs) -> Callable[[Config], None]:
    """Check-in routes of every job (the router matches exact paths); a removed job's routes answer 404."""

    def add(config: Config) -> None:
        routes = dict(rt.router.routes)
        for (method, path), (_, handler) in job_api.routes_for(jobs, sorted(jobs.jobs())).items():
            routes.setdefault((method, path), Route(method, path, handler, False))  # auth: per job, in the handler
        rt.router.routes = routes  # replaced whole: request threads may be reading the old dict
        if rt.scheduler.get_job(TICK_ID) is not None:
            rt.scheduler.reschedule_job(TICK_ID, trigger="interval", seconds=_interval(config))

    return add
