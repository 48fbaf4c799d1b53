"""The webhook sink: signed JSON deliveries to a local receiver, driven by the running daemon's ticket workers."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from proactived.ticket_actions import TicketKind
from tests.running import make_config, running_daemon
from tests.ticketing import action, enqueue, ticket

SECRET = "hook-secret-123456"


class Receiver:
    def __init__(self) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.fail = 0
        self.url = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if got.fail:
                got.fail -= 1
                self.send_response(503)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            got.deliveries.append((dict(self.headers), body))
            answer = json.dumps({"id": "T-42", "url": "https://desk.example.com/T-42"}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    got.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield got
    server.shutdown()
    server.server_close()


def wait_for(condition: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_it_posts_every_action_signed_and_in_order_per_problem(tmp_path: Path, receiver: Receiver) -> None:
    sinks = {"hook": {"type": "webhook", "url": receiver.url, "secret": SECRET, "backoff": "100ms"}}
    receiver.fail = 2  # the receiver is down for the first two deliveries
    with running_daemon(make_config(tmp_path, sinks=sinks)) as d:
        kinds = [TicketKind.OPEN, TicketKind.UPDATE, TicketKind.RESOLVE, TicketKind.REOPEN]
        enqueue(d.rt.store, [action(k, p, sink="hook") for p in ("p1", "p2") for k in kinds], d.rt.clock.now())
        wait_for(lambda: len(receiver.deliveries) == 8)
        assert ticket(d.rt, "p1").external_id == "T-42" and ticket(d.rt, "p1").url.endswith("/T-42")
    events: dict[str, list[str]] = {}
    for headers, body in receiver.deliveries:
        expected = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Proactived-Signature"] == f"sha256={expected}"
        payload = json.loads(body)
        assert headers["X-Proactived-Delivery"] == payload["delivery"]
        events.setdefault(payload["external_key"], []).append(payload["event"])
    lifecycle = ["open", "update", "resolve", "reopen"]  # the update is not held back: a resolve waits behind it
    assert events == {"proactived-p1": lifecycle, "proactived-p2": lifecycle}
    first = json.loads(receiver.deliveries[0][1])
    assert first["title"] == "[CRITICAL] SwitchDown (+2 related)" and "### Probable root cause" in first["body"]
    assert first["action"]["problem"]["problem_id"] in ("p1", "p2")
