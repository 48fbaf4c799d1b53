"""The real daemon process: clean stop on SIGTERM, safe reload on SIGHUP, nothing lost after kill -9."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.process import DaemonProcess


@pytest.fixture
def proc(tmp_path: Path) -> Iterator[DaemonProcess]:
    daemon = DaemonProcess(tmp_path)
    yield daemon
    daemon.stop()


def incidents(daemon: DaemonProcess) -> list[dict[str, object]]:
    out = subprocess.run(
        [sys.executable, "-m", "proactived", "incidents", "--json", "--config", str(daemon.config_path)],
        capture_output=True,
        check=True,
        timeout=30,
    )
    return list(json.loads(out.stdout))


def test_it_stops_cleanly_on_sigterm_within_10_seconds(proc: DaemonProcess) -> None:
    proc.start()
    assert proc.post([{"labels": {"alertname": "A"}}]).status_code == 200
    started = time.monotonic()
    proc.signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert time.monotonic() - started < 10
    assert "event=daemon_stopped" in proc.log()


def test_a_broken_config_on_sighup_is_rejected_and_the_running_one_kept(proc: DaemonProcess) -> None:
    proc.start()
    good = proc.config_path.read_text()
    proc.config_path.write_text(good + "bogus_key: 1\n")
    proc.signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "config_reload_rejected" not in proc.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert "bogus_key: unknown key" in proc.log()
    assert proc.post([{"labels": {"alertname": "StillServing"}}]).status_code == 200
    metrics = requests.get(proc.url + "/metrics", timeout=5).text
    assert "proactived_config_last_reload_successful 0.0" in metrics
    proc.config_path.write_text(good)
    proc.signal(signal.SIGHUP)
    while "event=config_reloaded" not in proc.log() and time.monotonic() < deadline + 10:
        time.sleep(0.1)
    assert "proactived_config_last_reload_successful 1.0" in requests.get(proc.url + "/metrics", timeout=5).text


def test_kill_9_during_a_stream_of_posts_loses_no_accepted_alert_and_duplicates_no_incident(
    proc: DaemonProcess,
) -> None:
    acked: dict[str, int] = {}
    sent: dict[str, int] = {}
    stop = threading.Event()

    def stream() -> None:
        n = 0
        while not stop.is_set():
            host = f"h{n % 40}"
            n += 1
            sent[host] = sent.get(host, 0) + 1
            try:
                if proc.post([{"labels": {"alertname": "Down", "host": host}}], timeout=2).status_code == 200:
                    acked[host] = acked.get(host, 0) + 1
            except requests.RequestException:
                time.sleep(0.02)

    proc.start()
    client = threading.Thread(target=stream)
    client.start()
    try:
        for _ in range(3):
            time.sleep(0.7)
            proc.kill9()
            proc.start()
        time.sleep(0.5)
    finally:
        stop.set()
        client.join(10)
    proc.stop()
    found = incidents(proc)
    hosts = [dict(i["labels"])["host"] for i in found]  # type: ignore[call-overload]
    assert len(hosts) == len(set(hosts)), "an alert was split into two incidents"
    counts = {dict(i["labels"])["host"]: i["count"] for i in found}  # type: ignore[call-overload]
    assert sum(acked.values()) > 50, "the stream hardly ran; the test proves nothing"
    for host, n in acked.items():
        assert sent[host] >= counts[host] >= n, f"{host}: acked {n}, stored {counts[host]}, sent {sent[host]}"
