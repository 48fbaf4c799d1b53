"""The benchmark suite: proactived side by side with a real Alertmanager, on this machine, in one run.

Run: .venv/bin/python bench/run.py [--runs 3] [--quick] [--out bench/RESULTS.md]

Figures (each over ``--runs`` runs: median, min, max):
  ingest      100,000 alerts in batches of 1,000 (10,000 distinct) POSTed by one keep-alive client to the
              daemon's /api/v1/alerts and, in the same run, to Alertmanager's /api/v2/alerts; alerts/s, ratio.
              proactived answers once a request is stored; "deduplicated" is the rate up to the moment its
              intake stage has turned every stored request into incidents (from the first POST)
  ingest-100k the same with 100,000 distinct label sets
  rss         resident memory of both processes after each load
  ticket      Alertmanager-webhook delivery -> the create request at a local desk (webhook sink, hold_for 0)
  poll        one poll of an Alertmanager holding 10,000 active alerts: wall and CPU time in the daemon (steady:
              median of 5, once Alertmanager has settled after the load), and Alertmanager's answer alone
  storm       bench/correlation_storm.py: lag from the last stored alert to the last correlated, problems
  report      bench/report_bench.py: a year of history (1,000,000 state changes, 500 services)
  floor       the ingest payloads through json.loads + fingerprint hashing only

Everything listens on 127.0.0.1, every loop is bounded, and every process the suite starts is stopped by it.
The daemon runs as ``python -m proactived run`` on SQLite with its default synchronous=FULL (durable).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TOKEN = "bench-token-0123456789abcdef"
AM_CONFIG = """route:
  receiver: blackhole
  group_wait: 1h
  group_interval: 1h
  repeat_interval: 24h
receivers:
  - name: blackhole
