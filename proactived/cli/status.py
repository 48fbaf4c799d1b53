"""``proactived status``: ask the running daemon over HTTP how it is doing."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any
from urllib.parse import urlsplit

from proactived.cli.common import add_config_option, config_or_exit
from proactived.cli.tty import paint
from proactived.errors import TransportError
from proactived.http_client import HttpClient, RetryPolicy

EXIT_STORE_UNREACHABLE = 3
EXIT_DAEMON_UNREACHABLE = 4
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}
_CORE_KEYS = {"version", "started_at", "uptime_seconds", "config_path", "last_reload", "store", "schedule"}
_CORE_KEYS |= {"incidents", "outbox"}


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "status",
        help="show the running daemon's state",
        description="Ask the running daemon (GET /api/v1/status at server.listen from the config) for its version, "
        "uptime, store, last reload, outbox backlog, incident counts and whatever its features report.",
        epilog="exit codes: 0 the daemon answered and its store is reachable; 1 invalid config; "
        "3 the daemon answered but cannot reach its store; 4 the daemon is not reachable",
    )
    add_config_option(parser)
    parser.add_argument("--url", help="the daemon's base URL (default: http://<server.listen> from the config)")
    parser.add_argument("--json", action="store_true", help="print the daemon's JSON answer as it is")
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the answer (default 5)")
    parser.set_defaults(handler=handle)


def daemon_url(listen: str) -> str:
    """The URL to reach a daemon listening on ``listen`` (a wildcard address is reached on loopback)."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]")
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def fetch(url: str, timeout: float) -> dict[str, Any]:
    client = HttpClient(timeout=timeout, retry=RetryPolicy(attempts=1))
    client.session.trust_env = urlsplit(url).hostname not in _LOOPBACK  # never send loopback via a proxy
    try:
        body: dict[str, Any] = client.request("GET", url.rstrip("/") + "/api/v1/status").json()
        return body
    finally:
        client.close()


def handle(args: argparse.Namespace) -> int:
    url = args.url
    if url is None:
        config = config_or_exit(args)
        if config is None:
            return 1
        url = daemon_url(config.server.listen)
    try:
        body = fetch(url, args.timeout)
    except (TransportError, ValueError) as exc:
        print(f"cannot reach the daemon at {url}: {exc}", file=sys.stderr)
        return EXIT_DAEMON_UNREACHABLE
    if args.json:
        print(json.dumps(body, indent=2))
    else:
        print("\n".join(render(body)))
    return 0 if body.get("store", {}).get("reachable") else EXIT_STORE_UNREACHABLE


def render(body: dict[str, Any]) -> list[str]:
    """The status as aligned ``name  value`` lines."""
    store = body.get("store", {})
    reachable = paint("reachable", "green") if store.get("reachable") else paint("UNREACHABLE", "red")
    lines = [
        f"{paint('proactived', 'bold')} {body.get('version')}, up {_duration(body.get('uptime_seconds', 0))} "
        f"(since {body.get('started_at')})",
        f"{'config':10} {body.get('config_path')}  {_reload(body.get('last_reload'))}",
        f"{'store':10} {store.get('url')}  {reachable}" + (f"  {store['error']}" if store.get("error") else ""),
    ]
    if "incidents" in body:
        counts = body["incidents"]
        lines.append(f"{'incidents':10} " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    if "outbox" in body:
        box = body["outbox"]
        pending = sum(box["pending"].values())
        failed = paint(str(box["failed"]), "red") if box["failed"] else "0"
        oldest = _duration(box["oldest_age_seconds"])
        lines.append(f"{'outbox':10} pending {pending} (oldest {oldest}), failed {failed}")
    for job in body.get("schedule", []):
        lines.append(f"{'schedule':10} {job['id']} next {job['next_run']}")
    for name, value in body.items():
        if name not in _CORE_KEYS:
            lines.append(f"{name:10} {json.dumps(value, default=str)}")
    return lines


def _reload(record: dict[str, Any] | None) -> str:
    if not record:
        return paint("(not reloaded since start)", "dim")
    if record["ok"]:
        return f"last reload {record['at']} " + paint("ok", "green")
    return f"last reload {record['at']} " + paint(f"REJECTED ({record['problems']} problems)", "red")


def _duration(seconds: float) -> str:
    s = int(seconds)
    days, s = divmod(s, 86400)
    hours, s = divmod(s, 3600)
    minutes, s = divmod(s, 60)
    return "".join(f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n) or f"{s}s"
