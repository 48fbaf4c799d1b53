"""``proactived run``: the daemon in the foreground."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from proactived.cli.common import add_config_option


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "run",
        help="run the daemon in the foreground",
        description="Run the daemon in the foreground (as systemd does). SIGTERM/SIGINT stop it cleanly within "
        "10 s; SIGHUP re-reads the config and keeps the running one if the new one is invalid. Under systemd it "
        "speaks sd_notify (READY, WATCHDOG, RELOADING, STOPPING). Logs go to stderr.",
    )
    add_config_option(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from proactived.daemon import run

    return run(Path(args.config))
