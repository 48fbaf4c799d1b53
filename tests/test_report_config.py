"""The services, reports and smtp sections: accepted shapes and errors with file, line and column."""

from __future__ import annotations

from pathlib import Path

import pytest

from proactived.config.load import load_config
from proactived.errors import ConfigError
from proactived.reports.periods import resolve
from tests.report_data import t


def load(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    try:
        load_config(path)
    except ConfigError as exc:
        return [p.removeprefix(f"{path}:") for p in exc.problems]
    return []


def test_it_accepts_calendars_with_unquoted_times_and_secret_files(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret-pass\n")
    path = tmp_path / "c.yaml"
    path.write_text(
        "services:\n  - {name: erp, match: 'service=\"erp\"', hours: {days: [mon-fri, sat], start: 8:00, end: 18:30}}\n"
        f"smtp: {{host: mx, user: u, password_file: {tmp_path / 'pw'}, from: a@example.com}}\n"
    )
    config = load_config(path)
    hours = config.services[0].hours
    assert hours is not None and (hours.days, hours.start, hours.end) == ((0, 1, 2, 3, 4, 5), 480, 1110)
    assert config.smtp is not None and config.smtp.password is not None
    assert config.smtp.password.reveal() == "s3cret-pass" and "s3cret" not in repr(config.smtp)
    assert config.smtp.effective_port == 587


def test_bad_values_are_reported_where_they_are(tmp_path: Path) -> None:
    problems = load(
        tmp_path,
        "services:\n"
        "  - name: shop\n"
        "    match: 'service=~\"(\"'\n"
        "    hours: {days: mon-fry, start: '25:00', end: '18:00', time_zone: Mars/Olympus}\n"
        "reports:\n"
        "  - name: monthly\n"
        "    schedule: '0 7 32 * *'\n"
        "    recipients: ['not an address']\n"
        "smtp: {host: mx, user: u, from: a@example.com}\n",
    )
    assert problems == [
        "3:5: services.0.match: bad regular expression in matcher 'service=~\"(\"': missing ), unterminated "
        "subpattern at position 0",
        "4:13: services.0.hours.days: bad day 'mon-fry': use mon, tue, wed, thu, fri, sat, sun or a range like mon-fri",
        "4:28: services.0.hours.start: time of day out of range: '25:00'",
        "4:58: services.0.hours.time_zone: unknown time zone 'Mars/Olympus' (use an IANA name such as Europe/Berlin)",
        "7:5: reports.0.schedule: bad cron expression '0 7 32 * *' (minute hour day month weekday): Error validating "
        "expression '32': the last value (32) is higher than the maximum value (31)",
        "8:5: reports.0.recipients: not an e-mail address: 'not an address'",
        "9:1: smtp: give both user and password (or password_file), or neither",
    ]


@pytest.mark.parametrize(
    ("selector", "start", "end"),
    [
        ("last-month", "2026-09-30T22:00", "2026-10-31T23:00"),
        ("last-week", "2026-10-25T23:00", "2026-11-01T23:00"),
        ("2026-W44", "2026-10-25T23:00", "2026-11-01T23:00"),
        ("2026-03", "2026-02-28T23:00", "2026-03-31T22:00"),
        ("yesterday", "2026-11-02T23:00", "2026-11-03T23:00"),
    ],
)
def test_periods_are_taken_in_the_report_time_zone(selector: str, start: str, end: str) -> None:
    period = resolve(selector, t("2026-11-04T10:00"), "Europe/Berlin")
    assert (period.start, period.end) == (t(start), t(end))


def test_an_unknown_period_names_the_accepted_forms() -> None:
    with pytest.raises(ValueError, match="YYYY-MM, YYYY-Www"):
        resolve("2026-13", t("2026-11-04T10:00"))
