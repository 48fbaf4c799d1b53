"""``proactived test PATH…``: run the rule unit tests (``*_test.yaml``) like ``promtool test rules``; exit 0 or 1."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from proactived.errors import ConfigError
from proactived.rules.load import TEST_SUFFIXES


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "test",
        help="run rule unit tests (*_test.yaml)",
        description="Replay the alert timelines of rule unit tests (*_test.yaml) through the rules and compare "
        "the problems and ticket actions with the expected ones; exit 1 on any difference.",
    )
    parser.add_argument("paths", nargs="+", type=Path, help="test files, or directories holding *_test.yaml")
    parser.set_defaults(handler=handle)


def test_files(paths: list[Path]) -> list[Path]:
    """The test files named, and those inside the directories named, in name order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.name.endswith(TEST_SUFFIXES))
        else:
            found.append(path)
    return found


def handle(args: argparse.Namespace) -> int:
    from proactived.rules.ruletest import run_file  # the rule simulator loads for this command only

    files = test_files(args.paths)
    if not files:
        print(f"no *_test.yaml files in {', '.join(map(str, args.paths))}", file=sys.stderr)
        return 1
    failed = cases = 0
    for path in files:
        try:
            report = run_file(path)
        except ConfigError as exc:
            print("\n".join(exc.problems), file=sys.stderr)
            failed += 1
            continue
        cases += report.cases
        for failure in report.failures or []:
            print(failure + "\n")
        failed += len(report.failures or [])
        print(f"{path}: {'FAILED' if report.failures else 'SUCCESS'} ({report.cases} tests)")
    print(f"{cases} tests in {len(files)} files, {failed} failures")
    return 1 if failed else 0
