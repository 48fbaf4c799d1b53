"""``proactived check``: validate the configuration and the rules it points at; exit 0 or 1."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from proactived.cli.common import add_config_option, config_or_exit
from proactived.errors import ConfigError
from proactived.reports.schedule import check as reports_check
from proactived.rules.load import load_for_config, rules_dir


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
    try:
        rules = load_for_config(config, Path(args.config))
        reports_check(config, Path(args.config))
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return 1
    print(f"{args.config}: OK")
    print(f"{rules_dir(config, Path(args.config))[0]}: OK ({len(rules.rules) - 1} rules + the built-in default)")
    return 0
