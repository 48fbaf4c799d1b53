"""Rule files: strict loading with every error located, the shipped rules and their tests, check/test/explain."""

from __future__ import annotations

from pathlib import Path

import pytest

from proactived.cli import main
from proactived.errors import ConfigError
from proactived.rules.load import load_rules

REPO = Path(__file__).parent.parent
SHIPPED = REPO / "rules.d"


def load(tmp_path: Path, text: str, sinks: list[str] | None = None) -> list[str]:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_rules([path], ["desk"] if sinks is None else sinks)
    return [p.replace(f"{path}:", "") for p in caught.value.problems]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules:\n  - name: a\n    bogus: 1\n", "3:5: rules.0.bogus: unknown key"),
        ("rules:\n  - name: a\n    match: ['job=~\"(x\"']\n", "3:13: rules.0.match.0: bad regular expression"),
        ("rules:\n  - name: a\n    match: ['job']\n", "3:13: rules.0.match.0: bad matcher 'job'"),
        ("rules:\n  - name: a\n    ticket: {sink: jira}\n", "3:14: rules.0.ticket.sink: unknown sink 'jira'"),
        ("rules:\n  - name: a\n  - name: a\n", "3:5: rules.1.name: duplicate rule name 'a' (first defined at"),
        (
            "topology:\n  depends_on:\n    switch=a: [switch=b]\n    switch=b: [switch=a]\n",
            "3:5: topology.depends_on.switch=a: cycle in topology: switch=a -> switch=b -> switch=a",
        ),
        ("topology:\n  contains:\n    sw1: [host=a]\n", "3:5: topology.contains.sw1: bad object 'sw1'"),
        ("rules:\n  - name: a\n    ticket: {title: '{{ x'}\n", "3:14: rules.0.ticket.title: template error at line 1"),
        ("rules:\n  - name: a\n    hold_for: soon\n", "3:5: rules.0.hold_for: invalid duration 'soon'"),
        ("rulez: []\n", "1:1: rulez: unknown key"),
    ],
)
def test_it_reports_each_rule_error_with_file_line_and_column(tmp_path: Path, text: str, message: str) -> None:
    problems = load(tmp_path, text)
    assert any(p.startswith(message) for p in problems), problems


def test_it_reports_every_error_of_every_kind_in_one_pass(tmp_path: Path) -> None:
    text = (
        "topology:\n  depends_on: {switch=a: [switch=b], switch=b: [switch=a]}\n"
        "rules:\n  - name: a\n    bogus: 1\n    ticket: {sink: jira}\n  - name: a\n    match: ['x=~\"(\"']\n"
    )
    problems = load(tmp_path, text)
    assert len(problems) == 5
    assert [p.split(": ")[1] for p in problems] == [
        "topology.depends_on.switch=a",
        "rules.0.bogus",
        "rules.0.ticket.sink",
        "rules.1.name",
        "rules.1.match.0",
    ]


def test_an_unnamed_sink_needs_a_single_or_default_sink(tmp_path: Path) -> None:
    text = "rules:\n  - name: a\n"
    assert load(tmp_path, text, ["jira", "redmine"]) == [
        "2:5: rules.0.ticket: several sinks (jira, redmine): name one in ticket.sink"
    ]
    path = tmp_path / "r.yaml"
    assert load_rules([path], ["jira", "default"]).get("a").sink == "default"
    assert load_rules([path], []).get("a").sink is None  # no sinks: problems only, no ticket rows


def test_the_built_in_default_rule_catches_everything_last(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("rules:\n  - {name: only-db, match: ['team=\"db\"']}\n")
    rules = load_rules([path], ["desk"])
    assert [r.name for r in rules.matching({"alertname": "X", "team": "web"})] == ["default"]
    assert [r.name for r in rules.matching({"alertname": "X", "team": "db"})] == ["only-db"]


def test_the_shipped_rules_pass_their_own_tests(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(SHIPPED)]) == 0
    out = capsys.readouterr().out
    assert "0 failures" in out
    assert len(list(SHIPPED.glob("*_test.yaml"))) == len([p for p in SHIPPED.glob("*.yaml") if "_test" not in p.name])


def test_a_failing_rule_test_prints_a_diff_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "r.yaml").write_text("rules:\n  - {name: by-host, group_by: [host], hold_for: 0s, window: 0s}\n")
    (tmp_path / "r_test.yaml").write_text(
        "tests:\n  - name: two hosts\n    alerts:\n"
        "      - {at: 0s, labels: {alertname: Down, host: a}}\n"
        "    expect:\n      - at: 1s\n        problems: [{rule: by-host, group: {host: b}}]\n"
    )
    assert main(["test", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "'two hosts' at 1s: problems" in out
    assert "-    host: b\n+    host: a" in out


def test_check_validates_the_rules_the_config_points_at(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules.d"
    rules.mkdir()
    (rules / "a.yaml").write_text("rules:\n  - name: a\n    ticket: {sink: nope}\n")
    config = tmp_path / "proactived.yaml"
    config.write_text("state_dir: /tmp/x\nsinks: {desk: {type: webhook, url: 'http://127.0.0.1:9/hook'}}\n")
    assert main(["--config", str(config), "check"]) == 1
    assert f"{rules / 'a.yaml'}:3:14: rules.0.ticket.sink: unknown sink 'nope' (sinks: desk)" in capsys.readouterr().err
    (rules / "a.yaml").write_text("rules:\n  - name: a\n    ticket: {sink: desk}\n")
    assert main(["--config", str(config), "check"]) == 0


def test_check_accepts_the_example_config_and_the_shipped_rules(tmp_path: Path) -> None:
    example = (REPO / "examples" / "proactived.yaml").read_text()
    config = tmp_path / "examples" / "proactived.yaml"
    config.parent.mkdir()
    config.write_text(example.replace("auth_token_file: state/api-token", "auth_token: example-token"))
    (tmp_path / "rules.d").symlink_to(SHIPPED)
    assert main(["--config", str(config), "check"]) == 0


def test_explain_names_the_rule_group_key_root_cause_and_ticket(capsys: pytest.CaptureFixture[str]) -> None:
    labels = "alertname=HostDown,host=web1,switch=sw1,severity=critical"
    assert main(["explain", "--rules", str(SHIPPED), "--labels", labels]) == 0
    out = capsys.readouterr().out
    assert "matches rule hosts-behind-switch at" in out
    assert 'group key: {switch="sw1"}' in out
    assert "topology: about host=web1, which depends on switch=sw1" in out
    assert "priority urgent, assignee group L1" in out


def test_explain_says_when_only_the_default_rule_matches(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "--rules", str(SHIPPED), "--labels", 'alertname="Odd",team="x"']) == 0
    assert "matches built-in default rule" in capsys.readouterr().out
