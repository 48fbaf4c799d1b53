"""Configuration loading: typed, strict, every error located, secrets never printed."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from proactived import telemetry
from proactived.cli import main
from proactived.config.load import load_config
from proactived.config.secrets import Secret
from proactived.durations import format_duration, parse_duration
from proactived.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures" / "config"
EXAMPLE = Path(__file__).parent.parent / "examples" / "proactived.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "proactived.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(minutes=90)),
        ("0", timedelta(0)),
        ("250ms", timedelta(seconds=0.25)),
    ],
)
def test_it_parses_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "5", "5 minutes", "m5", "1h-3m", "1x"])
def test_it_rejects_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)


def test_durations_print_back_in_the_accepted_form() -> None:
    assert format_duration(timedelta(hours=1, minutes=30)) == "1h30m"
    assert parse_duration(format_duration(timedelta(days=2, seconds=5))) == timedelta(days=2, seconds=5)


def test_it_reports_every_error_with_file_line_column_and_key() -> None:
    path = FIXTURES / "broken.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [
        f"{path}:3:3: server.listen: expected HOST:PORT, e.g. 127.0.0.1:9393",
        f"{path}:4:3: server.bogus: unknown key",
        f"{path}:6:3: dedup.reopen_window: invalid duration '5 minutes': use a number and a unit, e.g. 30s, 5m, 2h, 1d",
        f"{path}:8:5: dedup.flapping.threshold: Input should be greater than or equal to 2",
    ]


def test_it_reports_yaml_syntax_errors_with_their_position(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  listen: [unclosed\n")
    with pytest.raises(ConfigError, match=rf"^{path}:3:1: "):
        load_config(path)


def test_it_rejects_duplicate_keys(tmp_path: Path) -> None:
    path = write(tmp_path, "state_dir: a\nstate_dir: b\n")
    with pytest.raises(ConfigError, match=rf"{path}:2:1: duplicate key 'state_dir'"):
        load_config(path)


def test_defaults_apply_to_an_empty_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, ""))
    assert config.server.listen == "127.0.0.1:9393"
    assert config.dedup.flapping.threshold == 4
    assert config.dedup.flapping.window == timedelta(minutes=15)
    assert config.store_url() == "sqlite:////var/lib/proactived/proactived.db"


def test_secrets_come_inline_from_env_or_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "token").write_text("from-a-file-123\n")
    monkeypatch.setenv("PD_TEST_TOKEN", "from-the-env-456")
    file_cfg = load_config(write(tmp_path, f"server:\n  auth_token_file: {tmp_path / 'token'}\n"))
    env_cfg = load_config(write(tmp_path, "server:\n  auth_token: {env: PD_TEST_TOKEN}\n"))
    assert file_cfg.server.auth_token == Secret("from-a-file-123")
    assert env_cfg.server.auth_token is not None and env_cfg.server.auth_token.reveal() == "from-the-env-456"
    assert "from-the-env-456" not in repr(env_cfg) and "from-the-env-456" not in env_cfg.model_dump_json()


def test_a_missing_secret_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  auth_token_file: /nonexistent/token\n")
    with pytest.raises(ConfigError, match="cannot read secret file /nonexistent/token"):
        load_config(path)


@pytest.fixture
def own_logging() -> Iterator[None]:
    """setup_logging replaces the root handlers; put pytest's back so later tests keep a live stream."""
    root, ours = logging.getLogger(), logging.getLogger("proactived")
    handlers, root_level, our_level = root.handlers[:], root.level, ours.level
    yield
    root.handlers[:] = handlers
    root.setLevel(root_level)
    ours.setLevel(our_level)


def test_no_secret_reaches_a_log_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], own_logging: None) -> None:
    config = load_config(write(tmp_path, "server:\n  auth_token: s3cret-value-that-must-not-leak\n"))
    telemetry.setup_logging("debug", "logfmt")
    telemetry.event("test_event", config=repr(config), url="http://u:s3cret-value-that-must-not-leak@h/")
    logging.getLogger("proactived").error("oops %s", "s3cret-value-that-must-not-leak")
    err = capsys.readouterr().err
    assert "event=test_event" in err and "oops ****" in err
    assert "s3cret-value-that-must-not-leak" not in err


def test_check_command_exits_0_on_the_example_and_1_on_a_broken_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "api-token").write_text("example-token-123\n")
    assert main(["check", "--config", str(EXAMPLE)]) == 0
    assert main(["check", "--config", str(FIXTURES / "broken.yaml")]) == 1
    err = capsys.readouterr().err
    assert "broken.yaml:4:3: server.bogus: unknown key" in err
