"""Hostile input: every parser answers a clear InputError/ConfigError (HTTP 4xx), never a crash or a 500.

Property-based with hypothesis: any JSON, and JSON shaped like each payload with hostile values inside.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proactived.config.load import load_config
from proactived.errors import ConfigError, InputError
from proactived.rules.load import load_rules
from proactived.sources import alertmanager, grafana, prometheus, zabbix
from proactived.sources.push import parse_push
from tests.conftest import T0
from tests.reliability import strategies as s
from tests.running import TOKEN, RunningDaemon, make_config, running_daemon

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HTTP_FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
CLEAN = {200, 400, 404, 413, 415}


def _bytes(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


# -- parsers, called directly -------------------------------------------------------------------------------


@FUZZ
@given(
    st.one_of(s.any_json, st.lists(s.push_alert, max_size=5), st.fixed_dictionaries({"alerts": st.lists(s.push_alert)}))
)
def test_it_parses_or_rejects_any_push_body_with_an_input_error(body: Any) -> None:
    try:
        alerts = parse_push(_bytes(body), T0, max_alerts=100)
    except InputError as exc:
        assert exc.message
    else:
        assert all(a.labels and a.fingerprint for a in alerts)


@FUZZ
@given(st.binary(max_size=200))
def test_it_rejects_undecodable_push_bytes_with_an_input_error(body: bytes) -> None:
    with contextlib.suppress(InputError):
        parse_push(body, T0, max_alerts=100)


@FUZZ
@given(st.one_of(s.any_json, s.webhook_body("4")))
def test_it_parses_or_rejects_any_alertmanager_webhook_body(body: Any) -> None:
    with contextlib.suppress(InputError):
        alertmanager.normalise_webhook(body, "am", T0)


@FUZZ
@given(st.one_of(s.any_json, s.webhook_body("1")))
def test_it_parses_or_rejects_any_grafana_webhook_body(body: Any) -> None:
    with contextlib.suppress(InputError):
        grafana.normalise_webhook(body, "gf", T0)


@FUZZ
@given(st.one_of(s.any_json, st.lists(s.am_alert, max_size=5)))
def test_it_parses_or_rejects_any_alertmanager_and_grafana_poll_response(body: Any) -> None:
    for normalise in (alertmanager.normalise, grafana.normalise):
        with contextlib.suppress(InputError):
            normalise(body, "src", T0)


@FUZZ
@given(s.prom_body)
def test_it_parses_or_rejects_any_prometheus_rules_response(body: Any) -> None:
    with contextlib.suppress(InputError):
        prometheus.normalise(body, "prom", T0)


@FUZZ
@given(st.one_of(s.any_json, st.lists(s.zabbix_problem, max_size=4)), st.lists(s.zabbix_trigger, max_size=3))
def test_it_parses_or_rejects_any_zabbix_problem_list(problems: Any, triggers: list[dict[str, Any]]) -> None:
    by_id = {str(t.get("triggerid")): t for t in triggers}
    with contextlib.suppress(InputError):
        zabbix.normalise(problems, by_id, "zbx", T0)


# -- config and rule files ----------------------------------------------------------------------------------

config_doc = st.one_of(
    s.any_json,
    s.shaped(
        {
            "state_dir": s.nasty_text,
            "server": s.shaped({"listen": s.nasty_text, "threads": st.integers(), "auth_token": s.nasty_text}),
            "dedup": s.shaped({"reopen_window": s.nasty_text}),
            "sources": st.lists(s.any_json, max_size=2),
            "sinks": st.dictionaries(s.nasty_text, s.any_json, max_size=2),
            "jobs": st.lists(s.any_json, max_size=2),
        }
    ),
)
rule_doc = st.one_of(
    s.any_json,
    s.shaped(
        {
            "rules": st.lists(
                s.shaped(
                    {
                        "name": s.nasty_text,
                        "match": st.lists(s.nasty_text, max_size=2),
                        "group_by": st.lists(s.nasty_text, max_size=2),
                        "hold_for": s.nasty_text,
                        "ticket": s.shaped({"title": s.nasty_text, "sink": s.nasty_text}),
                    }
                ),
                max_size=3,
            ),
            "topology": s.shaped({"contains": st.dictionaries(s.nasty_text, st.lists(s.nasty_text), max_size=2)}),
        }
    ),
)


def _yaml_text(doc: Any) -> str:
    try:
        return yaml.safe_dump(doc, allow_unicode=True)
    except yaml.YAMLError:
        return repr(doc)


@FUZZ
@given(st.one_of(config_doc.map(_yaml_text), st.text(max_size=200)))
def test_any_config_file_loads_or_fails_with_located_problems(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "proactived.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_config(path)
        except ConfigError as exc:
            assert exc.problems and all(p.startswith(str(path)) for p in exc.problems), exc.problems


@FUZZ
@given(st.one_of(rule_doc.map(_yaml_text), st.text(max_size=200)))
def test_any_rule_file_loads_or_fails_with_located_problems(text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "10-rules.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            load_rules([path], {"desk"})
        except ConfigError as exc:
            assert exc.problems and all(p.startswith(str(path)) for p in exc.problems), exc.problems


# -- the same through HTTP: only clean status codes ---------------------------------------------------------


@pytest.fixture(scope="module")
def api() -> Iterator[RunningDaemon]:
    with tempfile.TemporaryDirectory() as tmp:
        config = make_config(
            Path(tmp),
            server={"max_body_bytes": 16384, "max_alerts_per_request": 20},
            jobs=[{"name": "backup", "kind": "backup", "schedule": "0 2 * * *", "max_runtime": "1h"}],
            maintenance={"max_log_bytes": 64},
        )
        with running_daemon(config) as d:
            yield d


def _post_raw(api: RunningDaemon, path: str, body: bytes, ctype: str = "application/json") -> requests.Response:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": ctype}
    return requests.post(api.url + path, data=body, headers=headers, timeout=10)


ENDPOINTS = [
    "/api/v1/alerts",
    "/api/v1/webhooks/alertmanager",
    "/api/v1/webhooks/grafana",
    "/api/v1/maintenance",
    "/api/v1/maintenance/end",
    "/api/v1/jobs/backup/start",
    "/api/v1/jobs/backup/success",
    "/api/v1/jobs/backup/fail",
    "/-/reload",
]


@HTTP_FUZZ
@given(
    st.sampled_from(ENDPOINTS),
    st.one_of(
        s.any_json.map(_bytes),
        st.lists(s.push_alert, max_size=25).map(_bytes),
        s.webhook_body("4").map(_bytes),
        s.webhook_body("1").map(_bytes),
        st.binary(max_size=300),
    ),
)
def test_every_write_endpoint_answers_hostile_bodies_with_a_clean_status(
    api: RunningDaemon, path: str, body: bytes
) -> None:
    response = _post_raw(api, path, body)
    assert response.status_code in CLEAN | {409}, (path, body[:200], response.text)
    assert response.headers["Content-Type"].startswith("application/json")
    if response.status_code >= 400:
        answer = response.json()
        assert answer.get("error") or answer.get("errors"), answer


@HTTP_FUZZ
@given(
    st.one_of(st.text(max_size=30), st.sampled_from(["-1", "x", "1" * 400, "a b", "../x"])),
    st.one_of(st.text(max_size=10), st.sampled_from(["999999999999999999999", "-3", "0x1"])),
)
def test_a_check_in_with_hostile_query_values_gets_a_clean_status(api: RunningDaemon, run_id: str, code: str) -> None:
    response = requests.post(
        api.url + "/api/v1/jobs/backup/fail",
        params={"run_id": run_id, "exit_status": code},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=10,
    )
    assert response.status_code in {200, 400}, response.text


# -- limits -------------------------------------------------------------------------------------------------


def test_it_answers_413_to_a_body_over_the_limit_declared_or_streamed(api: RunningDaemon) -> None:
    big = b"[" + b" " * 20000 + b"]"
    assert _post_raw(api, "/api/v1/alerts", big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server must cut it off too
        for _ in range(20):
            yield b" " * 1000

    response = requests.post(
        api.url + "/api/v1/alerts",
        data=chunks(),
        timeout=10,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    assert response.status_code in {400, 413}


def test_it_answers_400_naming_the_limit_for_too_many_alerts_labels_or_long_values(api: RunningDaemon) -> None:
    too_many = [{"labels": {"alertname": f"A{i}"}} for i in range(21)]
    response = api.post("/api/v1/alerts", too_many)
    assert response.status_code == 400 and "too many alerts" in response.json()["error"]
    many_labels = [{"labels": {f"l{i}": "v" for i in range(200)}}]
    response = api.post("/api/v1/alerts", many_labels)
    assert response.status_code in {400, 413} and response.json()["field"].startswith("[0].labels")
    long_value = [{"labels": {"alertname": "x" * 5000}}]
    response = api.post("/api/v1/alerts", long_value)
    assert response.status_code == 400 and response.json()["field"] == "[0].labels.alertname"
    assert api.post("/api/v1/alerts", [{"labels": {"alertname": "Fine"}}]).status_code == 200


def test_it_keeps_only_the_tail_of_a_check_in_log_within_the_limit(api: RunningDaemon) -> None:
    log = "start\n" + "x" * 500 + "\nTHE END"
    response = requests.post(
        api.url + "/api/v1/jobs/backup/fail?run_id=r1",
        data=log.encode(),
        timeout=10,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/plain"},
    )
    assert response.status_code == 200, response.text
    with api.rt.store.reading() as conn:
        from proactived.jobs.tables import job_runs

        [row] = [r for r in conn.execute(job_runs.select()).mappings() if r["run_id"] == "r1"]
    kept = row["log_tail"]
    assert kept.endswith("THE END") and len(kept.encode()) <= 64 + len("[…] ".encode())
