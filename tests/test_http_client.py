"""The outgoing HTTP chokepoint against a real local server: retries, permanence, Retry-After, redaction."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from proactived.config.secrets import Secret
from proactived.errors import TransportError
from proactived.http_client import HttpClient, RetryPolicy


class Scripted(BaseHTTPRequestHandler):
    """Answers each request with the next scripted (status, headers) and records what it got."""

    script: list[tuple[int, dict[str, str]]] = []
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        Scripted.seen.append(dict(self.headers))
        status, headers = Scripted.script.pop(0) if Scripted.script else (200, {})
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        body = b'{"ok": true}' if status < 400 else b'{"error": "nope"}'
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    Scripted.script, Scripted.seen = [], []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def client(sleeps: list[float]) -> HttpClient:
    return HttpClient(timeout=2, retry=RetryPolicy(attempts=3, backoff=0.5), sleep=sleeps.append)


def test_it_retries_5xx_and_429_honouring_retry_after(server: str) -> None:
    Scripted.script = [(503, {}), (429, {"Retry-After": "2"})]
    sleeps: list[float] = []
    response = client(sleeps).request("GET", server + "/x")
    assert response.json() == {"ok": True}
    assert sleeps == [0.5, 2.0]
    assert Scripted.seen[0]["User-Agent"].startswith("proactived/")


def test_a_4xx_is_permanent_and_not_retried(server: str) -> None:
    Scripted.script = [(422, {})]
    sleeps: list[float] = []
    with pytest.raises(TransportError) as caught:
        client(sleeps).request("GET", server + "/x")
    assert caught.value.permanent and "HTTP 422" in str(caught.value)
    assert sleeps == [] and len(Scripted.seen) == 1


def test_giving_up_on_5xx_is_a_transient_error(server: str) -> None:
    Scripted.script = [(500, {})] * 3
    with pytest.raises(TransportError) as caught:
        client([]).request("GET", server + "/x")
    assert not caught.value.permanent and len(Scripted.seen) == 3


def test_connection_refused_is_transient_and_secrets_are_blanked() -> None:
    Secret("hunter2-password")
    with pytest.raises(TransportError) as caught:
        client([]).request("GET", "http://bot:hunter2-password@127.0.0.1:9/x")
    assert not caught.value.permanent
    assert "hunter2-password" not in str(caught.value)
