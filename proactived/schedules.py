"""Cron schedules with a time zone, on top of APScheduler's CronTrigger, always answering in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

_STEPS = 48  # enough to step over any daylight-saving fold


def zone(name: str) -> ZoneInfo:
    """The named IANA time zone; ValueError naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from None


def cron(expression: str, timezone: str) -> CronTrigger:
    """A trigger for a five-field crontab expression; ValueError with the trigger's own message."""
    try:
        return CronTrigger.from_crontab(expression, timezone=zone(timezone))
    except ValueError as exc:
        raise ValueError(f"bad cron expression {expression!r}: {exc}") from None


def next_fire(trigger: CronTrigger, after: datetime) -> datetime | None:
    """The first fire time strictly after ``after``, in UTC (None when the expression never fires again).

    The trigger is always asked with a UTC time: handed a local time inside a daylight-saving fold it can
    answer with a time in the past, so any answer not after ``after`` is stepped over.
    """
    probe = after.astimezone(UTC) + timedelta(microseconds=1)
    for _ in range(_STEPS):
        found = trigger.get_next_fire_time(None, probe)
        if found is None:
            return None
        found_utc: datetime = found.astimezone(UTC)
        if found_utc > after:
            return found_utc
        probe += timedelta(minutes=30)
    return None
