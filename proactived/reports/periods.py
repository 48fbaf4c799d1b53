"""Which span a report covers (``last-month``, ``last-week``, ``2026-10``, ``2026-W44``, from/until) in a time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Period:
    """``[start, end)`` in UTC, with the key that identifies it in the ledger and a label for people."""

    key: str
    label: str
    start: datetime
    end: datetime
    time_zone: str


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def _month(year: int, month: int, tz: ZoneInfo, tz_name: str) -> Period:
    first = date(year, month, 1)
    following = date(year + month // 12, month % 12 + 1, 1)
    return Period(f"{year:04d}-{month:02d}", f"{first:%B %Y}", _midnight(first, tz), _midnight(following, tz), tz_name)


def _week(year: int, week: int, tz: ZoneInfo, tz_name: str) -> Period:
    monday = date.fromisocalendar(year, week, 1)
    sunday = monday + timedelta(days=6)
    label = f"week {week}, {monday:%d %b} \N{EN DASH} {sunday:%d %b %Y}"
    start, end = _midnight(monday, tz), _midnight(monday + timedelta(7), tz)
    return Period(f"{year:04d}-W{week:02d}", label, start, end, tz_name)


def _day(day: date, tz: ZoneInfo, tz_name: str) -> Period:
    return Period(day.isoformat(), f"{day:%A %d %B %Y}", _midnight(day, tz), _midnight(day + timedelta(1), tz), tz_name)


def resolve(selector: str, now: datetime, tz_name: str = "UTC") -> Period:
    """Turn a selector into a period relative to ``now`` (aware); ValueError names the accepted forms."""
    tz = ZoneInfo(tz_name)
    today = now.astimezone(tz).date()
    text = selector.strip().lower()
    if text == "last-month":
        last = today.replace(day=1) - timedelta(days=1)
        return _month(last.year, last.month, tz, tz_name)
    if text == "this-month":
        return _month(today.year, today.month, tz, tz_name)
    if text in ("last-week", "this-week"):
        day = today - timedelta(days=7) if text == "last-week" else today
        year, week, _ = day.isocalendar()
        return _week(year, week, tz, tz_name)
    if text in ("yesterday", "today"):
        return _day(today - timedelta(days=1) if text == "yesterday" else today, tz, tz_name)
    if found := re.fullmatch(r"(\d{4})-(\d{2})", text):
        year, month = int(found.group(1)), int(found.group(2))
        if 1 <= month <= 12:
            return _month(year, month, tz, tz_name)
    if found := re.fullmatch(r"(\d{4})-w(\d{2})", text):
        try:
            return _week(int(found.group(1)), int(found.group(2)), tz, tz_name)
        except ValueError:
            pass
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return _day(date.fromisoformat(text), tz, tz_name)
    raise ValueError(
        f"unknown period {selector!r}: use last-month, last-week, yesterday, this-month, this-week, "
        "YYYY-MM, YYYY-Www or YYYY-MM-DD"
    )


def parse_moment(text: str, tz_name: str) -> datetime:
    """A ``--from``/``--until`` value: a date (local midnight) or a date-time (local unless it has an offset)."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tz_name))
    return value


def explicit(start: str, until: str, tz_name: str = "UTC") -> Period:
    """The period between two ``--from``/``--until`` values."""
    begin, end = parse_moment(start, tz_name), parse_moment(until, tz_name)
    if end <= begin:
        raise ValueError("--until must be after --from")
    key = f"{begin.isoformat()}/{end.isoformat()}"
    label = f"{begin:%d %b %Y %H:%M} \N{EN DASH} {end:%d %b %Y %H:%M}"  # the time zone is shown beside it
    return Period(key, label, begin, end, tz_name)
