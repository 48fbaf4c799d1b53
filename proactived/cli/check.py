"""``proactived check``: validate the configuration (and everything it references); exit 0 or 1."""

from __future__ import annotations

import argparse
from typing import Any

from proactived.cli.common import add_config_option, config_or_exit


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "check",
        help="validate the configuration and rules",
        description="Validate the configuration and every file it references; print each problem as "
        "file:line:col: key.path: message. Exit 0 when valid, 1 otherwise (use it in CI and before a reload).",
    )
    add_config_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    config = config_or_exit(args)
    if config is None:
        return 1
    print(f"{args.config}: OK")
    return 0
