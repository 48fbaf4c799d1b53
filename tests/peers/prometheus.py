"""Real Prometheus + Alertmanager test peer (loopback only).

The session-scoped pytest fixture :func:`prometheus_stack` starts, as plain
background subprocesses on 127.0.0.1 with random free ports and their own
temporary directory:

* a scrape target (``prometheus_target.py``, job ``target``) that tests can
  kill and restart, exposing the gauge ``harness_value`` (``/set?value=N``);
* Prometheus, scrape and evaluation interval 1 s, with two alerting rules:
  ``TargetDown`` (``up{job="target"} == 0`` for 2 s, ``severity=critical``) and
  ``HarnessValueHigh`` (``harness_value > 10`` for 2 s, ``severity=warning``);
* Alertmanager without clustering, ``group_wait``/``group_interval`` 1 s,
  ``repeat_interval`` 24 h, routing to a ``null`` receiver until a test calls
  :meth:`PrometheusStack.set_webhook_url` (receiver ``webhook``,
  ``send_resolved: true``).

Config files are written as JSON, which both programs read as YAML.  All
processes are stopped at session end, also when a test or the start fails.
Without the binaries (Debian packages ``prometheus`` and
``prometheus-alertmanager``) the fixture skips, or fails when ``CI`` is set.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import pytest

from tests.peers import unavailable

HOST = "127.0.0.1"
TARGET_JOB = "target"
WEBHOOK_RECEIVER = "webhook"
INSTALL_HINT = "prometheus/alertmanager binaries not found: apt-get install prometheus prometheus-alertmanager"
TARGET_SCRIPT = Path(__file__).with_name("prometheus_target.py")
_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/bin", "/usr/sbin"])
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
_PR_SET_PDEATHSIG = 1

T = TypeVar("T")


class PeerError(RuntimeError):
    """The stack could not be started or did not answer as expected."""


# ---------------------------------------------------------------- helpers


def _which(env_var: str, *names: str) -> str | None:
    """``$env_var`` if set (must be executable), else the first of ``names`` on PATH."""
    override = os.environ.get(env_var)
    if override:
        return shutil.which(override)
    for name in names:
        found = shutil.which(name, path=_SEARCH_PATH)
        if found:
            return found
    return None


def find_binaries() -> tuple[str, str] | None:
    """Return ``(prometheus, alertmanager)`` paths, or None when one is missing.

    ``PROMETHEUS_BIN`` / ``ALERTMANAGER_BIN`` override the PATH lookup; Debian
    names the Alertmanager binary ``prometheus-alertmanager``.
    """
    prometheus = _which("PROMETHEUS_BIN", "prometheus")
    alertmanager = _which("ALERTMANAGER_BIN", "alertmanager", "prometheus-alertmanager")
    if prometheus and alertmanager:
        return prometheus, alertmanager
    return None


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def http_request(url: str, method: str = "GET", data: bytes | None = None, timeout: float = 5.0) -> tuple[int, bytes]:
    """Send one HTTP request (never through a proxy); return (status, body)."""
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def get_json(url: str) -> Any:
    """GET ``url`` and decode its JSON body; raise PeerError unless HTTP 200."""
    status, body = http_request(url)
    if status != 200:
        raise PeerError(f"GET {url}: HTTP {status}: {body[:300]!r}")
    return json.loads(body)


def http_ok(url: str) -> bool:
    """True when GET ``url`` answers HTTP 200 (connection errors count as no)."""
    try:
        return http_request(url, timeout=1.0)[0] == 200
    except OSError:
        return False


def wait_for(
    predicate: Callable[[], T | None],
    timeout: float,
    interval: float = 0.1,
    what: str = "condition",
) -> T:
    """Poll ``predicate`` until it returns something truthy, and return that.

    ``OSError`` (e.g. connection refused) counts as "not yet".  Raises
    ``TimeoutError`` naming ``what`` (and the last error) after ``timeout`` s.
    """
    deadline = time.monotonic() + timeout
    last_error: OSError | None = None
    while True:
        try:
            result = predicate()
        except OSError as err:
            last_error = err
        else:
            if result:
                return result
        if time.monotonic() >= deadline:
            detail = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}{detail}")
        time.sleep(interval)


def _unlabelled_metrics(url: str) -> dict[str, float]:
    """Unlabelled samples of a Prometheus-format ``/metrics`` page."""
    status, body = http_request(url)
    if status != 200:
        raise PeerError(f"GET {url}: HTTP {status}")
    samples: dict[str, float] = {}
    for line in body.decode().splitlines():
        parts = line.split()
        if len(parts) == 2 and not line.startswith("#") and "{" not in parts[0]:
            samples[parts[0]] = float(parts[1])
    return samples


def _write_json(path: Path, obj: object) -> None:
    """Write ``obj`` as indented JSON (valid YAML for Prometheus/Alertmanager)."""
    path.write_text(json.dumps(obj, indent=2) + "\n")


def _child_env() -> dict[str, str]:
    """Environment for children: ours without proxy variables."""
    return {k: v for k, v in os.environ.items() if k.lower() not in _PROXY_VARS}


def _load_prctl() -> Callable[..., int] | None:
    """libc's prctl, resolved in the parent (not after fork), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return prctl


