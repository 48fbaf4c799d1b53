"""systemd notifications: the real daemon process says READY, WATCHDOG, RELOADING and STOPPING on a socket."""

from __future__ import annotations

import os
import signal
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from proactived.sdnotify import Heartbeat, Notifier
from tests.process import DaemonProcess


class NotifySocket:
    """A unix datagram socket standing in for systemd's notification socket; records every message."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.messages.append((time.monotonic(), data.decode()))

    def wait_for(self, predicate: Callable[[str], bool], timeout: float = 15.0, after: int = 0) -> tuple[int, str]:
        """Index and text of the first message from index ``after`` on that matches."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index, (_, text) in enumerate(self.messages[after:], start=after):
                if predicate(text):
                    return index, text
            time.sleep(0.02)
        raise AssertionError(f"no matching notification within {timeout}s; got {[m for _, m in self.messages]}")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    folder = tempfile.mkdtemp(prefix="pd-", dir="/tmp")  # unix socket paths must stay under 108 bytes
    listener = NotifySocket(os.path.join(folder, "notify"))
    yield listener
    listener.close()
    os.unlink(listener.address)
    os.rmdir(folder)


def test_it_notifies_ready_watchdog_reloading_and_stopping_and_exits_on_sigterm(
    tmp_path: Path, notify_socket: NotifySocket
) -> None:
    proc = DaemonProcess(tmp_path)
    try:
        proc.start(env={"NOTIFY_SOCKET": notify_socket.address, "WATCHDOG_USEC": "1000000"})
        ready, text = notify_socket.wait_for(lambda m: "READY=1" in m)
        assert f"STATUS=listening on 127.0.0.1:{proc.port}" in text
        first_ping, _ = notify_socket.wait_for(lambda m: m == "WATCHDOG=1", after=ready)
        second_ping, _ = notify_socket.wait_for(lambda m: m == "WATCHDOG=1", after=first_ping + 1)
        gap = notify_socket.messages[second_ping][0] - notify_socket.messages[first_ping][0]
        assert 0.3 < gap < 1.0, "pings come at half of WATCHDOG_USEC"

        proc.signal(signal.SIGHUP)
        reloading, text = notify_socket.wait_for(lambda m: m.startswith("RELOADING=1"), after=second_ping)
        assert int(text.split("MONOTONIC_USEC=")[1]) > 0
        notify_socket.wait_for(lambda m: m.startswith("READY=1"), after=reloading)

        started = time.monotonic()
        proc.signal(signal.SIGTERM)
        notify_socket.wait_for(lambda m: m == "STOPPING=1", after=reloading)
        assert proc.wait(10) == 0
        assert time.monotonic() - started < 10
    finally:
        proc.stop()


def test_ready_is_only_sent_once_the_http_server_answers(tmp_path: Path, notify_socket: NotifySocket) -> None:
    proc = DaemonProcess(tmp_path)
    try:
        proc.start(env={"NOTIFY_SOCKET": notify_socket.address})
        notify_socket.wait_for(lambda m: "READY=1" in m)
        assert requests.get(proc.url + "/readyz", timeout=5).status_code == 200
        assert (tmp_path / "state" / "proactived.db").exists(), "the store is migrated before READY"
        assert not any("WATCHDOG=1" in m for _, m in notify_socket.messages), "no watchdog configured, no pings"
    finally:
        proc.stop()


def test_it_does_nothing_outside_systemd() -> None:
    notifier = Notifier.from_environ({})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog_interval is None
    assert Heartbeat(notifier, lambda: True).tick() is False


def test_it_sends_to_an_abstract_socket_named_with_an_at_sign() -> None:
    listener = NotifySocket("@proactived-test-" + uuid.uuid4().hex)
    try:
        assert Notifier(listener.address).stopping()
        listener.wait_for(lambda m: m == "STOPPING=1", timeout=5)
    finally:
        listener.close()


def test_it_ignores_a_watchdog_meant_for_another_process() -> None:
    env = {"NOTIFY_SOCKET": "/run/x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}
    assert Notifier.from_environ(env).watchdog_interval is None
    env["WATCHDOG_PID"] = str(os.getpid())
    assert Notifier.from_environ(env).watchdog_interval == 15.0


class RecordingNotifier(Notifier):
    def __init__(self) -> None:
        super().__init__("/nonexistent", watchdog_usec=10_000_000)
        self.sent: list[str] = []

    def send(self, *lines: str) -> bool:
        self.sent.extend(lines)
        return True


def test_the_heartbeat_pings_at_half_the_watchdog_timeout_and_stops_when_unhealthy() -> None:
    now = [100.0]
    healthy = [True]
    notifier = RecordingNotifier()
    beat = Heartbeat(notifier, lambda: healthy[0], monotonic=lambda: now[0])
    assert beat.tick() and notifier.sent == ["WATCHDOG=1"]
    now[0] += 4.9
    assert not beat.tick(), "not due before half of the 10 s timeout"
    now[0] += 0.1
    assert beat.tick()
    healthy[0] = False
    now[0] += 60
    assert not beat.tick(), "an unhealthy process lets the watchdog expire"
    assert notifier.sent == ["WATCHDOG=1", "WATCHDOG=1"]
    healthy[0] = True
    assert beat.tick()
