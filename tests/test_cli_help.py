"""Every command explains itself: ``--help`` works everywhere and every option says what it does."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Iterator

import pytest

from proactived.cli import build_parser


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from commands(child, (*path, name))


ALL = list(commands(build_parser()))


@pytest.mark.parametrize(("path", "parser"), ALL, ids=[" ".join(p) or "proactived" for p, _ in ALL])
def test_every_command_has_a_description_and_every_option_a_help_text(
    path: tuple[str, ...], parser: argparse.ArgumentParser
) -> None:
    assert path == () or parser.description, f"proactived {' '.join(path)} needs description="
    missing = [a.dest for a in parser._actions if not a.help and not isinstance(a, argparse._SubParsersAction)]
    assert missing == []


def test_top_level_help_documents_the_exit_codes() -> None:
    out = subprocess.run([sys.executable, "-m", "proactived", "--help"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0
    assert "4  the running daemon is unreachable (status" in out.stdout


def test_version_prints_the_version() -> None:
    out = subprocess.run([sys.executable, "-m", "proactived", "--version"], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "proactived 0.1.0"
