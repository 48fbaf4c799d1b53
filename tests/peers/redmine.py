"""Real Redmine 5.0 test peer: a session-scoped pytest fixture, ``redmine_server``.

The fixture runs ``tests/peers/redmine_setup.sh DIR PORT`` into a fresh temporary directory
(sqlite db, REST API on, admin + "zabbix-bot" API keys, project "monitoring", tracker "Incident",
status "Acknowledged", filterable issue custom field "External ID"), starts ``rails server -u thin``
on a random free port bound to 127.0.0.1, polls the REST API until it answers, and stops the server
(by PID) at the end of the session, also when the session fails.

It never installs packages. When the Debian packages are missing it skips, or fails when ``CI``
is set; install them with ``bash tests/peers/redmine_setup.sh --install-only`` (root, apt).

Use it by loading this module as a plugin (``pytest_plugins = ["tests.peers.redmine"]``) and
asking for ``redmine_server: RedmineServer``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.peers import unavailable

__all__ = ["RedmineServer", "redmine_installed", "redmine_server"]

HERE = Path(__file__).resolve().parent
SETUP_SCRIPT = HERE / "redmine_setup.sh"
REDMINE_ROOT = Path("/usr/share/redmine")
INSTALL_HINT = "redmine not installed: run bash tests/peers/redmine_setup.sh --install-only"

ADMIN_API_KEY = "a0" * 20
BOT_API_KEY = "b0" * 20

SETUP_TIMEOUT_S = 300.0
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 15.0
HTTP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RedmineServer:
    """A running Redmine instance, as seen by a REST client."""

    url: str
    """Base URL without trailing slash, e.g. ``http://127.0.0.1:41234``."""
    api_key: str
    """Admin API key (header ``X-Redmine-API-Key``)."""
    bot_api_key: str
    """API key of "zabbix-bot", a non-admin member of the project with the Manager role."""
    project: str
    """Project identifier ("monitoring")."""
    project_id: int
    external_id_cf: int
    """Id N of the issue custom field "External ID" (is_filter: ``cf_N=value`` works)."""
    tracker_id: int
    """Id of the "Incident" tracker (Manager: any move among New/Acknowledged/In Progress/Resolved/Closed)."""
    tracker_ids: Mapping[str, int]
    status_ids: Mapping[str, int]
    """Statuses by name: New, In Progress, Resolved, Feedback, Closed, Rejected, Acknowledged."""
    priority_ids: Mapping[str, int]
    """Priorities by name: Low, Normal, High, Urgent, Immediate."""
    admin_user_id: int
    bot_user_id: int
    data_dir: Path
    timings: Mapping[str, float] = field(default_factory=dict)
    """Measured seconds: ``setup`` (setup script) and ``start`` (spawn until the API answers)."""

    def headers(self, api_key: str | None = None) -> dict[str, str]:
        """JSON request headers authenticated with ``api_key`` (default: admin)."""
        return {
            "X-Redmine-API-Key": api_key or self.api_key,
            "Content-Type": "application/json",
            "Accept": "application/json",
        }

    def get_issue(self, issue_id: int, *, journals: bool = True) -> dict[str, Any]:
        """Read one issue (with its journals by default) with the admin key; raises on HTTP errors."""
        params = {"include": "journals"} if journals else {}
        resp = requests.get(
            f"{self.url}/issues/{issue_id}.json",
            headers=self.headers(),
            params=params,
            timeout=HTTP_TIMEOUT_S,
        )
        resp.raise_for_status()
        issue: dict[str, Any] = resp.json()["issue"]
        return issue

    def find_by_external_id(self, value: str, *, include_closed: bool = True) -> list[dict[str, Any]]:
        """Issues of the project whose "External ID" equals ``value`` (closed ones too by default)."""
        params: dict[str, str | int] = {
            "project_id": self.project,
            f"cf_{self.external_id_cf}": value,
            "sort": "id:asc",
            "limit": 100,
        }
        if include_closed:
            params["status_id"] = "*"
        resp = requests.get(f"{self.url}/issues.json", headers=self.headers(), params=params, timeout=HTTP_TIMEOUT_S)
        resp.raise_for_status()
        issues: list[dict[str, Any]] = resp.json()["issues"]
        return issues


def redmine_installed() -> bool:
    """True when the Debian packages redmine, redmine-sqlite and thin are installed."""
    if not (REDMINE_ROOT / "bin" / "rails").exists() or shutil.which("thin") is None:
        return False
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}\n", "redmine", "redmine-sqlite", "thin"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return out.count("install ok installed") == 3


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no {path})"


