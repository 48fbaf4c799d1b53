"""``proactived db upgrade``: apply pending schema migrations to the configured store."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from proactived.cli.common import add_config_option, config_or_exit
from proactived.errors import StoreError
from proactived.store import Store


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "db", help="manage the state database", description="Manage the state database (SQLite or PostgreSQL)."
    )
    actions = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    upgrade = actions.add_parser(
        "upgrade",
        help="apply pending migrations",
        description="Apply pending schema migrations (the daemon also does this at start). Run it after "
        "installing a new version, before restarting the daemon. Exit 3 when the store is unreachable.",
    )
    add_config_option(upgrade)
    upgrade.set_defaults(handler=handle_upgrade)


def handle_upgrade(args: argparse.Namespace) -> int:
    config = config_or_exit(args)
    if config is None:
        return 1
    store = Store(config.store_url(), sqlite_synchronous=config.store.sqlite_synchronous)
    try:
        store.upgrade()
    except StoreError as exc:
        print(f"cannot upgrade the store: {exc}", file=sys.stderr)
        return 3
    finally:
        store.close()
    print("store schema is up to date")
    return 0
