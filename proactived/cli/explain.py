"""``proactived explain --labels 'alertname=HostDown,host=web1'``: which rule matches and what would happen."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from proactived.cli.common import add_config_option, config_or_exit
from proactived.errors import ConfigError
from proactived.rules.load import load_for_config, load_rules, rule_files
from proactived.rules.ruleset import RuleSet


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "explain",
        help="show which rule matches a label set",
        description="Show which rule matches a label set, its group key, root-cause relations and ticket route.",
    )
    add_config_option(parser)
    parser.add_argument("--labels", required=True, help="e.g. 'alertname=HostDown,host=web1,severity=critical'")
    parser.add_argument("--rules", type=Path, help="a rules directory to use instead of the configured one")
    parser.set_defaults(handler=handle)


def _rules(args: argparse.Namespace) -> RuleSet | None:
    try:
        if args.rules is not None:
            return load_rules(rule_files(args.rules), None)
        config = config_or_exit(args)
        return None if config is None else load_for_config(config, Path(args.config))
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return None


def handle(args: argparse.Namespace) -> int:
    from proactived.rules.explain import explain, parse_labels  # loads for this command only

    try:
        labels = parse_labels(args.labels)
    except ValueError as exc:
        print(f"--labels: {exc}", file=sys.stderr)
        return 2
    rules = _rules(args)
    if rules is None:
        return 1
    print("\n".join(explain(rules, labels)))
    return 0
