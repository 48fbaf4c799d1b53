"""Command-line entry point; each sub-command lives in its own module listed in ``COMMANDS``.

Exit codes: 0 success, 1 a check failed or the config is invalid, 2 usage error, 3 the store is unreachable.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from proactived import __version__
from proactived.cli import check, db, incidents, report, run
from proactived.config.load import DEFAULT_CONFIG_PATH

COMMANDS: list[ModuleType] = [run, check, incidents, db, report]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="proactived", description="Turns monitoring alerts into service-desk tickets before users call."
    )
    parser.add_argument("--version", action="version", version=f"proactived {__version__}")
    parser.add_argument(
        "-c", "--config", default=DEFAULT_CONFIG_PATH, help=f"configuration file (default {DEFAULT_CONFIG_PATH})"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in COMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    sys.stdout.flush()
    return code
