"""A failing source never resolves anything by itself: refused, timeouts, garbage, 401 (expired token), 5xx —
each is a failed poll that keeps open incidents open, raises one "source unreachable" incident after the
threshold, and resolves only that one when the source answers again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from proactived.clock import ManualClock
from proactived.daemon import build_runtime
from proactived.sources import build_source
from proactived.sources.poller import UNREACHABLE, SourcePoller
from proactived.store import incidents as incident_rows
from tests.fake_monitoring import ALERTMANAGER_ALERTS, FakeMonitoring, fake_monitoring
from tests.process import free_port
from tests.running import make_config
from tests.test_sources_polling import am_alert


@pytest.fixture
def fake() -> Iterator[FakeMonitoring]:
    with fake_monitoring() as server:
        yield server


def _state(poller: SourcePoller) -> dict[str, str]:
    with poller.rt.store.reading() as conn:
        return {f"{i.name}/{i.labels.get('instance') or i.labels.get('source')}": i.status.value
                for i in incident_rows.list_incidents(conn)}  # fmt: skip


def _poller(tmp_path: Path, clock: ManualClock, url: str, **extra: object) -> SourcePoller:
    source = {"name": "am", "type": "alertmanager", "url": url, "unreachable_after": 3, "interval": "30s",
              "timeout": "1s", **extra}  # fmt: skip
    rt = build_runtime(make_config(tmp_path, sources=[source]), tmp_path / "proactived.yaml", clock)
    return SourcePoller(rt, build_source(rt.config.sources[0], rt.clock.now))


def test_no_kind_of_source_failure_resolves_an_open_incident(
    tmp_path: Path, clock: ManualClock, fake: FakeMonitoring
) -> None:
    fake.token = "fresh-token-1"
    p = _poller(tmp_path, clock, fake.url, bearer_token="fresh-token-1")
    fake.serve(ALERTMANAGER_ALERTS, [am_alert("host-a"), am_alert("host-b")])
    assert p.poll().opened == 2
    faults = {
        "timeout": lambda: setattr(fake, "delay", 1.5),
        "garbage": lambda: fake.serve(ALERTMANAGER_ALERTS, "<html>502 Bad Gateway</html>"),
        "wrong shape": lambda: fake.serve(ALERTMANAGER_ALERTS, {"data": [1, 2]}),
        "expired token": lambda: setattr(fake, "token", "rotated-token-2"),
        "503": lambda: fake.fail(503),
        "500": lambda: fake.fail(500),
    }
    kinds = []
    try:
        for name, inject in faults.items():
            inject()
            clock.advance(timedelta(seconds=30))
            outcome = p.poll()
            assert not outcome.ok, name
            kinds.append(outcome.error_kind)
            assert _state(p)["DiskFull/host-a"] == "firing", name
            fake.delay, fake.token, fake.status = 0.0, "fresh-token-1", 200
            fake.serve(ALERTMANAGER_ALERTS, [am_alert("host-a"), am_alert("host-b")])
            fake.fail(500)  # stay failing between the kinds so the failures add up
        assert _state(p) == {"DiskFull/host-a": "firing", "DiskFull/host-b": "firing", f"{UNREACHABLE}/am": "firing"}
        fake.heal()
        clock.advance(timedelta(seconds=30))
        assert p.poll().ok
        assert _state(p) == {"DiskFull/host-a": "firing", "DiskFull/host-b": "firing",
                             f"{UNREACHABLE}/am": "resolved"}  # fmt: skip
    finally:
        p.rt.store.close()
    assert len(set(kinds)) >= 3, kinds  # the failures are told apart (timeout, payload, auth, http)


def test_a_refused_connection_is_a_failed_poll_and_raises_source_unreachable(
    tmp_path: Path, clock: ManualClock
) -> None:
    p = _poller(tmp_path, clock, f"http://127.0.0.1:{free_port()}")
    try:
        for _ in range(3):
            clock.advance(timedelta(seconds=30))
            assert not p.poll().ok
        assert _state(p) == {f"{UNREACHABLE}/am": "firing"}
    finally:
        p.rt.store.close()