"""


# ---------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def wait_http(port: int, path: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before answering {path}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"nothing answered 200 on 127.0.0.1:{port}{path} within {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def am_binary() -> str:
    binary = shutil.which("alertmanager") or shutil.which("prometheus-alertmanager")
    if binary is None:
        raise SystemExit("no alertmanager binary (Debian package `prometheus-alertmanager`)")
    return binary


@contextlib.contextmanager
def alertmanager(folder: Path) -> Iterator[tuple[int, int]]:
    """A fresh Alertmanager on 127.0.0.1 with its cluster listener off; yields (port, pid)."""
    binary = am_binary()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "alertmanager.yml").write_text(AM_CONFIG)
    port = free_port()
    log = (folder / "alertmanager.log").open("ab")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={folder / 'alertmanager.yml'}",
            f"--storage.path={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=log,
    )
    try:
        wait_http(port, "/-/ready", proc)
        yield port, proc.pid
    finally:
        stop(proc)
        log.close()


@contextlib.contextmanager
def daemon(folder: Path, extra_yaml: str = "") -> Iterator[tuple[int, int]]:
    """A fresh ``proactived run`` on 127.0.0.1 (SQLite in ``folder``); yields (port, pid)."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = folder / "proactived.yaml"
    rules = folder / "rules.d"
    rules.mkdir(exist_ok=True)
    config.write_text(
        f"state_dir: {folder / 'state'}\nrules_dir: {rules}\nserver:\n  listen: 127.0.0.1:{port}\n"
        f"  auth_token: {TOKEN}\nlog:\n  level: warning\n{extra_yaml}"
    )
    log = (folder / "daemon.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "proactived", "run", "--config", str(config)],
        stdout=log,
        stderr=log,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        wait_http(port, "/healthz", proc)
        yield port, proc.pid
    finally:
        stop(proc)
        log.close()


def payloads(total: int, distinct: int, batch: int) -> list[bytes]:
    """Alertmanager-API-shaped alerts; alert i carries label set i % distinct (the same bytes for both)."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    severities = ("critical", "warning", "info")
    bodies = []
    for start in range(0, total, batch):
        alerts = []
        for i in range(start, min(start + batch, total)):
            k = i % distinct
            alerts.append(
                {
                    "labels": {
                        "alertname": f"BenchLoad{k % 20}",
                        "job": "bench",
                        "instance": f"host-{k:06d}",
                        "severity": severities[k % 3],
                        "service": f"svc-{k % 50}",
                    },
                    "annotations": {"summary": f"synthetic alert {k}", "description": f"load alert {k}"},
                    "startsAt": now,
                    "generatorURL": f"http://127.0.0.1/bench/{k}",
                }
            )
        bodies.append(json.dumps(alerts).encode())
    return bodies


def post_all(port: int, path: str, bodies: list[bytes], headers: dict[str, str], limit_s: float) -> float:
    """POST every body on one keep-alive connection; returns accepted alerts/s (non-2xx counts as a failure)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    accepted = 0
    deadline = time.monotonic() + limit_s
    started = time.perf_counter()
    for body in bodies:
        if time.monotonic() > deadline:
            break
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json", **headers})
        response = conn.getresponse()
        answer = response.read()
        if response.status // 100 != 2:
            raise RuntimeError(f"POST {path}: {response.status} {answer[:200]!r}")
        accepted += body.count(b'"labels"')
    elapsed = time.perf_counter() - started
    conn.close()
    return accepted / elapsed


# ---------------------------------------------------------------- figures


@dataclass
class Figure:
    name: str
    unit: str
    target: str = ""
    values: list[float] = field(default_factory=list)
    ok: Callable[[float], bool] | None = None
    note: str = ""

    def cells(self) -> tuple[str, str, str, str]:
        if not self.values:
            return ("-", "-", "-", "not measured")
        med, lo, hi = statistics.median(self.values), min(self.values), max(self.values)
        verdict = "" if self.ok is None else ("met" if self.ok(med) else "MISSED")
        return (fmt(med), fmt(lo), fmt(hi), verdict)


def fmt(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def ingest_pair(work: Path, bodies: list[bytes], limit_s: float) -> tuple[float, float, float, float, float]:
    """(proactived accepted alerts/s, its RSS MiB, Alertmanager alerts/s, its RSS MiB, proactived
    deduplicated alerts/s) — same payloads, same run. proactived's RSS is read once its intake has drained."""
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with daemon(work / "daemon") as (port, pid):
        started = time.perf_counter()
        ours = post_all(port, "/api/v1/alerts", bodies, auth, limit_s)
        wait_drained(port, limit_s)
        done = sum(body.count(b'"labels"') for body in bodies) / (time.perf_counter() - started)
        ours_rss = rss_mib(pid)
    with alertmanager(work / "am") as (port, pid):
        theirs = post_all(port, "/api/v2/alerts", bodies, {}, limit_s)
        time.sleep(0.5)
        theirs_rss = rss_mib(pid)
    return ours, ours_rss, theirs, theirs_rss, done


def wait_drained(port: int, limit_s: float) -> None:
    """Until the daemon's intake stage has deduplicated every accepted push (``/api/v1/status``)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/api/v1/status")
        status = json.loads(conn.getresponse().read())
        conn.close()
        if status["intake"]["queued_requests"] == 0:
            return
        time.sleep(0.05)
    raise RuntimeError(f"the intake did not drain within {limit_s:.0f} s")


def floor(bodies: list[bytes]) -> float:
    from proactived.model import fingerprint_of

    started = time.perf_counter()
    n = 0
    for body in bodies:
        for item in json.loads(body):
            fingerprint_of("push", item["labels"])
            n += 1
    return n / (time.perf_counter() - started)


class Desk(ThreadingHTTPServer):
    """A local service desk behind the webhook sink: records when each create request arrived."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), DeskHandler)
        self.arrivals: dict[str, float] = {}
        self.lock = threading.Lock()


class DeskHandler(BaseHTTPRequestHandler):
    server: Desk

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        now = time.perf_counter()
        data = json.loads(body)
        if data.get("event") == "open":
            match = re.search(r"ttk-\d{6}", body.decode())
            if match:
                with self.server.lock:
                    self.server.arrivals.setdefault(match.group(0), now)
        answer = json.dumps({"id": data.get("delivery", "x"), "url": "http://127.0.0.1/t"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


def time_to_ticket(work: Path, problems: int, gap_s: float) -> list[float]:
    """Seconds from each webhook delivery's 200 to its create request at the desk."""
    desk = Desk()
    threading.Thread(target=desk.serve_forever, daemon=True).start()
    sink = f"sinks:\n  desk:\n    type: webhook\n    url: http://127.0.0.1:{desk.server_address[1]}/hook\n"
    (work / "daemon" / "rules.d").mkdir(parents=True, exist_ok=True)
    (work / "daemon" / "rules.d" / "bench.yaml").write_text(
        "rules:\n  - name: each\n    match: ['job=\"ttk\"']\n    group_by: [instance]\n"
        "    hold_for: 0s\n    window: 0s\n"
        "    ticket: {sink: desk, title: '{{ labels.instance }} down'}\n"
    )
    sent: dict[str, float] = {}
    try:
        with daemon(work / "daemon", sink) as (port, _pid):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            for i in range(problems):
                key = f"ttk-{i:06d}"
                delivery = {
                    "version": "4",
                    "groupKey": f'{{}}:{{instance="{key}"}}',
                    "status": "firing",
                    "receiver": "proactived",
                    "groupLabels": {"instance": key},
                    "commonLabels": {},
                    "commonAnnotations": {},
                    "externalURL": "http://127.0.0.1:9093",
                    "alerts": [
                        {
                            "status": "firing",
                            "labels": {"alertname": "HostDown", "job": "ttk", "instance": key},
                            "annotations": {"summary": f"{key} is down"},
                            "startsAt": datetime.now(UTC).isoformat(),
                            "endsAt": "0001-01-01T00:00:00Z",
                            "generatorURL": "",
                            "fingerprint": f"{i:016x}",
                        }
                    ],
                }
                conn.request(
                    "POST",
                    "/api/v1/webhooks/alertmanager",
                    body=json.dumps(delivery),
                    headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
                )
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    raise RuntimeError(f"webhook delivery refused: {response.status}")
                sent[key] = time.perf_counter()
                time.sleep(gap_s)
            deadline = time.monotonic() + 60
            while len(desk.arrivals) < problems and time.monotonic() < deadline:
                time.sleep(0.05)
            conn.close()
    finally:
        desk.shutdown()
        desk.server_close()
    missing = problems - len(desk.arrivals)
    if missing:
        print(f"  ticket: {missing} of {problems} problems got no ticket within 60 s", file=sys.stderr)
    return [desk.arrivals[k] - sent[k] for k in sent if k in desk.arrivals]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int, timeout: float = 30.0) -> None:
    """Wait until the process uses under 5 % of a CPU over half a second (Alertmanager sorting what it was sent)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(0.5)
        if cpu_seconds(pid) - before < 0.025:
            return


def poll_cost(work: Path, alerts: int, repeats: int = 5) -> tuple[float, float, float, float, float]:
    """(first poll wall s, CPU s; steady poll wall s, CPU s; Alertmanager's answer alone s) of an Alertmanager
    holding ``alerts`` alerts. Alertmanager is left to settle after the load first, so that what is timed is a
    poll, not Alertmanager still digesting the alerts it was sent; steady figures are medians of ``repeats``."""
    import requests

    from proactived.clock import SystemClock
    from proactived.config.models import Config
    from proactived.runtime import Runtime
    from proactived.sources.alertmanager import AlertmanagerConfig, AlertmanagerSource
    from proactived.sources.poller import SourcePoller
    from proactived.store import Store

    bodies = payloads(alerts, alerts, 1000)
    with alertmanager(work / "am-poll") as (port, pid):
        post_all(port, "/api/v2/alerts", bodies, {}, 120)
        wait_idle(pid)
        store = Store(f"sqlite:///{work / 'poll.db'}")
        store.upgrade()
        rt = Runtime(config=Config(state_dir=str(work)), config_path=work / "x.yaml", store=store, clock=SystemClock())
        config = AlertmanagerConfig(name="am", type="alertmanager", url=f"http://127.0.0.1:{port}")
        poller = SourcePoller(rt, AlertmanagerSource(config, rt.clock.now))
        walls, cpus = [], []
        for _ in range(1 + repeats):
            wall, cpu = time.perf_counter(), time.thread_time()
            outcome = poller.poll()
            walls.append(time.perf_counter() - wall)
            cpus.append(time.thread_time() - cpu)
            if not outcome.ok or outcome.alerts != alerts:
                raise RuntimeError(f"poll saw {outcome.alerts} of {alerts} alerts ({outcome})")
        poller.close()
        store.close()
        answers = []
        with requests.Session() as session:
            for _ in range(repeats):
                started = time.perf_counter()
                session.get(f"http://127.0.0.1:{port}/api/v2/alerts", timeout=30).raise_for_status()
                answers.append(time.perf_counter() - started)
    return (walls[0], cpus[0], statistics.median(walls[1:]), statistics.median(cpus[1:]), statistics.median(answers))


def run_script(args: list[str], patterns: dict[str, str], timeout: float) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=True
    )
    found = {}
    for key, pattern in patterns.items():
        match = re.search(pattern, result.stdout)
        if match is None:
            raise RuntimeError(f"{args[0]}: no {key!r} in its output:\n{result.stdout}")
        found[key] = float(match.group(1).replace(",", ""))
    return found


# ---------------------------------------------------------------- main


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    version = subprocess.run([am_binary(), "--version"], capture_output=True, text=True)
    am = (version.stdout + version.stderr).splitlines()
    sqlite = __import__("sqlite3").sqlite_version
    return (
        f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}, Python "
        f"{platform.python_version()}, SQLite {sqlite}, {am[0] if am else 'alertmanager ?'}"
    )


def record_ingest(
    figures: dict[str, Figure], suffix: str, label: str, pair: tuple[float, float, float, float, float]
) -> None:
    """File one ingest run's rates, memory and ratios under the figure keys ending in ``suffix``."""
    ours, ours_rss, am, am_rss, done = pair
    for key, value in (("ours", ours), ("am", am), ("ratio", ours / am), ("ours_rss", ours_rss),
                       ("am_rss", am_rss), ("rss_ratio", ours_rss / am_rss), ("done", done),
                       ("done_ratio", done / am)):  # fmt: skip
        figures[key + suffix].values.append(value)
    print(
        f"  {label}: accepted {ours:,.0f} (deduplicated {done:,.0f}) vs AM {am:,.0f} alerts/s; "
        f"RSS {ours_rss:.0f} vs {am_rss:.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller loads, one run: a smoke test of the suite")
    parser.add_argument("--only", default="", help="comma-separated: ingest,ingest100k,ticket,poll,storm,report,floor")
    parser.add_argument("--out", default=str(HERE / "RESULTS.md"), help="'' to skip writing")
    args = parser.parse_args()
    runs = 1 if args.quick else args.runs
    total, distinct, problems, polled, changes = (
        (20_000, 2_000, 100, 2_000, 100_000) if args.quick else (100_000, 10_000, 1_000, 10_000, 1_000_000)
    )
    wanted = (
        set(args.only.split(","))
        if args.only
        else {"ingest", "ingest100k", "ticket", "poll", "storm", "report", "floor"}
    )
    started = datetime.now(UTC)
    figures = {
        "ours": Figure("ingest, proactived, accepted (10k distinct)", "alerts/s"),
        "am": Figure("ingest, Alertmanager (10k distinct)", "alerts/s"),
        "ratio": Figure("ingest ratio proactived / Alertmanager", "x", ">= 1", ok=lambda v: v >= 1),
        "done": Figure("ingest, proactived, deduplicated (10k distinct)", "alerts/s"),
        "done_ratio": Figure("deduplicated / Alertmanager (10k distinct)", "x"),
        "ours_rss": Figure("RSS after, proactived (10k distinct)", "MiB"),
        "am_rss": Figure("RSS after, Alertmanager (10k distinct)", "MiB"),
        "rss_ratio": Figure("RSS ratio (10k distinct)", "x", "< 1.5", ok=lambda v: v < 1.5),
        "ours_100k": Figure("ingest, proactived, accepted (100k distinct)", "alerts/s"),
        "am_100k": Figure("ingest, Alertmanager (100k distinct)", "alerts/s"),
        "ratio_100k": Figure("ingest ratio (100k distinct)", "x", ">= 1", ok=lambda v: v >= 1),
        "done_100k": Figure("ingest, proactived, deduplicated (100k distinct)", "alerts/s"),
        "done_ratio_100k": Figure("deduplicated / Alertmanager (100k distinct)", "x"),
        "ours_rss_100k": Figure("RSS after, proactived (100k distinct)", "MiB"),
        "am_rss_100k": Figure("RSS after, Alertmanager (100k distinct)", "MiB"),
        "rss_ratio_100k": Figure("RSS ratio (100k distinct)", "x", "< 1", ok=lambda v: v < 1),
        "ttk50": Figure("time to ticket p50", "ms"),
        "ttk99": Figure("time to ticket p99", "ms", "< 250", ok=lambda v: v < 250),
        "poll_first": Figure("poll of AM, first (opens all) wall", "s"),
        "poll_first_cpu": Figure("poll of AM, first, CPU", "s"),
        "poll": Figure("poll of AM, steady wall", "s", "< 0.3", ok=lambda v: v < 0.3),
        "poll_cpu": Figure("poll of AM, steady CPU", "s"),
        "poll_am": Figure("poll: AM's answer alone (GET)", "s"),
        "storm_lag": Figure("storm: correlated after last alert", "s", "< 1", ok=lambda v: v < 1),
        "storm_problems": Figure("storm: problems", "count", "= 20", ok=lambda v: v == 20),
        "report": Figure("report, one year", "s", "< 5", ok=lambda v: v < 5),
        "report_rss": Figure("report, peak RSS", "MB"),
        "floor": Figure("floor (json.loads + fingerprint)", "alerts/s"),
        "floor_ratio": Figure("floor / pipeline (10k distinct)", "x", "<= 3", ok=lambda v: v <= 3),
    }
    bodies = payloads(total, distinct, 1000)
    bodies_all = payloads(total, total, 1000)
    for run in range(runs):
        print(f"run {run + 1} of {runs}", flush=True)
        with tempfile.TemporaryDirectory(prefix="proactived-bench-") as tmp:
            work = Path(tmp)
            if "ingest" in wanted:
                record_ingest(figures, "", "ingest 10k", ingest_pair(work / "i10", bodies, 300))
            if "ingest100k" in wanted:
                record_ingest(figures, "_100k", "ingest all distinct", ingest_pair(work / "i100", bodies_all, 300))
            if "floor" in wanted:
                rate = floor(bodies)
                figures["floor"].values.append(rate)
                if figures["ours"].values:
                    figures["floor_ratio"].values.append(rate / figures["ours"].values[-1])
                print(f"  floor: {rate:,.0f} alerts/s")
            if "ticket" in wanted:
                latencies = time_to_ticket(work / "ttk", problems, 0.01)
                if latencies:
                    figures["ttk50"].values.append(percentile(latencies, 0.5) * 1000)
                    figures["ttk99"].values.append(percentile(latencies, 0.99) * 1000)
                    print(
                        f"  ticket: p50 {figures['ttk50'].values[-1]:.0f} ms, p99 {figures['ttk99'].values[-1]:.0f} ms"
                    )
            if "poll" in wanted:
                first, first_cpu, steady, steady_cpu, answer = poll_cost(work / "poll", polled)
                for key, value in (
                    ("poll_first", first),
                    ("poll_first_cpu", first_cpu),
                    ("poll", steady),
                    ("poll_cpu", steady_cpu),
                    ("poll_am", answer),
                ):
                    figures[key].values.append(value)
                print(
                    f"  poll: first {first:.2f} s ({first_cpu:.2f} CPU), steady {steady:.2f} s ({steady_cpu:.2f} CPU),"
                    f" Alertmanager's answer alone {answer:.2f} s"
                )
            if "storm" in wanted:
                hosts = "400" if args.quick else "2000"
                found = run_script(
                    ["bench/correlation_storm.py", "--hosts", hosts],
                    {"lag": r"correlation lag\s+([\d.]+) s", "problems": r"problems\s+([\d,]+)"},
                    600,
                )
                figures["storm_lag"].values.append(found["lag"])
                figures["storm_problems"].values.append(found["problems"])
                print(f"  storm: lag {found['lag']:.2f} s, {found['problems']:.0f} problems")
            if "report" in wanted:
                found = run_script(
                    ["bench/report_bench.py", "--changes", str(changes)],
                    {"time": r"report year 2026\s+.*?: ([\d.]+) s", "rss": r"peak RSS of the report process: (\d+)"},
                    1200,
                )
                figures["report"].values.append(found["time"])
                figures["report_rss"].values.append(found["rss"])
                print(f"  report: {found['time']:.2f} s, {found['rss']:.0f} MB")
    table = render(figures, runs, args.quick)
    print()
    print(table)
    if args.out:
        write_results(Path(args.out), table, started, args.quick, runs)


def render(figures: dict[str, Figure], runs: int, quick: bool) -> str:
    lines = [
        "| figure | unit | median | min | max | target | |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for fig in figures.values():
        if not fig.values:
            continue
        med, lo, hi, verdict = fig.cells()
        lines.append(f"| {fig.name} | {fig.unit} | {med} | {lo} | {hi} | {fig.target} | {verdict} |")
    return "\n".join(lines)


def write_results(path: Path, table: str, started: datetime, quick: bool, runs: int) -> None:
    """Replace the generated block of RESULTS.md (between the markers), keeping the written analysis."""
    begin, end = "<!-- bench/run.py: begin -->", "<!-- bench/run.py: end -->"
    block = (
        f"{begin}\nMeasured {started:%Y-%m-%d %H:%M} UTC by `bench/run.py{' --quick' if quick else ''}`, "
        f"{runs} run(s) per figure, on {machine()}.\n\n{table}\n{end}"
    )
    text = path.read_text() if path.exists() else f"# Benchmark results\n\n{begin}\n{end}\n"
    if begin in text and end in text:
        text = text[: text.index(begin)] + block + text[text.index(end) + len(end) :]
    else:
        text += "\n" + block + "\n"
    path.write_text(text)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
