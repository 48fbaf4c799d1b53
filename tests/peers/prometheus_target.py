"""Tiny Prometheus scrape target for the Prometheus test peer (loopback only).

Run as ``python prometheus_target.py --port N --state FILE``; the peer kills and
restarts it to make the ``TargetDown`` alert fire and resolve.

``GET /metrics``      Prometheus text format: ``harness_value`` (gauge) and
                      ``harness_scrapes_total`` (counter).
``GET /set?value=N``  sets ``harness_value``; it is kept in ``--state`` so it
                      survives restarts (``HarnessValueHigh`` fires when > 10).
"""

from __future__ import annotations

import argparse
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

HOST = "127.0.0.1"


def read_value(state: Path) -> float:
    """Return the value stored in ``state`` (0 when missing or unreadable)."""
    try:
        return float(state.read_text().strip() or 0)
    except (OSError, ValueError):
        return 0.0


def write_value(state: Path, value: float) -> None:
    """Atomically store ``value`` in ``state``."""
    tmp = state.with_name(state.name + ".tmp")
    tmp.write_text(repr(value))
    os.replace(tmp, state)


def render_metrics(value: float, scrapes: int) -> str:
    """Return the /metrics body in Prometheus text exposition format."""
    return (
        "# HELP harness_value Value settable via /set?value=N\n"
        "# TYPE harness_value gauge\n"
        f"harness_value {value}\n"
        "# HELP harness_scrapes_total Scrapes served since start\n"
        "# TYPE harness_scrapes_total counter\n"
        f"harness_scrapes_total {scrapes}\n"
    )


def make_handler(state: Path) -> type[BaseHTTPRequestHandler]:
    """Build the request handler class bound to the ``state`` file."""
    lock = threading.Lock()
    counter = {"scrapes": 0}

    class Handler(BaseHTTPRequestHandler):
        def _send(self, code: int, body: str) -> None:
            data = body.encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlparse(self.path)
            if url.path == "/metrics":
                with lock:
                    counter["scrapes"] += 1
                    scrapes = counter["scrapes"]
                self._send(200, render_metrics(read_value(state), scrapes))
            elif url.path == "/set":
                try:
                    value = float(parse_qs(url.query).get("value", ["0"])[0])
                except ValueError:
                    self._send(400, "value must be a number\n")
                    return
                write_value(state, value)
                self._send(200, f"harness_value set to {value}\n")
            else:
                self._send(404, "not found\n")

        def log_message(self, format: str, *args: object) -> None:
            """Keep the log quiet."""

    return Handler


def main(argv: list[str] | None = None) -> None:
    """Parse arguments and serve until killed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", type=Path, required=True)
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer((HOST, args.port), make_handler(args.state))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
