"""Maintenance windows as data: config models, occurrences in time, and the pure "is this muted now" check."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pydantic import Field, field_validator, model_validator

from proactived import schedules
from proactived.config.base import ConfigModel, Duration
from proactived.rules.matchers import Matcher, matches_all, parse_matcher, parse_matchers


class WindowConfig(ConfigModel):
    """A window declared in the config: one-off (``start``/``end``) or recurring (``schedule`` + ``duration``)."""

    name: str
    """Unique window name."""
    matchers: list[str] = Field(min_length=1)
    """Label matchers (Alertmanager syntax) of the alerts the window mutes."""
    reason: str = ""
    """Why: shown on muted problems, in ticket notes and in reports."""
    start: datetime | None = None
    """One-off window: start, ISO 8601 with a UTC offset."""
    end: datetime | None = None
    """One-off window: end, ISO 8601 with a UTC offset."""
    schedule: str | None = None
    """Recurring window: five-field cron of when it starts, in `timezone`."""
    duration: Duration | None = None
    """Recurring window: how long each occurrence lasts."""
    timezone: str = "UTC"
    """IANA time zone of `schedule`."""

    @field_validator("matchers")
    @classmethod
    def _matchers(cls, value: list[str]) -> list[str]:
        for text in value:
            parse_matcher(text)
        return value

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2026-12-05T08:00:00+01:00")
        return value.astimezone(UTC) if value is not None else None

    @model_validator(mode="after")
    def _one_kind(self) -> WindowConfig:
        schedules.zone(self.timezone)
        one_off = self.start is not None or self.end is not None
        recurring = self.schedule is not None or self.duration is not None
        if one_off == recurring:
            raise ValueError("give either start and end (one-off) or schedule and duration (recurring)")
        if one_off and (self.start is None or self.end is None or self.end <= self.start):
            raise ValueError("a one-off window needs start and a later end")
        if recurring:
            if self.schedule is None or self.duration is None or self.duration <= timedelta(0):
                raise ValueError("a recurring window needs schedule (cron) and a positive duration")
            schedules.cron(self.schedule, self.timezone)
        return self

    def occurrence(self, now: datetime) -> Window | None:
        """The occurrence active at ``now``, else the next one to come (None when none is left)."""
        parsed = tuple(parse_matcher(text) for text in self.matchers)
        if self.start is not None and self.end is not None:
            if now >= self.end:
                return None
            return Window(f"config:{self.name}", "config", self.name, parsed, self.reason, self.start, self.end)
        assert self.schedule is not None and self.duration is not None
        trigger = schedules.cron(self.schedule, self.timezone)
        begins = schedules.next_fire(trigger, now - self.duration)
        if begins is None:
            return None
        key = f"config:{self.name}@{begins.isoformat()}"
        return Window(key, "config", self.name, parsed, self.reason, begins, begins + self.duration)


class MaintenanceConfig(ConfigModel):
    """The ``maintenance`` section: declared windows, how often state is re-checked, check-in log size."""

    windows: list[WindowConfig] = Field(default_factory=list)
    check_interval: Duration = timedelta(seconds=15)
    """How often job lateness and window starts/ends are evaluated."""
    max_log_bytes: int = Field(default=8192, ge=0, le=1_000_000)
    """Largest log tail kept from a check-in (the end of the log is kept)."""

    @field_validator("windows")
    @classmethod
    def _unique(cls, value: list[WindowConfig]) -> list[WindowConfig]:
        names = [w.name for w in value]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"window {name!r} is defined twice")
        return value


@dataclass(frozen=True)
class Window:
    """One concrete span of maintenance: who declared it, what it covers, from when until when."""

    key: str  # stable identity of this span: config:NAME@START, api:ID, job:NAME:RUN
    origin: str  # config | api | job
    name: str
    matchers: tuple[Matcher, ...]
    reason: str
    starts_at: datetime
    ends_at: datetime

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def covers(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.active(now) and matches_all(self.matchers, labels)

    def describe(self) -> str:
        """The mute reason shown in tickets and logs."""
        text = f"maintenance {self.origin} {self.name!r} until {self.ends_at:%Y-%m-%d %H:%M}Z"
        return f"{text}: {self.reason}" if self.reason else text


def config_windows(configs: Iterable[WindowConfig], now: datetime) -> list[Window]:
    """The current or next occurrence of every declared window."""
    return [w for w in (c.occurrence(now) for c in configs) if w is not None]


def mute_reason(windows: Iterable[Window], labels: Mapping[str, str], now: datetime) -> str:
    """The first active window covering ``labels`` as a reason, or "" when none does."""
    for window in windows:
        if window.covers(labels, now):
            return window.describe()
    return ""


def parse_matcher_list(texts: Iterable[str]) -> tuple[Matcher, ...]:
    """Matchers given as a list of strings, each possibly a comma-separated set (``host=db1,team="dba"``)."""
    found: list[Matcher] = []
    for text in texts:
        found.extend(parse_matchers(text))
    if not found:
        raise ValueError("at least one matcher is needed (an empty set would mute everything)")
    return tuple(found)
