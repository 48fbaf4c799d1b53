"""Real Zabbix 6.0 server + frontend API as a pytest test peer.

The session-scoped fixture :func:`zabbix_server` builds a throw-away instance (private
PostgreSQL 15 cluster, ``zabbix_server`` and apache2 + mod_php serving the frontend API),
everything on 127.0.0.1 with free ports, and yields a :class:`ZabbixPeer`. The instance is
stopped and its data directory removed at the end of the session (also when tests fail);
``PROACTIVED_KEEP_PEER_DATA=1`` keeps the directory (logs) for debugging.

Use it from a test module with ``pytest_plugins = ("tests.peers.zabbix",)``.

Packages come from Debian (``bash tests/peers/zabbix_setup.sh --install-only``); this module
never installs anything. When they are missing the tests are skipped, or fail if ``CI`` is set.
Needs root (PostgreSQL runs as ``postgres``, apache binds as root and serves as ``www-data``).

PYTEST_DONT_REWRITE (no asserts here; test modules import it before registering it as a plugin)
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests

from tests.peers import unavailable

__all__ = [
    "HostIds",
    "ZabbixPeer",
    "ZabbixPeerError",
    "free_port",
    "start_zabbix",
    "wait_until",
    "zabbix_server",
]

SETUP_SCRIPT = Path(__file__).with_name("zabbix_setup.sh")
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
ZABBIX_SERVER = Path("/usr/sbin/zabbix_server")
ZABBIX_SENDER = Path("/usr/bin/zabbix_sender")
APACHE = Path("/usr/sbin/apache2")
REQUIRED_PATHS: tuple[Path, ...] = (
    ZABBIX_SERVER,
    ZABBIX_SENDER,
    APACHE,
    PG_BIN / "initdb",
    PG_BIN / "pg_ctl",
    Path("/usr/share/zabbix-server-pgsql/schema.sql.gz"),
    Path("/usr/share/zabbix/api_jsonrpc.php"),
    Path("/usr/lib/apache2/modules/libphp8.2.so"),
    Path("/etc/php/8.2/mods-available/pgsql.ini"),
)
INSTALL_HINT = "run bash tests/peers/zabbix_setup.sh --install-only"
ADMIN_USER = "Admin"
ADMIN_PASSWORD = "zabbix"  # the schema's default for the frontend user "Admin"
HOST_GROUP = "proactived peer hosts"
START_TIMEOUT = 120.0

T = TypeVar("T")


class ZabbixPeerError(RuntimeError):
    """The peer could not be set up, or a JSON-RPC call returned an error."""


@dataclass(frozen=True)
class HostIds:
    """IDs made by :meth:`ZabbixPeer.create_host_with_trapper` (all strings, as Zabbix returns)."""

    groupid: str
    hostid: str
    itemid: str
    triggerid: str


def free_port(low: int = 20000, high: int = 32000) -> int:
    """Return a TCP port in [low, high) that was free on 127.0.0.1 a moment ago.

    The default range lies below Linux's ephemeral range (32768+), so outgoing connections
    don't take it meanwhile, and within zabbix_server's limit for ListenPort (1024-32767).
    """
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(low, high)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        if not _port_open(port):
            return port
    raise ZabbixPeerError(f"no free port in {low}-{high} on 127.0.0.1")


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_until(pred: Callable[[], T | None], what: str, timeout: float = 30.0, interval: float = 0.25) -> T:
    """Poll ``pred`` until it returns something truthy and return that; raise on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = pred()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} unreadable)"


