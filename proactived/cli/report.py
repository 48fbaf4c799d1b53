"""``proactived report``: compute an availability report from the store; print, save or e-mail it."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from proactived.cli.common import add_config_option, config_or_exit
from proactived.errors import ConfigError, StoreError
from proactived.reports import periods
from proactived.reports.config import ReportConfig
from proactived.reports.schedule import check
from proactived.store import Store


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "report",
        help="availability report from the incident history",
        description="Compute per-service availability against SLA targets, downtime, incidents, MTTA/MTTR and job "
        "success for a period; print or write it as HTML, text, CSV or JSON, or e-mail it (--send).",
    )
    add_config_option(parser)
    parser.add_argument("--period", help="last-month (default), last-week, yesterday, this-month, 2026-10, 2026-W44")
    parser.add_argument("--from", dest="start", help="start (date or date-time, in the report's time zone)")
    parser.add_argument("--until", help="end, exclusive (with --from)")
    parser.add_argument("--report", help="use a configured report's services, time zone, templates and recipients")
    parser.add_argument("--service", action="append", default=[], help="only this service (repeatable)")
    parser.add_argument("--time-zone", help="time zone of the period (default: the report's, else UTC)")
    parser.add_argument(
        "--format", choices=["html", "text", "csv", "json"], default="text", help="output format (default text)"
    )
    parser.add_argument("--output", "-o", help="write to this file instead of standard output")
    parser.add_argument("--send", action="store_true", help="e-mail it to the report's recipients (needs --report)")
    parser.add_argument("--force", action="store_true", help="with --send: send even if this period was sent")
    parser.set_defaults(handler=handle)


def _period(args: argparse.Namespace, tz: str, now: datetime) -> periods.Period:
    if args.start or args.until:
        if not (args.start and args.until) or args.period:
            raise ValueError("give --from and --until together, instead of --period")
        return periods.explicit(args.start, args.until, tz)
    return periods.resolve(args.period or "last-month", now, tz)


def handle(args: argparse.Namespace) -> int:
    from proactived.reports.render import render  # the report pipeline loads for this command only
    from proactived.reports.runner import build, deliver, pick_services

    config = config_or_exit(args)
    if config is None:
        return 1
    try:
        check(config, Path(args.config))
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 1
    cfg: ReportConfig | None = None
    if args.report:
        cfg = next((r for r in config.reports if r.name == args.report), None)
        if cfg is None:
            print(f"proactived report: no report named {args.report!r} in {args.config}", file=sys.stderr)
            return 2
    if args.send and (cfg is None or config.smtp is None):
        print("proactived report: --send needs --report NAME and an smtp section", file=sys.stderr)
        return 2
    now = datetime.now(UTC)  # the CLI is an edge: the one place this command reads the wall clock
    tz = args.time_zone or (cfg.time_zone if cfg else "UTC")
    try:
        period = _period(args, tz, now)
        services = pick_services(config.services, args.service or (cfg.services if cfg else ()))
    except ValueError as exc:
        print(f"proactived report: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 2
    if not services:
        print(f"proactived report: no services configured in {args.config}", file=sys.stderr)
        return 1
    store = Store(config.store_url())
    try:
        store.upgrade()
        if args.send:
            assert cfg is not None and config.smtp is not None
            if args.service:
                cfg = cfg.model_copy(update={"services": tuple(args.service)})
            outcome = deliver(store, cfg, config.services, config.smtp, period, now, force=args.force)
            print(f"{cfg.name} {period.key}: {outcome}")
            return 0 if outcome == "sent" else 1
        title = (cfg.title or cfg.name) if cfg else "Availability"
        text = render(args.format, build(store, services, period, now, title), dict(cfg.templates) if cfg else None)
    except StoreError as exc:
        print(f"proactived report: {exc}", file=sys.stderr)
        return 3
    finally:
        store.close()
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
