"""``proactived job run NAME -- COMMAND…`` and ``proactived job ping NAME start|success|fail``: check-ins from cron.

``job run`` reports the start, runs the command with its output passed straight through, then reports success
or failure with the exit status and the last lines of output, and exits with the command's own status — also
when the daemon cannot be reached (it says so on stderr, and the command still runs).
"""

from __future__ import annotations

import argparse
import collections
import signal
import subprocess
import sys
import threading
import time
import uuid
from typing import IO, Any

from proactived.cli.common import add_config_option
from proactived.cli.remote import Remote, add_remote_options, remote
from proactived.errors import TransportError

TAIL_LINES = 50


def add_parser(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "job",
        help="report a job's runs to the daemon",
        description="Report a backup/update job's runs (start, success, fail) to the daemon.",
    )
    actions = parser.add_subparsers(dest="job_command", metavar="ACTION", required=True)
    run = actions.add_parser(
        "run",
        help="run a command and report its start and outcome",
        description="Send start, run COMMAND with its output passed through, send success or fail with the exit "
        "status, duration and last output lines; exit with the command's own status.",
    )
    run.add_argument("name", help="the job's name in the configuration")
    run.add_argument("--run-id", help="id pairing start and finish (default: a random one)")
    run.add_argument("--tail-lines", type=int, default=TAIL_LINES, help="output lines sent with the result")
    run.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ARGS…")
    ping = actions.add_parser(
        "ping", help="send one check-in", description="Send one check-in (start, success or fail) for a job."
    )
    ping.add_argument("name", help="the job's name in the configuration")
    ping.add_argument("signal", choices=["start", "success", "fail"], help="what happened")
    ping.add_argument("--run-id", help="id pairing a start with its finish")
    ping.add_argument("--exit-status", type=int, help="the run's exit status (0 = success)")
    ping.add_argument("--log-file", help="send the end of this file as the log tail ('-' for stdin)")
    for action, handler in ((run, handle_run), (ping, handle_ping)):
        add_config_option(action)
        add_remote_options(action)
        action.set_defaults(handler=handler)


def send(daemon: Remote, name: str, signal_name: str, body: dict[str, Any]) -> dict[str, Any]:
    response = daemon.call("POST", f"/api/v1/jobs/{name}/{signal_name}", json=body)
    answer: dict[str, Any] = response.json()
    return answer


def handle_ping(args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"run_id": args.run_id, "exit_status": args.exit_status}
    if args.log_file:
        stream = sys.stdin if args.log_file == "-" else open(args.log_file, encoding="utf-8", errors="replace")  # noqa: SIM115
        with stream:
            body["log"] = stream.read()[-65536:]
    try:
        answer = send(remote(args), args.name, args.signal, {k: v for k, v in body.items() if v is not None})
    except TransportError as exc:
        print(f"proactived: {exc}", file=sys.stderr)
        return 1
    print(f"{answer['job']}: {answer['signal']} recorded (run {answer['run_id']}, state {answer['state']})")
    return 0


def _pump(source: IO[bytes], sink: IO[bytes], tail: collections.deque[str], lock: threading.Lock) -> None:
    for line in iter(source.readline, b""):
        sink.write(line)
        sink.flush()
        with lock:
            tail.append(line.decode("utf-8", "replace").rstrip("\n"))


def run_command(command: list[str], tail_lines: int) -> tuple[int, str]:
    """Run ``command`` passing its output through; (exit status as a shell reports it, last lines)."""
    tail: collections.deque[str] = collections.deque(maxlen=max(1, tail_lines))
    lock = threading.Lock()
    try:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        message = f"proactived: cannot run {command[0]}: {exc.strerror}"
        print(message, file=sys.stderr)
        return (127 if isinstance(exc, FileNotFoundError) else 126), message

    def relay(signum: int, _frame: Any) -> None:
        child.send_signal(signum)

    forward = {s: signal.signal(s, relay) for s in (signal.SIGTERM, signal.SIGHUP)}
    assert child.stdout is not None and child.stderr is not None
    pumps = [
        threading.Thread(target=_pump, args=(child.stdout, sys.stdout.buffer, tail, lock), daemon=True),
        threading.Thread(target=_pump, args=(child.stderr, sys.stderr.buffer, tail, lock), daemon=True),
    ]
    for pump in pumps:
        pump.start()
    try:
        code = child.wait()
    except KeyboardInterrupt:  # the child got the same SIGINT from the terminal
        code = child.wait()
    for pump in pumps:
        pump.join()
    for signum, previous in forward.items():
        signal.signal(signum, previous)
    return (128 - code if code < 0 else code), "\n".join(tail)


def handle_run(args: argparse.Namespace) -> int:
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        print("proactived job run: give the command after --", file=sys.stderr)
        return 2
    run_id = args.run_id or uuid.uuid4().hex
    daemon: Remote | None = None
    try:
        daemon = remote(args, attempts=2)
        send(daemon, args.name, "start", {"run_id": run_id})
    except TransportError as exc:
        print(
            f"proactived: cannot report the start of {args.name} ({exc}); running the command anyway", file=sys.stderr
        )
    started = time.monotonic()
    code, tail = run_command(command, args.tail_lines)
    outcome = "success" if code == 0 else "fail"
    body = {"run_id": run_id, "exit_status": code, "log": tail}
    try:
        if daemon is None:
            daemon = remote(args, attempts=3)
        send(daemon, args.name, outcome, body)
    except TransportError as exc:
        print(
            f"proactived: cannot report {outcome} of {args.name} after {time.monotonic() - started:.1f}s "
            f"(exit status {code}): {exc}",
            file=sys.stderr,
        )
    return code
