"""Command-line entry point; each sub-command lives in its own module listed in ``COMMANDS``.

Exit codes: 0 success, 1 a check failed or the config is invalid, 2 usage error, 3 the store is unreachable,
4 the running daemon is unreachable (``status``), 5 the HTTP address cannot be bound (``run``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from proactived import __version__
from proactived.cli import check, db, explain, incidents, job, jobs, maintenance, report, rules_test, run, status
from proactived.config.load import DEFAULT_CONFIG_PATH

COMMANDS: list[ModuleType] = [
    run, check, incidents, db, status, rules_test, explain, job, jobs, maintenance, report
]
EPILOG = """exit codes:
  0  success
  1  a check failed or the configuration is invalid
  2  usage error
  3  the store is unreachable
  4  the running daemon is unreachable (status, job ping, maintenance; job run still runs the command)
  5  the HTTP address cannot be bound (run)

Run 'proactived COMMAND --help' for a command's options."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="proactived",
        description="Turns monitoring alerts into service-desk tickets before users call.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
