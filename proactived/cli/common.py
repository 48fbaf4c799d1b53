"""Helpers the sub-commands share: the ``--config`` option and loading the config or explaining why not."""

from __future__ import annotations

import argparse
import sys

from proactived.config.load import DEFAULT_CONFIG_PATH, load_config
from proactived.config.models import Config
from proactived.errors import ConfigError


def add_config_option(parser: argparse.ArgumentParser) -> None:
    """Accept ``--config`` after the sub-command too (``proactived run --config F``)."""
    parser.add_argument(
        "-c", "--config", default=argparse.SUPPRESS, help=f"configuration file (default {DEFAULT_CONFIG_PATH})"
    )


def config_or_exit(args: argparse.Namespace) -> Config | None:
    """The loaded config, or None after printing every problem to stderr."""
    try:
        return load_config(args.config)
    except ConfigError as exc:
        print("\n".join(exc.problems), file=sys.stderr)
        return None
