"""No one gets in: credentials on every write endpoint, constant-time checks, signed Grafana deliveries with a
replay window, loopback by default, private state files, and label values that cannot inject markup or headers."""

from __future__ import annotations

import ast
import hashlib
import hmac
import os
import stat
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

import proactived
from proactived.config.models import Config, ServerConfig
from proactived.model import Status
from proactived.reports.periods import resolve
from proactived.reports.runner import deliver
from proactived.sinks.adf import to_adf
from proactived.sinks.render import DIALECTS, render_ticket
from proactived.store import Store
from proactived.ticket_actions import TicketKind
from tests.builders import alert
from tests.report_data import SERVICES, report_config, smtp_config, t
from tests.running import TOKEN, RunningDaemon, make_config, running_daemon
from tests.smtp_server import smtp_server
from tests.ticketing import action, problem

HMAC_SECRET = "grafana-hmac-secret-9f2"
EVIL = "<script>alert(1)</script>{{ 7*7 }}{% raw %}\r\nh1. Injected\r\nBcc: victim@example.com\x00\x1b[31m\u202e"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDaemon]:
    config = make_config(
        tmp_path_factory.mktemp("security"),
        jobs=[{"name": "backup", "kind": "backup", "every": "1d", "token": "job-token-77aa"}],
        webhooks={
            "grafana": {"hmac_secret": HMAC_SECRET, "timestamp_header": "X-Grafana-Alerting-Signature-Timestamp"}
        },
    )
    with running_daemon(config) as d:
        yield d


def _write_routes(api: RunningDaemon) -> list[tuple[str, str]]:
    return sorted((m, p) for (m, p), r in api.rt.router.routes.items() if m != "GET" or r.auth)


def test_every_write_endpoint_refuses_requests_without_or_with_wrong_credentials(api: RunningDaemon) -> None:
    routes = _write_routes(api)
    paths = {p for _, p in routes}
    assert {"/api/v1/alerts", "/api/v1/webhooks/alertmanager", "/api/v1/webhooks/grafana", "/api/v1/maintenance",
            "/api/v1/maintenance/end", "/-/reload", "/api/v1/jobs/backup/start", "/api/v1/jobs/backup/success",
            "/api/v1/jobs/backup/fail"} <= paths  # fmt: skip
    body = [{"labels": {"alertname": "Intruder"}}]
    wrong = [None, "", "Bearer", "Bearer ", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Basic {TOKEN}",
             f"bearer  {TOKEN[::-1]}", "Basic Og=="]  # fmt: skip
    for method, path in routes:
        for header in wrong:
            headers = {"Authorization": header} if header is not None else {}
            response = requests.request(method, api.url + path, json=body, headers=headers, timeout=10)
            assert response.status_code == 401, (method, path, header, response.status_code)
            assert "WWW-Authenticate" in response.headers
    with api.rt.store.reading() as conn:
        from proactived.store.schema import incidents

        assert conn.execute(incidents.select()).first() is None  # nothing got in


def test_reads_need_the_token_only_when_protect_reads_is_set(tmp_path: Path) -> None:
    reads = ["/metrics", "/healthz", "/readyz", "/api/v1/status"]
    with running_daemon(make_config(tmp_path / "open")) as d:
        assert [d.get(p).status_code for p in reads] == [200] * 4
    with running_daemon(make_config(tmp_path / "closed", server={"protect_reads": True})) as d:
        assert [d.get(p).status_code for p in reads] == [401] * 4
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert [d.get(p, headers=auth).status_code for p in reads] == [200] * 4


def test_credentials_are_compared_in_constant_time_everywhere() -> None:
    """No ``==``/``!=`` on a token, password, secret or signature in the package; compare_digest instead."""
    secretish = ("token", "password", "secret", "signature", "api_key")
    offenders = []
    for path in Path(proactived.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare) and any(isinstance(op, ast.Eq | ast.NotEq) for op in node.ops):
                operands = [node.left, *node.comparators]
                names = [ast.unparse(o).lower() for o in operands]
                if any(any(w in n for w in secretish) for n in names) and not any(
                    isinstance(o, ast.Constant | ast.Compare)
                    for o in operands  # `x == ""`, `(a is None) != ...`
                ):
                    offenders.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
    assert offenders == []
    for module in ("http/wsgi.py", "sources/webhooks.py", "sources/grafana.py"):
        assert "hmac.compare_digest" in (Path(proactived.__file__).parent / module).read_text()


def _grafana(api: RunningDaemon, body: bytes, timestamp: int, secret: str = HMAC_SECRET) -> requests.Response:
    mac = hmac.new(secret.encode(), f"{timestamp}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {
        "Authorization": f"Bearer {TOKEN}",
        "Content-Type": "application/json",
        "X-Grafana-Alerting-Signature": mac,
        "X-Grafana-Alerting-Signature-Timestamp": str(timestamp),
    }
    return requests.post(api.url + "/api/v1/webhooks/grafana", data=body, headers=headers, timeout=10)


