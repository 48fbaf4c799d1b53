"""Start a real in-process daemon (waitress on a random 127.0.0.1 port) for HTTP-level tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from proactived.clock import Clock
from proactived.config.models import Config
from proactived.daemon import Daemon, build_runtime
from proactived.runtime import Runtime

TOKEN = "test-token-0123456789"


@dataclass
class RunningDaemon:
    url: str
    rt: Runtime
    daemon: Daemon

    def post(
        self, path: str, body: Any = None, *, token: str | None = TOKEN, wait: bool = True, **kwargs: Any
    ) -> requests.Response:
        """POST ``body`` as JSON; pushes to /api/v1/alerts are deduplicated before the answer unless ``wait=False``."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if path == "/api/v1/alerts" and wait:
            kwargs["params"] = {"wait": "true", **kwargs.get("params", {})}
        return requests.post(self.url + path, json=body, headers=headers, timeout=10, **kwargs)

    def settle(self, timeout: float = 30) -> None:
        """Wait until the intake stage has deduplicated every accepted push (bounded)."""
        deadline = time.monotonic() + timeout
        while self.rt.status_providers["intake"]()["queued_requests"]:
            assert time.monotonic() < deadline, "the intake stage did not drain its backlog"
            time.sleep(0.02)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return requests.get(self.url + path, timeout=10, **kwargs)


def make_config(tmp_path: Path, store_url: str | None = None, **sections: Any) -> Config:
    data: dict[str, Any] = {
        "state_dir": str(tmp_path / "state"),
        "server": {"listen": "127.0.0.1:0", "auth_token": TOKEN, "threads": 4},
    }
    if store_url:
        data["store"] = {"url": store_url}
    for key, value in sections.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return Config.model_validate(data)


@contextmanager
def running_daemon(
    config: Config, config_path: Path | None = None, clock: Clock | None = None
) -> Iterator[RunningDaemon]:
    rt = build_runtime(config, config_path or Path("/nonexistent.yaml"), clock)
    daemon = Daemon(rt)
    daemon.start()
    try:
        yield RunningDaemon(f"http://{daemon.address}", rt, daemon)
    finally:
        daemon.shutdown()
