"""The ``services``, ``reports`` and ``smtp`` configuration sections (frozen, strict, secrets redacted)."""

from __future__ import annotations

import re
from datetime import timedelta
from email.utils import parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import BeforeValidator, Field, field_validator, model_validator

from proactived.config.base import ConfigModel, Duration
from proactived.config.secrets import Secret
from proactived.model import Severity
from proactived.rules.matchers import Matcher, parse_matchers

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]{0,99}$")


def check_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as Europe/Berlin)") from None
    return value


def _minute_of_day(value: Any) -> int:
    """``"09:30"`` → 570; ``"24:00"`` is the end of the day. An unquoted ``18:30`` reaches us as YAML 1.1
    base-60 (the integer 1110, which is already minutes), so integers are taken as minutes."""
    if isinstance(value, int) and not isinstance(value, bool):
        minutes = value
    else:
        found = re.fullmatch(r"(\d{1,2}):(\d{2})", str(value).strip())
        if not found or int(found.group(2)) > 59:
            raise ValueError(f"expected a time of day HH:MM, got {value!r}")
        minutes = int(found.group(1)) * 60 + int(found.group(2))
    if not 0 <= minutes <= 24 * 60:
        raise ValueError(f"time of day out of range: {value!r}")
    return minutes


MinuteOfDay = Annotated[int, BeforeValidator(_minute_of_day)]


def parse_days(value: Any) -> tuple[int, ...]:
    """``mon-fri``, ``"mon,wed"``, ``[mon-fri, sat]`` → sorted weekday numbers (Monday = 0); ranges may wrap."""
    parts = value if isinstance(value, list) else [value]
    days: set[int] = set()
    for part in parts:
        for item in str(part).lower().replace(" ", "").split(","):
            first, _, last = item.partition("-")
            if first not in DAY_NAMES or (last and last not in DAY_NAMES):
                raise ValueError(f"bad day {item!r}: use mon, tue, wed, thu, fri, sat, sun or a range like mon-fri")
            a, b = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
            days.update((a + i) % 7 for i in range((b - a) % 7 + 1))
    return tuple(sorted(days))


class ServiceHours(ConfigModel):
    """When the SLA counts: on ``days``, from ``start`` to ``end`` local time (an end before start runs overnight)."""

    days: Annotated[tuple[int, ...], BeforeValidator(parse_days)] = tuple(range(5))
    """Days the SLA counts: 0 = Monday … 6 = Sunday, or names/ranges like mon-fri."""
    start: MinuteOfDay
    """Start of service hours each day, HH:MM in `time_zone`."""
    end: MinuteOfDay
    """End of service hours each day, HH:MM in `time_zone`."""
    time_zone: str = "UTC"
    """IANA time zone of the service hours; daylight-saving changes are handled."""

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_time_zone(value)


def _hours(value: Any) -> Any:
    if isinstance(value, str):
        if value.strip() in ("24/7", "24x7"):
            return None
        raise ValueError("expected 24/7 or a calendar {days: mon-fri, start: '09:30', end: '18:30', time_zone: …}")
    return value


