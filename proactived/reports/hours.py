"""Service hours as concrete intervals: a weekly calendar in a time zone expanded over a period (DST-correct)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from proactived.reports.config import ServiceHours
from proactived.reports.intervals import Interval, normalise


def _local(day: date, minute: int, tz: ZoneInfo) -> float:
    """Epoch seconds of a wall-clock minute on ``day`` (24:00 is the next midnight; gaps move forward)."""
    day, minute = (day + timedelta(days=1), 0) if minute == 1440 else (day, minute)
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=tz).timestamp()


def service_intervals(hours: ServiceHours | None, start: float, end: float) -> list[Interval]:
    """The service-hours intervals within ``[start, end)``; ``None`` means 24/7."""
    if hours is None:
        return [(start, end)] if end > start else []
    tz = ZoneInfo(hours.time_zone)
    first = datetime.fromtimestamp(start, tz).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end, tz).date()
    spans: list[Interval] = []
    day = first
    while day <= last:
        if day.weekday() in hours.days:
            opens = _local(day, hours.start, tz)
            closes = _local(day + timedelta(days=1) if hours.end <= hours.start else day, hours.end, tz)
            spans.append((max(opens, start), min(closes, end)))
        day += timedelta(days=1)
    return normalise(spans)