def _read_env(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            env[key.strip()] = value.strip()
    return env


def _run_setup(data_dir: Path, port: int) -> None:
    env = {**os.environ, "REDMINE_API_KEY": ADMIN_API_KEY, "REDMINE_BOT_API_KEY": BOT_API_KEY}
    env.pop("REDMINE_INSTANCE", None)
    try:
        proc = subprocess.run(
            ["bash", str(SETUP_SCRIPT), str(data_dir), str(port)],
            capture_output=True,
            text=True,
            env=env,
            timeout=SETUP_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"redmine_setup.sh timed out after {exc.timeout}s", pytrace=False)
    if proc.returncode == 3:
        unavailable(INSTALL_HINT)
    if proc.returncode != 0:
        pytest.fail(
            f"redmine_setup.sh failed (rc={proc.returncode}):\n{proc.stdout}\n{proc.stderr}",
            pytrace=False,
        )


def _spawn(data_dir: Path, instance: str, port: int) -> subprocess.Popen[bytes]:
    pid_file = data_dir / "tmp" / "pids" / "server.pid"
    pid_file.unlink(missing_ok=True)
    env = {**os.environ, "REDMINE_INSTANCE": instance, "RAILS_ENV": "production"}
    cmd = [
        "ruby", "bin/rails", "server", "-u", "thin", "-b", "127.0.0.1", "-p", str(port),
        "-e", "production", "-P", str(pid_file),
    ]  # fmt: skip
    with (data_dir / "log" / "server.out").open("ab") as out:
        return subprocess.Popen(
            cmd,
            cwd=REDMINE_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # own process group: no stray SIGINT from the terminal
        )


def _wait_ready(proc: subprocess.Popen[bytes], url: str) -> bool:
    """Poll until the API answers 200 with the admin key; False if the server process exited."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    with requests.Session() as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                return False
            try:
                resp = http.get(
                    f"{url}/users/current.json",
                    headers={"X-Redmine-API-Key": ADMIN_API_KEY},
                    timeout=2,
                )
                if resp.status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.1)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT_S)


def _unlink_instance(instance: str, data_dir: Path) -> None:
    link = Path("/var/lib/redmine") / instance
    try:
        if link.is_symlink() and Path(os.readlink(link)) == data_dir:
            link.unlink()
    except OSError:
        pass


@pytest.fixture(scope="session")
def redmine_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedmineServer]:
    """Set up and run a fresh Redmine 5.0 on 127.0.0.1:<random port> for the whole session."""
    if not redmine_installed():
        unavailable(INSTALL_HINT)
    data_dir = tmp_path_factory.mktemp("redmine").resolve()
    port = _free_port()
    t0 = time.monotonic()
    _run_setup(data_dir, port)
    setup_s = time.monotonic() - t0
    env = _read_env(data_dir / "redmine.env")
    ids: dict[str, Any] = json.loads((data_dir / "ids.json").read_text())
    instance = env["REDMINE_INSTANCE"]

    proc: subprocess.Popen[bytes] | None = None
    try:
        for _attempt in range(3):  # the free port may be taken between probe and bind: retry
            url = f"http://127.0.0.1:{port}"
            t1 = time.monotonic()
            proc = _spawn(data_dir, instance, port)
            if _wait_ready(proc, url):
                break
            _stop(proc)
            port = _free_port()
        else:
            pytest.fail(
                "redmine did not become ready; server.out:\n" + _tail(data_dir / "log" / "server.out"),
                pytrace=False,
            )
        start_s = time.monotonic() - t1
        yield RedmineServer(
            url=url,
            api_key=ADMIN_API_KEY,
            bot_api_key=BOT_API_KEY,
            project=str(ids["project_identifier"]),
            project_id=int(ids["project_id"]),
            external_id_cf=int(ids["external_id_cf"]),
            tracker_id=int(ids["tracker_ids"]["Incident"]),
            tracker_ids={str(k): int(v) for k, v in ids["tracker_ids"].items()},
            status_ids={str(k): int(v) for k, v in ids["status_ids"].items()},
            priority_ids={str(k): int(v) for k, v in ids["priority_ids"].items()},
            admin_user_id=int(ids["admin_user_id"]),
            bot_user_id=int(ids["bot_user_id"]),
            data_dir=data_dir,
            timings={"setup": round(setup_s, 2), "start": round(start_s, 2)},
        )
    finally:
        if proc is not None:
            _stop(proc)
        _unlink_instance(instance, data_dir)
