"""Run the real ``proactived`` command as a subprocess, for signal, crash and restart tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import requests

from tests.running import TOKEN


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DaemonProcess:
    """One ``python -m proactived run`` child with its own config, logs and state dir."""

    def __init__(self, tmp_path: Path, extra_yaml: str = "", store_url: str | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_path = tmp_path / "proactived.yaml"
        self.log_path = tmp_path / "daemon.log"
        store = f"store:\n  url: {store_url}\n" if store_url else ""
        self.config_path.write_text(
            f"state_dir: {tmp_path / 'state'}\n{store}server:\n  listen: 127.0.0.1:{self.port}\n"
            f"  auth_token: {TOKEN}\nlog:\n  level: debug\n{extra_yaml}"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0, env: Mapping[str, str] | None = None) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "proactived", "run", "--config", str(self.config_path)],
            stdout=log,
            stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).ok:
                    return
            except requests.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"daemon did not come up:\n{self.log()}")

    def signal(self, signum: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def wait(self, timeout: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def post(self, body: object, timeout: float = 5) -> requests.Response:
        return requests.post(
            self.url + "/api/v1/alerts", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=timeout
        )
