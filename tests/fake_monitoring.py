"""A small local HTTP server speaking the read APIs of Alertmanager and Grafana (for systems that cannot run here).

Tests set what each path answers (``serve``), make it slow (``delay``) or failing (``fail``), and read
the requests it received. Only 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

ALERTMANAGER_ALERTS = "/api/v2/alerts"
GRAFANA_ALERTS = "/api/alertmanager/grafana/api/v2/alerts"


@dataclass
class Seen:
    path: str
    query: list[tuple[str, str]]
    headers: dict[str, str]


@dataclass
class FakeMonitoring:
    """State shared with the handler threads."""

    url: str = ""
    bodies: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    delay: float = 0.0
    token: str = ""  # when set, requests need ``Authorization: Bearer <token>`` (401 otherwise)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def serve(self, path: str, body: Any) -> None:
        with self.lock:
            self.bodies[path] = body

    def fail(self, status: int = 503) -> None:
        self.status = status

    def heal(self) -> None:
        self.status = 200


def _handler(state: FakeMonitoring) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            with state.lock:
                state.seen.append(Seen(parts.path, parse_qsl(parts.query), dict(self.headers)))
                body, status, delay = state.bodies.get(parts.path), state.status, state.delay
            if delay:
                time.sleep(delay)  # the server side of a slow source, not test synchronisation
            if state.token and self.headers.get("Authorization") != f"Bearer {state.token}":
                status, body = 401, {"message": "Unauthorized"}
            elif body is None and status == 200:
                status, body = 404, {"message": "not found"}
            elif status != 200:
                body = {"message": "unavailable"}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@contextmanager
def fake_monitoring() -> Iterator[FakeMonitoring]:
    state = FakeMonitoring()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
