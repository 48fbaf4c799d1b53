"""``proactived maintenance add|list|end``: plan, show and end maintenance windows on the running daemon."""

from __future__ import annotations

import argparse
import getpass
import json
from datetime import UTC, datetime
from typing import Any

from proactived.cli.common import add_config_option
from proactived.cli.remote import add_remote_options, remote
from proactived.errors import TransportError


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "maintenance",
        help="plan, list and end maintenance windows",
        description="Plan, list and end maintenance windows on the running daemon.",
    )
    actions = parser.add_subparsers(dest="maintenance_command", metavar="ACTION", required=True)
    add = actions.add_parser(
        "add",
        help="plan a window (mutes matching alerts while it lasts)",
        description="Plan a maintenance window: matching alerts still become incidents but open no tickets.",
    )
    add.add_argument(
        "--match",
        action="append",
        required=True,
        help="label matcher in Alertmanager syntax, e.g. host=db1 or 'service=~\"pg.*\"' (repeatable)",
    )
    add.add_argument(
        "--from", dest="starts", help="start: ISO 8601, local time unless an offset is given (default: now)"
    )
    until = add.add_mutually_exclusive_group(required=True)
    until.add_argument("--until", help="end: ISO 8601, local time unless an offset is given")
    until.add_argument("--for", dest="duration", help="length, e.g. 2h or 1h30m")
    add.add_argument("--reason", default="", help="shown on muted problems and in reports")
    add.add_argument("--by", default=_user(), help="who plans it (default: the current user)")
    listing = actions.add_parser(
        "list", help="windows active now or still to come", description="List windows active now or still to come."
    )
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    end = actions.add_parser(
        "end",
        help="end a window now (or cancel one not yet begun)",
        description="End a window now, or cancel one that has not begun.",
    )
    end.add_argument("id", type=int, help="the window's id, as `maintenance list` shows it")
    for action, handler in ((add, handle_add), (listing, handle_list), (end, handle_end)):
        add_config_option(action)
        add_remote_options(action)
        action.set_defaults(handler=handler)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def when(text: str) -> str:
    """ISO 8601 to RFC 3339; a time without offset is the machine's local time."""
    parsed = datetime.fromisoformat(text)
    return (parsed if parsed.tzinfo else parsed.astimezone()).astimezone(UTC).isoformat()


def _call(args: argparse.Namespace, method: str, path: str, **kwargs: Any) -> dict[str, Any] | None:
    try:
        answer: dict[str, Any] = remote(args).call(method, path, **kwargs).json()
        return answer
    except TransportError as exc:
        print(f"proactived: {exc}")
        return None


def handle_add(args: argparse.Namespace) -> int:
    try:
        body: dict[str, Any] = {"matchers": args.match, "reason": args.reason, "created_by": args.by}
        if args.starts:
            body["starts_at"] = when(args.starts)
        if args.until:
            body["ends_at"] = when(args.until)
        else:
            body["duration"] = args.duration
    except ValueError as exc:
        print(f"proactived maintenance add: {exc}")
        return 2
    answer = _call(args, "POST", "/api/v1/maintenance", json=body)
    if answer is None:
        return 1
    print(f"maintenance window {answer['id']} planned")
    return 0


def handle_list(args: argparse.Namespace) -> int:
    answer = _call(args, "GET", "/api/v1/maintenance")
    if answer is None:
        return 1
    if args.json:
        print(json.dumps(answer["windows"], indent=2))
        return 0
    print(f"{'ID':16} {'ORIGIN':7} {'ACTIVE':6} {'FROM':17} {'UNTIL':17} MATCHERS / REASON")
    for w in answer["windows"]:
        span = [datetime.fromisoformat(w[k]).strftime("%Y-%m-%d %H:%MZ") for k in ("starts_at", "ends_at")]
        print(
            f"{w['id']:16} {w['origin']:7} {'yes' if w['active'] else 'no':6} {span[0]:17} {span[1]:17} "
            f"{','.join(w['matchers'])}  {w['reason']}"
        )
    return 0


def handle_end(args: argparse.Namespace) -> int:
    answer = _call(args, "POST", "/api/v1/maintenance/end", json={"id": args.id})
    if answer is None:
        return 1
    print(f"maintenance window {answer['id']} ended")
    return 0