@dataclass
class ZabbixPeer:
    """A running Zabbix 6.0 instance on 127.0.0.1.

    ``api_url`` is the JSON-RPC endpoint; ``base_url`` is what ``pyzabbix.ZabbixAPI`` takes (it
    appends ``/api_jsonrpc.php``). ``user``/``password`` log in to the frontend API as a Super
    admin. ``trapper_port`` is where ``zabbix_sender`` delivers values.
    """

    data_dir: Path
    web_port: int
    trapper_port: int
    pg_port: int
    user: str = ADMIN_USER
    password: str = ADMIN_PASSWORD
    version: str = ""
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict, repr=False)
    _pg_started: bool = field(default=False, repr=False)
    _session_id: str | None = field(default=None, repr=False)
    _http: requests.Session = field(default_factory=requests.Session, repr=False)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)
    _stopped: bool = field(default=False, repr=False)

    @property
    def base_url(self) -> str:
        """Frontend root, e.g. ``http://127.0.0.1:PORT`` (for ``ZabbixAPI(base_url)``)."""
        return f"http://127.0.0.1:{self.web_port}"

    @property
    def api_url(self) -> str:
        """JSON-RPC endpoint ``http://127.0.0.1:PORT/api_jsonrpc.php``."""
        return f"{self.base_url}/api_jsonrpc.php"

    @property
    def server_conf(self) -> Path:
        """The instance's ``zabbix_server.conf`` (needed for ``zabbix_server -R``)."""
        return self.data_dir / "zabbix_server.conf"

    # --- JSON-RPC ---------------------------------------------------------------------------

    def rpc_raw(self, method: str, params: Any, auth: str | None = None) -> dict[str, Any]:
        """Send one JSON-RPC request (``auth`` in the body, as 6.0 wants) and return the reply."""
        body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        body["id"] = next(self._ids)
        if auth is not None:
            body["auth"] = auth
        resp = self._http.post(
            self.api_url,
            json=body,
            headers={"Content-Type": "application/json-rpc"},
            timeout=30,
        )
        resp.raise_for_status()
        reply: dict[str, Any] = resp.json()
        return reply

    def rpc(self, method: str, params: Any, auth: str | None = None) -> Any:
        """Call ``method`` and return ``result``; raise :class:`ZabbixPeerError` on an error."""
        reply = self.rpc_raw(method, params, auth)
        if "error" in reply:
            raise ZabbixPeerError(f"{method}: {reply['error']}")
        return reply["result"]

    def admin_call(self, method: str, params: Any) -> Any:
        """Call ``method`` with the fixture's own Admin session (logged in on first use)."""
        if self._session_id is None:
            self._session_id = str(self.rpc("user.login", {"username": self.user, "password": self.password}))
        return self.rpc(method, params, auth=self._session_id)

    # --- helpers for tests ------------------------------------------------------------------

    def create_api_token(self, name: str | None = None) -> str:
        """Create an API token for Admin (token.create + token.generate) and return it.

        Use it like a session id: body ``auth`` (6.0), or ``ZabbixAPI.login(api_token=...)``.
        """
        token_name = name or f"proactived-test-{time.time_ns()}"
        tokenid = self.admin_call("token.create", {"name": token_name, "userid": "1"})["tokenids"][0]
        return str(self.admin_call("token.generate", [tokenid])[0]["token"])

    def _group_id(self, name: str) -> str:
        found = self.admin_call("hostgroup.get", {"filter": {"name": [name]}})
        if found:
            return str(found[0]["groupid"])
        return str(self.admin_call("hostgroup.create", {"name": name})["groupids"][0])

    def create_host_with_trapper(
        self,
        host: str,
        item_key: str = "proactived.value",
        trigger_expr: str | None = None,
        priority: int = 4,
        tags: Sequence[tuple[str, str]] | dict[str, str] = (),
        *,
        host_tags: Sequence[tuple[str, str]] | dict[str, str] = (),
        trigger_name: str | None = None,
        value_type: int = 3,
        manual_close: bool = False,
        group: str = HOST_GROUP,
    ) -> HostIds:
        """Create a host with a trapper item (type 2) and one trigger on it.

        ``trigger_expr`` defaults to ``last(/HOST/KEY)>90``; it may use ``{host}`` and ``{key}``
        placeholders, e.g. ``"last(/{host}/{key})>=1"``. ``priority`` is the trigger severity
        (0 not classified … 5 disaster). ``tags`` go on the trigger, ``host_tags`` on the host
        (problems carry both). ``value_type`` 3 = unsigned int, 0 = float, 4 = text.
        The server learns about the new item within about a second; :meth:`send_value` retries
        until it does.
        """
        expr = (trigger_expr or "last(/{host}/{key})>90").format(host=host, key=item_key)
        groupid = self._group_id(group)
        hostid = str(
            self.admin_call(
                "host.create",
                {
                    "host": host,
                    "name": host,
                    "groups": [{"groupid": groupid}],
                    "tags": _tags(host_tags),
                },
            )["hostids"][0]
        )
        itemid = str(
            self.admin_call(
                "item.create",
                {
                    "hostid": hostid,
                    "name": f"{item_key} (trapper)",
                    "key_": item_key,
                    "type": 2,
                    "value_type": value_type,
                },
            )["itemids"][0]
        )
        triggerid = str(
            self.admin_call(
                "trigger.create",
                {
                    "description": trigger_name or f"{item_key} is bad on {{HOST.NAME}}",
                    "expression": expr,
                    "priority": priority,
                    "manual_close": int(manual_close),
                    "tags": _tags(tags),
                },
            )["triggerids"][0]
        )
        return HostIds(groupid=groupid, hostid=hostid, itemid=itemid, triggerid=triggerid)

    def config_cache_reload(self) -> str:
        """Ask the server to reload its configuration cache now; return its answer."""
        proc = subprocess.run(
            [str(ZABBIX_SERVER), "-c", str(self.server_conf), "-R", "config_cache_reload"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        return (proc.stdout + proc.stderr).strip()

    def send_value(self, host: str, key: str, value: object, timeout: float = 30.0) -> None:
        """Deliver one value with ``zabbix_sender`` to the trapper port.

        A just-created item is unknown to the server until its next configuration sync; the server
        then answers "processed: 0; failed: 1". This retries (forcing ``config_cache_reload``)
        until the value is processed, or raises :class:`ZabbixPeerError` after ``timeout``.
        A failed value is not stored, so retrying never duplicates it.
        """
        cmd = [
            str(ZABBIX_SENDER),
            "-z",
            "127.0.0.1",
            "-p",
            str(self.trapper_port),
            "-s",
            host,
            "-k",
            key,
            "-o",
            str(value),
        ]
        deadline = time.monotonic() + timeout
        while True:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
            out = (proc.stdout + proc.stderr).strip()
            if "processed: 1;" in out:
                return
            if time.monotonic() > deadline:
                raise ZabbixPeerError(f"zabbix_sender {host} {key}={value!r} not accepted: {out}")
            self.config_cache_reload()
            time.sleep(0.3)

    def create_maintenance(
        self,
        hostids: Sequence[str],
        duration: int = 3600,
        *,
        name: str | None = None,
        collect_data: bool = True,
    ) -> str:
        """Create a one-time maintenance for ``hostids`` from one minute ago for ``duration`` s.

        Returns the maintenanceid. The server's timer applies maintenances only at the start of
        each minute, so hosts enter maintenance up to ~60 s later: see
        :meth:`wait_in_maintenance`. Problems raised then carry ``suppressed: "1"``.
        """
        now = int(time.time())
        start = now - 60
        result = self.admin_call(
            "maintenance.create",
            {
                "name": name or f"proactived maintenance {time.time_ns()}",
                "active_since": start,
                "active_till": now + duration,
                "maintenance_type": 0 if collect_data else 1,
                "hosts": [{"hostid": h} for h in hostids],
                "timeperiods": [{"timeperiod_type": 0, "start_date": start, "period": duration + 60}],
            },
        )
        return str(result["maintenanceids"][0])

    def wait_in_maintenance(self, hostids: Sequence[str], timeout: float = 75.0) -> float:
        """Wait until every host shows ``maintenance_status`` 1; return the seconds waited."""
        t0 = time.monotonic()

        def in_maintenance() -> bool:
            hosts = self.admin_call("host.get", {"hostids": list(hostids), "output": ["hostid", "maintenance_status"]})
            return len(hosts) == len(hostids) and all(h["maintenance_status"] == "1" for h in hosts)

        wait_until(in_maintenance, "hosts in maintenance", timeout=timeout, interval=1.0)
        return time.monotonic() - t0

    # --- life cycle -------------------------------------------------------------------------

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = (self.data_dir / "logs" / f"{name}.out").open("ab")
        try:
            # own session: a Ctrl-C to pytest's process group does not hit the servers
            self._procs[name] = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            log.close()

    def _pg_ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(self.data_dir / "pgdata"), *args],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )

    def _diagnostics(self) -> str:
        logs = self.data_dir / "logs"
        return "\n".join(
            f"--- {p}:\n{_tail(p)}"
            for p in (
                logs / "zabbix" / "zabbix_server.log",
                logs / "zabbix_server.out",
                logs / "apache_error.log",
                logs / "apache2.out",
                logs / "pg" / "postgres.log",
            )
            if p.exists()
        )

    def start(self) -> None:
        """Start PostgreSQL, zabbix_server and apache2; wait until the API and trapper work."""
        pg = self._pg_ctl("-l", str(self.data_dir / "logs" / "pg" / "postgres.log"), "-w", "-t", "60", "start")
        if pg.returncode != 0:
            raise ZabbixPeerError(f"pg_ctl start failed: {pg.stdout}{pg.stderr}")
        self._pg_started = True
        # -f: foreground, so the PID is ours; it drops root for user zabbix
        self._spawn("zabbix_server", [str(ZABBIX_SERVER), "-f", "-c", str(self.server_conf)])
        # the apache parent stays root (binds), children run as www-data
        self._spawn("apache2", [str(APACHE), "-f", str(self.data_dir / "httpd.conf"), "-DFOREGROUND"])

        def up() -> bool:
            for name, proc in self._procs.items():
                if proc.poll() is not None:
                    raise ZabbixPeerError(f"{name} exited with {proc.returncode}")
            if not _port_open(self.trapper_port):
                return False
            try:
                reply = self.rpc_raw("apiinfo.version", [])
            except (requests.RequestException, ValueError):
                return False
            if "result" not in reply:
                raise ZabbixPeerError(f"API answers with an error: {reply}")
            self.version = str(reply["result"])
            return True

        wait_until(up, "Zabbix API and trapper port", timeout=START_TIMEOUT, interval=0.1)
        # The trapper port opens before the initial configuration sync ends; until then values are
        # rejected and a runtime config_cache_reload is refused with this message.
        wait_until(
            lambda: "initial configuration cache sync" not in self.config_cache_reload(),
            "initial configuration cache sync",
            timeout=START_TIMEOUT,
            interval=0.1,
        )

    def stop(self) -> None:
        """Stop apache2, zabbix_server and PostgreSQL (by PID / pg_ctl). Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        with contextlib.suppress(Exception):
            if self._session_id is not None:
                self.rpc("user.logout", [], auth=self._session_id)
        self._http.close()
        for _name, proc in reversed(list(self._procs.items())):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    # children of a killed parent are in its session: end that session only
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=10)
        if self._pg_started and (self.data_dir / "pgdata" / "postmaster.pid").exists():
            res = self._pg_ctl("-m", "fast", "-w", "-t", "60", "stop")
            if res.returncode != 0:
                self._pg_ctl("-m", "immediate", "-w", "stop")
        self._pg_started = False
        if os.environ.get("PROACTIVED_KEEP_PEER_DATA") != "1":
            shutil.rmtree(self.data_dir, ignore_errors=True)


def _tags(tags: Sequence[tuple[str, str]] | dict[str, str]) -> list[dict[str, str]]:
    pairs = tags.items() if isinstance(tags, dict) else tags
    return [{"tag": k, "value": v} for k, v in pairs]


def _missing_reason() -> str | None:
    missing = [str(p) for p in REQUIRED_PATHS if not p.exists()]
    if missing:
        return f"zabbix not installed: {INSTALL_HINT} (missing: {', '.join(missing)})"
    if os.geteuid() != 0:
        return "zabbix peer needs root (runuser postgres; apache binds as root)"
    return None


def start_zabbix() -> ZabbixPeer:
    """Build and start a fresh instance; the caller must call ``stop()``."""
    data_dir = Path(tempfile.mkdtemp(prefix="proactived-zabbix-"))
    data_dir.chmod(0o755)  # postgres, zabbix and www-data must traverse it
    ports = set[int]()
    while len(ports) < 3:
        ports.add(free_port())
    web_port, trapper_port, pg_port = sorted(ports)
    peer = ZabbixPeer(data_dir=data_dir, web_port=web_port, trapper_port=trapper_port, pg_port=pg_port)
    try:
        setup = subprocess.run(
            ["bash", str(SETUP_SCRIPT), str(data_dir), str(web_port), str(trapper_port), str(pg_port)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if setup.returncode != 0:
            raise ZabbixPeerError(f"zabbix_setup.sh failed ({setup.returncode}):\n{setup.stdout}\n{setup.stderr}")
        try:
            peer.start()
        except (ZabbixPeerError, TimeoutError) as exc:
            raise ZabbixPeerError(f"{exc}\n{peer._diagnostics()}") from exc
    except BaseException:
        peer.stop()
        raise
    return peer


@pytest.fixture(scope="session")
def zabbix_server() -> Iterator[ZabbixPeer]:
    """A running Zabbix 6.0 peer for the whole session (stopped at the end, also on failure)."""
    reason = _missing_reason()
    if reason is not None:
        unavailable(reason)
    peer = start_zabbix()
    atexit.register(peer.stop)  # in case the session is torn down abnormally
    try:
        yield peer
    finally:
        peer.stop()
        atexit.unregister(peer.stop)
