"""How CLI commands reach a running daemon: URL and token from options, the environment or the config file."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from proactived.config.load import load_config
from proactived.errors import ConfigError, TransportError
from proactived.http_client import HttpClient, RetryPolicy

if TYPE_CHECKING:
    import requests


def add_remote_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", help="daemon URL (default: $PROACTIVED_URL, else server.listen of the config)")
    parser.add_argument(
        "--token-file",
        help="file holding the bearer token (default: $PROACTIVED_TOKEN, else server.auth_token of the config)",
    )


@dataclass
class Remote:
    """A daemon's HTTP API, called through the one HTTP chokepoint."""

    url: str
    token: str | None
    client: HttpClient

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return self.client.request(method, self.url + path, headers=headers, **kwargs)


def remote(args: argparse.Namespace, attempts: int = 3) -> Remote:
    """The daemon to talk to; TransportError (permanent) when no URL can be found."""
    config = None
    try:
        if Path(args.config).exists():
            config = load_config(args.config)
    except ConfigError:
        config = None
    url = args.url or os.environ.get("PROACTIVED_URL", "")
    if not url and config is not None:
        host = config.server.host
        url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{config.server.port}"
    if not url:
        raise TransportError("no daemon URL: give --url, set PROACTIVED_URL, or a readable --config", permanent=True)
    token = None
    if args.token_file:
        token = Path(args.token_file).read_text(encoding="utf-8").strip()
    elif os.environ.get("PROACTIVED_TOKEN"):
        token = os.environ["PROACTIVED_TOKEN"]
    elif config is not None and config.server.auth_token is not None:
        token = config.server.auth_token.reveal()
    return Remote(url.rstrip("/"), token, HttpClient(timeout=10.0, retry=RetryPolicy(attempts=attempts)))