_PRCTL = _load_prctl()


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the thread that started it dies (Linux)."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


# ---------------------------------------------------------------- configs


def rules_config() -> dict[str, Any]:
    """Prometheus rule file: TargetDown and HarnessValueHigh, both ``for: 2s``."""
    return {
        "groups": [
            {
                "name": "harness",
                "interval": "1s",
                "rules": [
                    {
                        "alert": "TargetDown",
                        "expr": f'up{{job="{TARGET_JOB}"}} == 0',
                        "for": "2s",
                        "labels": {"severity": "critical"},
                        "annotations": {
                            "summary": "Target {{ $labels.instance }} of job {{ $labels.job }} is down",
                            "description": "up == 0 for job={{ $labels.job }} "
                            "instance={{ $labels.instance }} (value {{ $value }})",
                        },
                    },
                    {
                        "alert": "HarnessValueHigh",
                        "expr": "harness_value > 10",
                        "for": "2s",
                        "labels": {"severity": "warning"},
                        "annotations": {"summary": "harness_value is {{ $value }} on {{ $labels.instance }}"},
                    },
                ],
            }
        ]
    }


def prometheus_config(rules: Path, target: str, alertmanager: str) -> dict[str, Any]:
    """prometheus.yml: 1 s scrape/eval, job ``target``, one Alertmanager."""
    return {
        "global": {
            "scrape_interval": "1s",
            "scrape_timeout": "800ms",
            "evaluation_interval": "1s",
            "external_labels": {"monitor": "harness"},
        },
        "rule_files": [str(rules)],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]},
        "scrape_configs": [{"job_name": TARGET_JOB, "static_configs": [{"targets": [target]}]}],
    }