class ServiceConfig(ConfigModel):
    """A service whose availability is reported: which alerts mean it is down, its target and its hours."""

    name: str
    """Unique service name, as reports show it."""
    match: Annotated[tuple[str, ...], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)]
    """Label matchers (Alertmanager syntax) of the alerts that mean this service is down."""
    severities: tuple[Severity, ...] | None = None
    """Only alerts of these severities count as down; all when absent."""
    target: float = Field(default=99.9, gt=0, le=100)
    """Availability target in percent, e.g. 99.9."""
    hours: Annotated[ServiceHours | None, BeforeValidator(_hours)] = None
    description: str = ""
    """Shown under the service name in reports."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("a service name is 1-100 letters, digits, spaces, '.', '_' or '-'")
        return value

    @field_validator("match")
    @classmethod
    def _matchers(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("give at least one matcher, e.g. 'service=\"shop\"'")
        for text in value:
            parse_matchers(text)
        return value

    def matchers(self) -> list[Matcher]:
        """The parsed matchers (all must match)."""
        return [m for text in self.match for m in _parsed(text)]


@lru_cache(maxsize=4096)
def _parsed(text: str) -> tuple[Matcher, ...]:
    return tuple(parse_matchers(text))


RELATIVE_PERIODS = ("last-month", "last-week", "yesterday", "this-month", "this-week")


def _address(value: str) -> str:
    _name, addr = parseaddr(value)
    if "@" not in addr or any(c in value for c in "\r\n") or len(value) > 320:
        raise ValueError(f"not an e-mail address: {value!r}")
    return value


class ReportConfig(ConfigModel):
    """A scheduled report: when it runs, which period and services it covers, who receives it."""

    name: str
    """Unique report name (`proactived report --report NAME`)."""
    schedule: str = "0 7 1 * *"
    """Five-field cron of when the report is sent, in `time_zone`."""
    time_zone: str = "UTC"
    """Time zone of the schedule and of the report period."""
    period: Literal["last-month", "last-week", "yesterday"] = "last-month"
    """Which period each run reports on."""
    services: tuple[str, ...] = ()
    """Services included; all when empty."""
    recipients: tuple[str, ...]
    """E-mail addresses the report is sent to."""
    title: str = ""
    """Report title and subject; a default naming the period when empty."""
    templates: dict[str, str] = Field(default_factory=dict)  # html, text, subject -> template file path
    """Template files replacing the packaged ones: keys html, text, subject."""

    @field_validator("time_zone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return check_time_zone(value)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError("a report name is 1-100 letters, digits, spaces, '.', '_' or '-'")
        return value

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        try:
            CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"bad cron expression {value!r} (minute hour day month weekday): {exc}") from None
        return value

    @field_validator("templates")
    @classmethod
    def _templates(cls, value: dict[str, str]) -> dict[str, str]:
        for kind, path in value.items():
            if kind not in ("html", "text", "subject"):
                raise ValueError(f"unknown template {kind!r}: use html, text or subject")
            if not Path(path).is_file():
                raise ValueError(f"template file not found: {path}")
        return value

    @field_validator("recipients")
    @classmethod
    def _recipients(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("give at least one recipient")
        return tuple(_address(v) for v in value)

    def trigger(self) -> CronTrigger:
        return CronTrigger.from_crontab(self.schedule, timezone=ZoneInfo(self.time_zone))


class SmtpConfig(ConfigModel):
    """The mail server reports are sent through."""

    host: str
    """SMTP server host name."""
    port: int | None = Field(default=None, ge=1, le=65535)
    """SMTP port; default 587 for starttls, 465 for ssl, 25 for none."""
    security: Literal["starttls", "ssl", "none"] = "starttls"
    """`starttls`, `ssl` (implicit TLS) or `none` (only on a trusted local relay)."""
    user: str | None = None
    """Login user; no authentication when absent."""
    password: Secret | None = None
    """Login password (secret; `password_file` works too)."""
    sender: str = Field(alias="from")
    """From address of report e-mails (key: `from`)."""
    ca_file: str | None = None
    """CA bundle to verify the server with, instead of the system store."""
    timeout: Duration = timedelta(seconds=30)
    """Timeout of the SMTP connection and each command."""
    attempts: int = Field(default=4, ge=1, le=20)
    """Send attempts per report run on temporary failures, with a doubling delay."""
    retry_delay: Duration = timedelta(seconds=30)
    """First delay between send attempts."""

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        return _address(value)

    @model_validator(mode="after")
    def _auth_pair(self) -> SmtpConfig:
        if (self.user is None) != (self.password is None):
            raise ValueError("give both user and password (or password_file), or neither")
        return self

    @property
    def effective_port(self) -> int:
        return self.port or {"ssl": 465, "starttls": 587, "none": 25}[self.security]


def reference_problems(services: tuple[ServiceConfig, ...], reports: tuple[ReportConfig, ...]) -> list[tuple[Any, str]]:
    """Cross-section checks pydantic cannot see: unique names, reports naming known services."""
    problems: list[tuple[Any, str]] = []
    known = [s.name for s in services]
    for i, name in enumerate(known):
        if name in known[:i]:
            problems.append((("services", i, "name"), f"duplicate service name {name!r}"))
    names = [r.name for r in reports]
    for i, report in enumerate(reports):
        if report.name in names[:i]:
            problems.append((("reports", i, "name"), f"duplicate report name {report.name!r}"))
        for j, wanted in enumerate(report.services):
            if wanted not in known:
                problems.append((("reports", i, "services", j), f"unknown service {wanted!r}"))
    return problems
