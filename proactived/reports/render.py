"""Rendering a computed report: HTML e-mail and plain text through sandboxed Jinja2, CSV and JSON directly.

Templates ship in ``templates/`` and can be replaced per report by path. Label values and alert names are
data: the HTML environment autoescapes, both environments are sandboxed, undefined names are errors, and the
subject is flattened to one line so nothing rendered can add a mail header.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from proactived.reports.model import Outage, Report, ServiceResult

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

TEMPLATES = Path(__file__).parent / "templates"
DEFAULT_NAMES = {"html": "report.html.j2", "text": "report.txt.j2", "subject": "subject.txt.j2"}
MIN_SEGMENT = 0.6  # percent: an outage of a few seconds in a month must still be visible on the timeline
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def duration(seconds: float | None) -> str:
    """``2 h 05 min``, ``3 min 20 s``, ``42 s``; negative values keep their sign; None is ``n/a``."""
    if seconds is None:
        return "n/a"
    sign, s = ("-" if seconds < 0 else ""), round(abs(seconds))
    days, rest = divmod(s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days} d {hours} h"
    if hours:
        return f"{sign}{hours} h {minutes:02d} min"
    if minutes:
        return f"{sign}{minutes} min {secs:02d} s"
    return f"{sign}{secs} s"


def percent(value: float | None, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if math.isinf(value):
        return "∞ %"
    return f"{value:.{digits}f} %"


def _local(tz: str) -> Any:
    def fmt(value: datetime | None, pattern: str = "%a %d %b %H:%M") -> str:
        return "ongoing" if value is None else value.astimezone(ZoneInfo(tz)).strftime(pattern)

    return fmt


def bar_floor(services: tuple[ServiceResult, ...]) -> float:
    """Lower end of the availability bar scale: zoomed so 99.9 and 99.5 look different, but every bar fits."""
    lows = [s.availability for s in services if s.availability is not None]
    lows += [max(0.0, s.target - 2 * (100 - s.target)) for s in services]
    low = min(lows, default=99.0)
    for floor in (99.9, 99.5, 99.0, 98.0, 95.0, 90.0, 80.0, 50.0):
        if low >= floor:
            return floor
    return 0.0


def bar_width(value: float | None, floor: float) -> float:
    if value is None or floor >= 100:
        return 0.0
    return round(max(0.0, min(100.0, 100 * (value - floor) / (100 - floor))), 2)


def timeline(report: Report, outages: tuple[Outage, ...]) -> list[dict[str, Any]]:
    """Segments (``up``/``down``, width in percent, title) across the observed period, for a table-cell strip."""
    start, end = report.period.start.timestamp(), report.observed_until.timestamp()
    span = end - start
    if span <= 0:
        return []
    fmt = _local(report.period.time_zone)
    cuts: list[tuple[float, float, Outage]] = []
    for o in sorted(outages, key=lambda o: o.start):
        a = max(start, o.start_ts)
        b = min(end, o.end_ts if o.end_ts is not None else end)
        if cuts and a <= cuts[-1][1]:
            continue
        cuts.append((a, max(b, a), o))
    segments: list[dict[str, Any]] = []
    cursor = start
    for a, b, o in cuts:
        if a > cursor:
            segments.append({"kind": "up", "width": 100 * (a - cursor) / span, "title": ""})
        title = f"{fmt(o.start)} \N{EN DASH} {duration(o.duration)}: {', '.join(o.alerts)}"
        segments.append({"kind": "down", "width": max(MIN_SEGMENT, 100 * (b - a) / span), "title": title})
        cursor = b
    if cursor < end:
        segments.append({"kind": "up", "width": 100 * (end - cursor) / span, "title": ""})
    scale = 100 / sum(s["width"] for s in segments)
    for seg in segments:
        seg["width"] = round(seg["width"] * scale, 3)
    return segments


def _environment(autoescape: bool, tz: str) -> SandboxedEnvironment:
    from jinja2 import FileSystemLoader, StrictUndefined  # loaded only when a report is rendered
    from jinja2.sandbox import SandboxedEnvironment

    env = SandboxedEnvironment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(duration=duration, percent=percent, local=_local(tz))
    return env


def _template(kind: str, tz: str, overrides: Mapping[str, str]) -> Any:
    env = _environment(kind == "html", tz)
    if kind in overrides:
        return env.from_string(Path(overrides[kind]).read_text(encoding="utf-8"))
    return env.get_template(DEFAULT_NAMES[kind])


def context(report: Report) -> dict[str, Any]:
    floor = bar_floor(report.services)
    services = [
        {
            "s": s,
            "bar": bar_width(s.availability, floor),
            "target_at": bar_width(s.target, floor),
            "timeline": timeline(report, s.outages),
            "worst": sorted(s.outages, key=lambda o: -o.counted)[:8],
        }
        for s in report.services
    ]
    met = sum(1 for s in report.services if s.sla_met)
    return {"report": report, "services": services, "floor": floor, "met": met, "breached": report.breached}


def render(kind: str, report: Report, overrides: Mapping[str, str] | None = None) -> str:
    """``html``, ``text`` or ``subject`` through its template; ``csv`` and ``json`` directly."""
    if kind == "csv":
        return to_csv(report)
    if kind == "json":
        return json.dumps(to_data(report), indent=2, ensure_ascii=False) + "\n"
    text: str = _template(kind, report.period.time_zone, overrides or {}).render(context(report))
    return one_line(text) if kind == "subject" else text


def one_line(text: str, limit: int = 200) -> str:
    """A safe header value: control characters (CR/LF included) become spaces, length bounded."""
    return " ".join(_CONTROL.sub(" ", text).split())[:limit]


CSV_COLUMNS = (
    "service", "period_start", "period_end", "hours", "target_pct", "availability_pct", "sla_met",
    "service_seconds", "downtime_seconds", "planned_seconds", "budget_allowed_seconds",
    "budget_remaining_seconds", "problems", "incidents", "mttr_seconds", "mtta_seconds", "mtbf_seconds",
    "longest_outage_seconds",
)  # fmt: skip


def _num(value: float | None, digits: int = 0) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def to_csv(report: Report) -> str:
    """The per-service table, one row per service (seconds as integers, percentages with 4 decimals)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    start, end = report.period.start.astimezone(UTC).isoformat(), report.observed_until.astimezone(UTC).isoformat()
    for s in report.services:
        writer.writerow(
            [
                s.name, start, end, s.hours, _num(s.target, 3), _num(s.availability, 4),
                "" if s.sla_met is None else ("yes" if s.sla_met else "no"),
                _num(s.service_seconds), _num(s.downtime), _num(s.planned), _num(s.budget_allowed),
                _num(s.budget_remaining), s.problems, s.incidents, _num(s.mttr), _num(s.mtta), _num(s.mtbf),
                _num(s.longest.counted if s.longest else None),
            ]
        )  # fmt: skip
    return out.getvalue()


def to_data(report: Report) -> dict[str, Any]:
    """The report as JSON-ready data (datetimes in ISO 8601 UTC)."""

    def plain(value: Any) -> Any:
        if isinstance(value, float):
            return round(value, 3)  # seconds and percentages: milliseconds are the store's precision
        if isinstance(value, datetime):
            return value.astimezone(UTC).isoformat()
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, Outage):
            return {name: plain(field) for name, field in zip(value._fields, value, strict=True)}
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        return value

    data: dict[str, Any] = plain(report)
    for item, s in zip(data["services"], report.services, strict=True):
        for outage, o in zip(item["outages"], s.outages, strict=True):
            outage["start"], outage["end"] = plain(o.start), plain(o.end)
        if s.longest is not None:
            item["longest"]["start"], item["longest"]["end"] = plain(s.longest.start), plain(s.longest.end)
        item["problems"] = s.problems
        used = s.budget_used_pct
        item["budget_used_pct"] = None if used is None or math.isinf(used) else used
    return data
