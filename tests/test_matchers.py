"""Alertmanager-style label matchers."""

from __future__ import annotations

import pytest

from proactived.rules.matchers import MatchType, matches_all, parse_matcher, parse_matchers


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ('severity="critical"', {"severity": "critical"}, True),
        ('severity="critical"', {"severity": "warning"}, False),
        ('job!="test"', {}, True),
        ('job!="test"', {"job": "test"}, False),
        ('severity=~"critical|high"', {"severity": "high"}, True),
        ('severity=~"crit"', {"severity": "critical"}, False),  # anchored
        ('host!~"db.*"', {"host": "web1"}, True),
        ('team=""', {}, True),
        ("host=web1", {"host": "web1"}, True),
    ],
)
def test_it_matches_like_alertmanager(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_matcher(text).matches(labels) is expected


def test_it_parses_lists_with_braces_and_commas_inside_quotes() -> None:
    found = parse_matchers('{alertname="Disk, full", severity=~"critical|high"}')
    assert [(m.name, m.type, m.value) for m in found] == [
        ("alertname", MatchType.EQUAL, "Disk, full"),
        ("severity", MatchType.REGEX, "critical|high"),
    ]
    assert matches_all(found, {"alertname": "Disk, full", "severity": "high"})
    assert str(found[0]) == 'alertname="Disk, full"'


@pytest.mark.parametrize(
    ("text", "message"),
    [("severity", "expected name="), ('a=~"("', "bad regular expression"), ('a="x', "unbalanced quotes"),
     ("1a=b", "expected name=")],
)
def test_it_rejects_bad_matchers_clearly(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_matcher(text)