def alertmanager_config(webhook_url: str | None) -> dict[str, Any]:
    """alertmanager.yml: 1 s grouping, webhook receiver when a URL is given."""
    receivers: list[dict[str, Any]] = [{"name": "null"}]
    if webhook_url:
        receivers.append(
            {
                "name": WEBHOOK_RECEIVER,
                "webhook_configs": [{"url": webhook_url, "send_resolved": True}],
            }
        )
    return {
        "route": {
            "receiver": WEBHOOK_RECEIVER if webhook_url else "null",
            "group_by": ["alertname", "job"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "24h",
        },
        "receivers": receivers,
    }


# ---------------------------------------------------------------- processes


class _Process:
    """One background subprocess with its log file; restartable."""

    def __init__(self, name: str, argv: list[str], log: Path) -> None:
        self.name = name
        self.argv = argv
        self.log = log
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the command (output appended to the log file)."""
        with self.log.open("ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=_child_env(),
                start_new_session=True,
                preexec_fn=_die_with_parent if _PRCTL is not None else None,
            )

    def running(self) -> bool:
        """True while the process started last is alive."""
        return self.popen is not None and self.popen.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` s; no-op when not running."""
        popen, self.popen = self.popen, None
        if popen is None or popen.poll() is not None:
            return
        popen.terminate()
        try:
            popen.wait(timeout)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait()

    def wait_serving(self, url: str, timeout: float) -> bool:
        """Wait until ``url`` answers 200 (True) or the process exits (False)."""
        try:
            wait_for(lambda: not self.running() or http_ok(url), timeout, what=f"{self.name} at {url}")
        except TimeoutError as err:
            raise PeerError(f"{err}; log tail:\n{self.log_tail()}") from err
        return self.running()

    def log_tail(self, limit: int = 2000) -> str:
        """The last ``limit`` characters of the log, for error messages."""
        try:
            return self.log.read_text(errors="replace")[-limit:]
        except OSError:
            return ""


# ---------------------------------------------------------------- the stack


class PrometheusStack:
    """Prometheus + Alertmanager + a killable scrape target on 127.0.0.1.

    Call :meth:`start` once and :meth:`stop` at the end (the fixture does
    both).  Alerts are shared state: call :meth:`reset` before a test that
    needs a quiet stack.
    """

    #: ``job`` label of the killable target (TargetDown watches ``up{job="target"}``).
    target_job: str = TARGET_JOB

    def __init__(self, workdir: Path, prometheus_bin: str, alertmanager_bin: str) -> None:
        self.workdir = workdir
        self.prometheus_bin = prometheus_bin
        self.alertmanager_bin = alertmanager_bin
        self.webhook_url: str | None = None
        self._config = workdir / "config"
        self._logs = workdir / "logs"
        self._state = workdir / "target.state"
        self._ports: dict[str, int] = {}
        self._procs: dict[str, _Process] = {}
        self._extra_jobs: dict[str, tuple[str, list[Path]]] = {}

    # -- addresses

    def _url(self, name: str) -> str:
        if name not in self._ports:
            raise PeerError(f"{name} is not started")
        return f"http://{HOST}:{self._ports[name]}"

    @property
    def prometheus_url(self) -> str:
        """Base URL of Prometheus, e.g. ``http://127.0.0.1:40123``."""
        return self._url("prometheus")

    @property
    def alertmanager_url(self) -> str:
        """Base URL of Alertmanager."""
        return self._url("alertmanager")

    @property
    def target_url(self) -> str:
        """Base URL of the scrape target (``/metrics``, ``/set?value=N``)."""
        return self._url("target")

    @property
    def target_instance(self) -> str:
        """The ``instance`` label of the target, ``127.0.0.1:PORT``."""
        return self.target_url.removeprefix("http://")

    # -- lifecycle

    def start(self, timeout: float = 60.0) -> None:
        """Start target, Alertmanager and Prometheus; wait until all are ready.

        Returns once Prometheus scraped the target as up and discovered
        Alertmanager.  Stops whatever was started if anything fails.
        """
        for directory in (self._config, self._logs, self.workdir / "prometheus", self.workdir / "alertmanager"):
            directory.mkdir(parents=True, exist_ok=True)
        try:
            self._launch("target", self._target_argv, "/metrics", timeout)
            self._write_alertmanager_config()
            self._launch("alertmanager", self._alertmanager_argv, "/-/ready", timeout)
            self._write_prometheus_config()
            self._launch("prometheus", self._prometheus_argv, "/-/ready", timeout)
            self._wait_scraping(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop every process (Prometheus first); safe to call twice."""
        for name in ("prometheus", "alertmanager", "target"):
            proc = self._procs.get(name)
            if proc is not None:
                proc.stop()

    def _launch(
        self,
        name: str,
        argv_for: Callable[[int], list[str]],
        ready_path: str,
        timeout: float,
        attempts: int = 3,
    ) -> None:
        """Start ``name`` on a random port, retrying when the port was taken."""
        for _ in range(attempts):
            port = free_port()
            proc = _Process(name, argv_for(port), self._logs / f"{name}.log")
            self._procs[name] = proc
            self._ports[name] = port
            proc.start()
            if proc.wait_serving(f"http://{HOST}:{port}{ready_path}", timeout):
                return
        raise PeerError(f"{name} exited at start; log tail:\n{proc.log_tail()}")

    def _wait_scraping(self, timeout: float) -> None:
        """Wait until the target is scraped "up" and Alertmanager is discovered.

        Prometheus' service discovery hands static targets over after ~5 s.
        """
        wait_for(lambda: self.target_health() == "up", timeout, what="Prometheus to scrape the target")
        wait_for(self._alertmanager_discovered, timeout, what="Prometheus to discover Alertmanager")

    def _alertmanager_discovered(self) -> bool:
        data = get_json(self.prometheus_url + "/api/v1/alertmanagers")["data"]
        return bool(data["activeAlertmanagers"])

    # -- argv and config files

    def _target_argv(self, port: int) -> list[str]:
        return [sys.executable, str(TARGET_SCRIPT), "--port", str(port), "--state", str(self._state)]

    def _alertmanager_argv(self, port: int) -> list[str]:
        return [
            self.alertmanager_bin,
            f"--config.file={self._config / 'alertmanager.yml'}",
            f"--storage.path={self.workdir / 'alertmanager'}",
            f"--web.listen-address={HOST}:{port}",
            "--cluster.listen-address=",
        ]

    def _prometheus_argv(self, port: int) -> list[str]:
        return [
            self.prometheus_bin,
            f"--config.file={self._config / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.workdir / 'prometheus'}",
            "--storage.tsdb.retention.time=1d",
            f"--web.listen-address={HOST}:{port}",
        ]

    def _write_prometheus_config(self) -> None:
        rules = self._config / "rules.yml"
        _write_json(rules, rules_config())
        alertmanager = self.alertmanager_url.removeprefix("http://")
        config = prometheus_config(rules, self.target_instance, alertmanager)
        for job, (target, rule_files) in self._extra_jobs.items():
            config["rule_files"] += [str(path) for path in rule_files]
            config["scrape_configs"].append({"job_name": job, "static_configs": [{"targets": [target]}]})
        _write_json(self._config / "prometheus.yml", config)

    def _write_alertmanager_config(self) -> None:
        _write_json(self._config / "alertmanager.yml", alertmanager_config(self.webhook_url))

    # -- controls

    def kill_target(self) -> None:
        """Stop the scrape target; TargetDown fires about 3 s later."""
        self._procs["target"].stop()

    def start_target(self, timeout: float = 10.0) -> None:
        """(Re)start the target on its old port and wait until it serves.

        No-op when it is running.  TargetDown resolves about 1-2 s later.
        """
        proc = self._procs["target"]
        if proc.running():
            return
        proc.start()
        if not proc.wait_serving(self.target_url + "/metrics", timeout):
            raise PeerError(f"target exited at restart; log tail:\n{proc.log_tail()}")

    def set_value(self, value: float) -> None:
        """Set the ``harness_value`` gauge (HarnessValueHigh fires when > 10)."""
        query = urllib.parse.urlencode({"value": value})
        status, body = http_request(f"{self.target_url}/set?{query}")
        if status != 200:
            raise PeerError(f"target /set: HTTP {status}: {body!r}")

    def set_webhook_url(self, url: str | None) -> None:
        """Route all alerts to the webhook ``url`` (None: to the null receiver).

        Rewrites alertmanager.yml, POSTs ``/-/reload`` (it answers once the
        reload is done) and checks that the reload succeeded.  Alerts that are
        still firing are notified again to the new receiver after group_wait.
        """
        self.webhook_url = url
        self._write_alertmanager_config()
        before = time.time()
        status, body = http_request(self.alertmanager_url + "/-/reload", method="POST")
        if status != 200:
            raise PeerError(f"Alertmanager reload failed: HTTP {status}: {body!r}")
        wait_for(lambda: self._reloaded_since(before), 10.0, what="Alertmanager to report a successful reload")

    def add_scrape_job(self, job: str, target: str, rule_files: Sequence[Path] = ()) -> None:
        """Also scrape ``target`` (``HOST:PORT``) as ``job`` and load ``rule_files``; reload Prometheus.

        Undo with :meth:`remove_scrape_job` so later tests see no alerts from it.
        """
        self._extra_jobs[job] = (target, list(rule_files))
        self._reload_prometheus()

    def remove_scrape_job(self, job: str) -> None:
        """Forget a job added by :meth:`add_scrape_job` (and its rule files); reload Prometheus."""
        if self._extra_jobs.pop(job, None) is not None:
            self._reload_prometheus()

    def _reload_prometheus(self) -> None:
        """Rewrite prometheus.yml, SIGHUP Prometheus and wait until it reports a successful reload."""
        self._write_prometheus_config()
        before = int(time.time())
        popen = self._procs["prometheus"].popen
        assert popen is not None
        popen.send_signal(signal.SIGHUP)

        def reloaded() -> bool:
            metrics = _unlabelled_metrics(self.prometheus_url + "/metrics")
            if metrics.get("prometheus_config_last_reload_success_timestamp_seconds", 0.0) < before:
                return False
            if metrics.get("prometheus_config_last_reload_successful") != 1.0:
                raise PeerError(f"Prometheus rejected its config; log tail:\n{self._procs['prometheus'].log_tail()}")
            return True

        wait_for(reloaded, 10.0, what="Prometheus to report a successful reload")
        wait_for(self._alertmanager_discovered, 20.0, what="Prometheus to rediscover Alertmanager")

    def _reloaded_since(self, since: float) -> bool:
        metrics = self._alertmanager_metrics()
        return (
            metrics.get("alertmanager_config_last_reload_successful") == 1.0
            and metrics.get("alertmanager_config_last_reload_success_timestamp_seconds", 0.0) >= since
        )

    def _alertmanager_metrics(self) -> dict[str, float]:
        """Unlabelled samples of Alertmanager's /metrics."""
        return _unlabelled_metrics(self.alertmanager_url + "/metrics")

    def reset(self, timeout: float = 20.0) -> None:
        """Target up, value 0, null receiver; wait until no alert is active."""
        self.start_target()
        self.set_value(0)
        if self.webhook_url is not None:
            self.set_webhook_url(None)
        wait_for(lambda: self.target_health() == "up", timeout, what="the target to be scraped up")
        wait_for(
            lambda: not self.prometheus_alerts() and not self.alertmanager_alerts(), timeout, what="all alerts to clear"
        )

    # -- queries

    def wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 20.0,
        interval: float = 0.1,
        what: str = "condition",
    ) -> T:
        """Poll ``predicate`` until truthy and return its value; see :func:`wait_for`."""
        return wait_for(predicate, timeout, interval, what)

    def query(self, expr: str) -> list[dict[str, Any]]:
        """Instant PromQL query; the ``data.result`` vector."""
        url = f"{self.prometheus_url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        result: list[dict[str, Any]] = get_json(url)["data"]["result"]
        return result

    def target_health(self) -> str | None:
        """Health of the target in Prometheus ("up", "down", "unknown") or None."""
        url = self.prometheus_url + "/api/v1/targets?state=active"
        for target in get_json(url)["data"]["activeTargets"]:
            if target["labels"].get("job") == TARGET_JOB:
                return str(target["health"])
        return None

    def prometheus_alerts(self, alertname: str | None = None) -> list[dict[str, Any]]:
        """Pending and firing alerts from Prometheus ``/api/v1/alerts``."""
        alerts: list[dict[str, Any]] = get_json(self.prometheus_url + "/api/v1/alerts")["data"]["alerts"]
        return [a for a in alerts if alertname is None or a["labels"].get("alertname") == alertname]

    def alertmanager_alerts(self, alertname: str | None = None) -> list[dict[str, Any]]:
        """Active alerts from Alertmanager ``/api/v2/alerts``."""
        alerts: list[dict[str, Any]] = get_json(self.alertmanager_url + "/api/v2/alerts")
        return [a for a in alerts if alertname is None or a["labels"].get("alertname") == alertname]


# ---------------------------------------------------------------- fixture


def _missing_binaries() -> NoReturn:
    """Skip (or fail under CI) because the binaries are not installed."""
    unavailable(INSTALL_HINT)


@pytest.fixture(scope="session")
def prometheus_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusStack]:
    """A started :class:`PrometheusStack`, stopped at session end."""
    binaries = find_binaries()
    if binaries is None:
        _missing_binaries()
    stack = PrometheusStack(tmp_path_factory.mktemp("prometheus"), *binaries)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
