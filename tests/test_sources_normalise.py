"""Each source's pure ``normalise`` against captured payloads, and the ``sources:`` config errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from proactived.config.load import load_config
from proactived.errors import ConfigError, InputError
from proactived.model import Severity, Status, fingerprint_of
from proactived.sources import alertmanager, grafana, prometheus, zabbix
from tests.conftest import T0

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def zabbix_result(name: str) -> Any:
    return fixture(f"zabbix/{name}")["response"]["result"]


def test_it_keeps_firing_prometheus_alerts_and_drops_pending_unless_asked() -> None:
    firing = prometheus.normalise(fixture("prometheus/prometheus_api_v1_alerts_firing.json"), "prom", T0).alerts
    assert [a.labels["alertname"] for a in firing] == ["TargetDown"]
    alert = firing[0]
    assert alert.fingerprint == fingerprint_of("prom", alert.labels)
    assert alert.severity is Severity.CRITICAL and alert.status is Status.FIRING
    assert alert.starts_at.isoformat() == "2026-11-23T07:06:20.360859+00:00"  # nanoseconds cut, not refused
    pending = fixture("prometheus/prometheus_api_v1_alerts_pending.json")
    assert prometheus.normalise(pending, "prom", T0).alerts == []
    assert len(prometheus.normalise(pending, "prom", T0, include_pending=True).alerts) == 1


def test_it_refuses_a_prometheus_error_envelope_naming_the_field() -> None:
    with pytest.raises(InputError) as caught:
        prometheus.normalise({"status": "error", "error": "boom"}, "prom", T0)
    assert caught.value.field == "status"
    with pytest.raises(InputError) as caught:
        prometheus.normalise({"status": "success", "data": {"alerts": [{"state": "firing"}]}}, "prom", T0)
    assert caught.value.field == "data.alerts[0].labels"


def test_it_uses_the_alertmanager_fingerprint_and_maps_severity_per_source() -> None:
    payload = fixture("prometheus/alertmanager_api_v2_alerts_firing.json")
    collected = alertmanager.normalise(payload, "am", T0, severity_table={"critical": Severity.HIGH})
    (alert,) = collected.alerts
    assert alert.fingerprint == "am:559ffc2aef8e66b4"
    assert alert.severity is Severity.HIGH and alert.source_severity == "critical"
    assert alert.ends_at is None  # the API's endsAt is a projected expiry, not an end


def _silenced(payload: list[dict[str, Any]]) -> list[dict[str, Any]]:
    item = json.loads(json.dumps(payload[0]))
    item["status"] = {"state": "suppressed", "silencedBy": ["6f1a"], "inhibitedBy": [], "mutedBy": []}
    return [item]


def test_it_keeps_silenced_alerts_open_without_announcing_them_unless_included() -> None:
    payload = _silenced(fixture("prometheus/alertmanager_api_v2_alerts_firing.json"))
    skipped = alertmanager.normalise(payload, "am", T0)
    assert skipped.alerts == [] and skipped.keep == {"am:559ffc2aef8e66b4"}
    included = alertmanager.normalise(payload, "am", T0, include_suppressed=True)
    assert included.alerts[0].suppressed == "alertmanager silenced by 6f1a"


def test_it_applies_each_webhook_alert_by_its_own_status() -> None:
    payload = fixture("prometheus/webhook_partial_resolve_grouped.json")
    alerts = alertmanager.normalise_webhook(payload, "amw", T0)
    assert [(a.labels["instance"], a.status) for a in alerts] == [
        ("host-a", Status.RESOLVED),
        ("host-b", Status.FIRING),
        ("host-c", Status.FIRING),
    ]
    assert alerts[0].ends_at is not None and alerts[1].ends_at is None  # Go's zero time means unset
    assert alerts[0].fingerprint == "amw:1161423f284344f8"


def test_it_hashes_the_labels_of_webhooks_from_alertmanager_before_0_19() -> None:
    payload = fixture("prometheus/webhook_firing.json")
    for alert in payload["alerts"]:
        del alert["fingerprint"]
    (alert,) = alertmanager.normalise_webhook(payload, "amw", T0)
    assert alert.fingerprint == fingerprint_of("amw", alert.labels)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.pop("version"), "version"),
        (lambda p: p.update(alerts={}), "alerts"),
        (lambda p: p["alerts"][1].update(status="gone"), "alerts[1].status"),
        (lambda p: p["alerts"][2].update(labels={"a": 1}), "alerts[2].labels.a"),
        (lambda p: p["alerts"][0].update(startsAt="yesterday"), "alerts[0].startsAt"),
    ],
)
def test_it_names_the_field_of_a_malformed_webhook(mutate: Any, field: str) -> None:
    payload = fixture("prometheus/webhook_partial_resolve_grouped.json")
    mutate(payload)
    with pytest.raises(InputError) as caught:
        alertmanager.normalise_webhook(payload, "amw", T0)
    assert caught.value.field == field


GRAFANA_ALERT = {
    "labels": {"__alert_rule_uid__": "e554be49", "alertname": "fundamentals-test", "grafana_folder": "fundamentals"},
    "annotations": {"summary": "CPU high", "__dashboardUid__": "abc", "__value_string__": "[ var='B' value=94 ]"},
    "endsAt": "2023-07-18T09:51:30.000Z",
    "fingerprint": "eb977b43836c0ce9",
    "startsAt": "2023-07-18T09:50:00.000Z",
    "status": {"inhibitedBy": [], "silencedBy": [], "state": "active"},
    "updatedAt": "2023-07-18T09:50:00.018Z",
    "receivers": [{"name": "grafana-default-email"}],
    "generatorURL": "http://localhost:3000/alerting/grafana/e554be49/view",
}


def test_it_drops_grafana_private_labels_from_display_but_keeps_its_fingerprint() -> None:
    (alert,) = grafana.normalise([GRAFANA_ALERT], "graf", T0).alerts
    assert alert.labels == {"alertname": "fundamentals-test", "grafana_folder": "fundamentals"}
    assert alert.annotations == {"summary": "CPU high"}
    assert alert.fingerprint == "graf:eb977b43836c0ce9" and alert.source_kind == "grafana"
    no_fp = {k: v for k, v in GRAFANA_ALERT.items() if k != "fingerprint"}
    (hashed,) = grafana.normalise([no_fp], "graf", T0).alerts
    assert hashed.fingerprint == fingerprint_of("graf", GRAFANA_ALERT["labels"])  # private labels included


GRAFANA_WEBHOOK: dict[str, Any] = {
    "receiver": "proactived",
    "status": "firing",
    "orgId": 1,
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "High memory usage", "team": "blue", "zone": "us-1", "severity": "critical"},
            "annotations": {"summary": "This alert was triggered for zone us-1"},
            "startsAt": "2021-10-12T09:51:03.157076+02:00",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "https://play.grafana.org/alerting/1afz29v7z/edit?orgId=1",
            "fingerprint": "c6eadffa33fcdf37",
            "silenceURL": "https://play.grafana.org/alerting/silence/new?alertmanager=grafana\u0026matcher=x",
            "dashboardURL": "",
            "panelURL": "",
            "values": {"B": 44.23943737541908, "C": 1},
            "valueString": "",
        },
        {
            "status": "resolved",
            "labels": {"alertname": "Disk", "instance": "db1"},
            "annotations": {},
            "startsAt": "2021-10-12T09:00:00Z",
            "endsAt": "2021-10-12T09:50:00Z",
            "generatorURL": "",
            "fingerprint": "0a1b2c3d4e5f6071",
            "values": None,
        },
    ],
    "groupLabels": {"alertname": ""},
    "commonLabels": {},
    "commonAnnotations": {},
    "externalURL": "https://play.grafana.org/",
    "version": "1",
    "groupKey": "alertname",
    "truncatedAlerts": 0,
    "title": "[FIRING:1]",
    "state": "alerting",
    "message": "**Firing**",
}


def test_it_reads_a_grafana_webhook() -> None:
    firing, resolved = grafana.normalise_webhook(GRAFANA_WEBHOOK, "gw", T0)
    assert firing.fingerprint == "gw:c6eadffa33fcdf37" and firing.severity is Severity.CRITICAL
    assert firing.starts_at.isoformat() == "2021-10-12T07:51:03.157076+00:00"
    assert resolved.status is Status.RESOLVED and resolved.ends_at is not None
    with pytest.raises(InputError) as caught:
        grafana.normalise_webhook({**GRAFANA_WEBHOOK, "version": "4"}, "gw", T0)
    assert caught.value.field == "version"


def test_grafana_signatures_cover_the_timestamp_and_the_body() -> None:
    sig = grafana.signature("s3cret", b"{}", "1700000000")
    assert grafana.signature_matches("s3cret", b"{}", sig.upper(), "1700000000")
    assert not grafana.signature_matches("s3cret", b"{}", sig, "1700000001")
    assert not grafana.signature_matches("s3cret", b"{ }", sig, "1700000000")


TRIGGERS = {
    "23133": {
        "triggerid": "23133",
        "hosts": [{"hostid": "10559", "host": "web01", "name": "Web server 01"}],
        "dependencies": [{"triggerid": "23001"}],
    }
}


def test_it_reads_a_zabbix_problem_with_host_severity_and_tags() -> None:
    (alert,) = zabbix.normalise(
        zabbix_result("problem.get_active.json"), TRIGGERS, "zbx", T0, frontend="http://z"
    ).alerts
    assert alert.fingerprint == "zbx:23133:1"
    assert alert.labels == {
        "alertname": "High CPU load on web01",
        "severity": "high",
        "host": "web01",
        "host_name": "Web server 01",
        "scope": "performance",
        "service": "web",
        "zabbix_triggerid": "23133",
        "zabbix_eventid": "1",
        "zabbix_depends_on": "23001",
    }
    assert alert.severity is Severity.HIGH and alert.status is Status.FIRING and not alert.suppressed
    assert alert.starts_at.timestamp() == 1795420418
    assert alert.generator_url == "http://z/tr_events.php?triggerid=23133&eventid=1"


def test_it_sees_a_zabbix_recovery_in_r_eventid() -> None:
    (alert,) = zabbix.normalise(zabbix_result("problem.get_recent_resolved.json"), TRIGGERS, "zbx", T0).alerts
    assert alert.status is Status.RESOLVED and alert.fingerprint == "zbx:23133:1"
    assert alert.ends_at is not None and alert.ends_at.timestamp() == 1795420419


def test_it_carries_zabbix_maintenance_on_the_alert_or_only_keeps_it_open() -> None:
    problems = zabbix_result("problem.get_suppressed_in_maintenance.json")
    (alert,) = zabbix.normalise(problems, {}, "zbx", T0).alerts
    assert alert.suppressed == "zabbix maintenance 2"
    assert "host" not in alert.labels  # trigger not found: no guess
    skipped = zabbix.normalise(problems, {}, "zbx", T0, include_suppressed=False)
    assert skipped.alerts == [] and skipped.keep == {"zbx:23133:5"}
    manual = [{**problems[0], "suppression_data": [{"maintenanceid": "0", "userid": "1"}]}]
    assert zabbix.normalise(manual, {}, "zbx", T0).alerts[0].suppressed == "zabbix manual suppression"


def test_it_joins_repeated_zabbix_tag_keys_and_moves_clashing_ones_aside() -> None:
    tags = [{"tag": "service", "value": "web"}, {"tag": "service", "value": "db"}, {"tag": "host", "value": "x"}]
    assert zabbix.tag_labels(tags) == {"service": "db,web", "tag_host": "x"}
    assert [zabbix.severity_word(str(n)) for n in range(6)] == [
        "not classified",
        "information",
        "warning",
        "average",
        "high",
        "disaster",
    ]


def test_it_names_the_problem_of_an_unexpected_zabbix_shape() -> None:
    with pytest.raises(InputError) as caught:
        zabbix.normalise([{"eventid": "1"}], {}, "zbx", T0)
    assert caught.value.field == "problems[0]"


def _config_errors(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "proactived.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [p.replace(str(path), "F") for p in caught.value.problems]


def test_an_unknown_source_type_is_an_error_at_its_line(tmp_path: Path) -> None:
    problems = _config_errors(
        tmp_path,
        "sources:\n"
        "  - name: prom\n    type: prometheus\n    url: http://127.0.0.1:9090\n"
        "  - name: old\n    type: nagios\n    url: http://nagios\n"
        "  - name: zbx\n    type: zabbix\n    url: http://z\n    username: bot\n"
        "  - name: am\n    type: alertmanager\n    url: am.local\n    interval: 0s\n    colour: red\n",
    )
    assert problems == [
        "F:5:5: sources.1: unknown source type 'nagios' (known: alertmanager, grafana, prometheus, zabbix)",
        "F:8:5: sources.2: give api_token, or username and password",
        "F:14:5: sources.3.url: expected an http:// or https:// URL",
        "F:15:5: sources.3.interval: must be at least 1s",
        "F:16:5: sources.3.colour: unknown key",
    ]


def test_two_sources_with_one_name_are_an_error(tmp_path: Path) -> None:
    entry = "  - name: prom\n    type: prometheus\n    url: http://127.0.0.1:9090\n"
    assert _config_errors(tmp_path, "sources:\n" + entry + entry) == ["F:1:1: sources: two sources are named 'prom'"]