def test_grafana_deliveries_need_a_valid_signature_within_the_replay_window(api: RunningDaemon) -> None:
    body = (b'{"version": "1", "status": "firing", "alerts": [{"status": "firing", '
            b'"labels": {"alertname": "Signed"}, "startsAt": "2026-11-02T09:00:00Z"}]}')  # fmt: skip
    now = int(time.time())
    assert _grafana(api, body, now).status_code == 200
    assert _grafana(api, body, now - 3600).status_code == 401  # a captured delivery replayed an hour later
    assert _grafana(api, body, now + 3600).status_code == 401
    assert _grafana(api, body, now, secret="guess").status_code == 401
    assert _grafana(api, body.replace(b"Signed", b"Forged"), now, secret="guess").status_code == 401


def test_the_server_listens_on_loopback_unless_told_otherwise() -> None:
    assert ServerConfig().host == "127.0.0.1"
    assert Config().server.listen.startswith("127.0.0.1:")


def test_the_state_dir_and_database_files_are_private(tmp_path: Path) -> None:
    old = os.umask(0o022)  # a typical permissive umask: the modes must not depend on it
    try:
        with running_daemon(make_config(tmp_path)) as d:
            assert d.post("/api/v1/alerts", [{"labels": {"alertname": "A"}}]).status_code == 200
            state = tmp_path / "state"
            assert stat.S_IMODE(state.stat().st_mode) == 0o700
            files = sorted(state.iterdir())
            assert files, "no database written"
            for f in files:
                assert stat.S_IMODE(f.stat().st_mode) & 0o077 == 0, f"{f.name} is readable by others"
    finally:
        os.umask(old)


def _evil_action() -> object:
    p = problem("p-evil")
    root = replace(p.root_cause, name=EVIL, labels={**p.root_cause.labels, "host": EVIL},
                   annotations={"summary": EVIL, "description": "Fine\n" + EVIL})  # fmt: skip
    return action(TicketKind.OPEN, "p-evil", view=replace(p, root_cause=root, common_labels={"site": EVIL}),
                  title_template="{{ labels.site }} is down")  # fmt: skip


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
def test_label_values_cannot_run_templates_or_inject_markup_into_tickets(dialect: str) -> None:
    rendered = render_ticket(DIALECTS[dialect], _evil_action())  # type: ignore[arg-type]
    for text in (rendered.title, rendered.body):
        assert "49" not in text  # {{ 7*7 }} stayed text
        assert not any(c in text for c in "\x00\x1b\u202e\r")
    assert "\n" not in rendered.title
    lines = rendered.body.splitlines()
    block = {"textile": "h1.", "markdown": "# "}.get(dialect)  # Jira wiki has no escape for a line-start "h1."
    if block:
        assert not any(line.startswith(block) for line in lines), rendered.body
    if dialect in ("textile", "markdown"):
        assert "<script>" not in rendered.body
    if dialect == "markdown":  # Jira Cloud gets it as ADF: the label is a text node, never a link or a mark
        headings = [n for n in _nodes(to_adf(rendered.body)) if n.get("type") == "heading"]
        assert headings and not any("Injected" in str(h) or "script" in str(h) for h in headings)


def _nodes(node: object) -> list[dict[str, object]]:
    if not isinstance(node, dict):
        return []
    return [node, *[n for child in node.get("content", []) for n in _nodes(child)]]


def test_label_values_are_html_escaped_in_report_mails_and_cannot_add_headers(store: Store) -> None:
    ingest_evil(store)
    cfg = report_config(title="ACME\r\nBcc: victim@example.com")
    with smtp_server() as (port, recorder):
        assert deliver(store, cfg, SERVICES, smtp_config(port), resolve("2026-11", t("2026-12-01T07:00")),
                       t("2026-12-01T07:00")) == "sent"  # fmt: skip
    (got,) = recorder.received
    msg = got.message
    assert msg["Bcc"] is None and "victim@example.com" not in got.rcpt_tos
    assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<script>" not in html and "49" not in html.replace("2049", "")


def ingest_evil(store: Store) -> None:
    from datetime import timedelta

    from proactived.clock import ManualClock
    from proactived.dedup import DedupSettings
    from proactived.ingest import Ingestor

    clock = ManualClock(datetime(2026, 11, 10, 10, tzinfo=UTC))
    ingest = Ingestor(store, clock, lambda: DedupSettings(reopen_window=timedelta(minutes=5))).ingest
    ingest([alert("<script>x</script>{{ 7*7 }}", service="shop", host="web1")])
    clock.advance(timedelta(hours=1))
    ingest([alert("<script>x</script>{{ 7*7 }}", status=Status.RESOLVED, service="shop", host="web1")])
