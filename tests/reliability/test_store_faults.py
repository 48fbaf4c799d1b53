"""The store goes away under a running daemon: pushes get 503 (never a 2xx for unsaved data) and the daemon
recovers by itself when the store is back. A private PostgreSQL cluster is stopped and started (the machine's
shared server is left alone); a SQLite file is locked by another process."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from proactived.store import incidents as incident_rows
from tests.peers import unavailable
from tests.process import free_port
from tests.running import TOKEN, RunningDaemon, make_config, running_daemon

PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1:] or [""]


def _names(d: RunningDaemon) -> set[str]:
    d.settle()
    with d.rt.store.reading() as conn:
        return {dict(i.labels)["alertname"] for i in incident_rows.list_incidents(conn)}


def _push(d: RunningDaemon, name: str, timeout: float = 40) -> int:
    try:
        return requests.post(
            d.url + "/api/v1/alerts",
            json=[{"labels": {"alertname": name}}],
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=timeout,
        ).status_code
    except requests.RequestException:
        return 0


class PrivatePostgres:
    """initdb + pg_ctl in a temp dir on a random 127.0.0.1 port, run as the ``postgres`` OS user."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="proactived-pg-", dir="/tmp"))
        self.port = free_port()
        self.bin = PG_BIN[0]
        shutil.chown(self.dir, "postgres")
        self._as_postgres(f"{self.bin}/initdb", "-D", str(self.dir / "data"), "-U", "postgres", "-A", "trust",
                          "-E", "UTF8", "--no-instructions")  # fmt: skip
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *cmd: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *cmd], check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        self._as_postgres(f"{self.bin}/pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-w",
                          "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1", "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres(f"{self.bin}/pg_ctl", "-D", str(self.dir / "data"), "-m", mode, "-w", "stop")


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    if not PG_BIN[0] or not Path(PG_BIN[0], "initdb").exists():
        unavailable("no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        unavailable("running as root needs runuser to start PostgreSQL as the postgres user")
    pg = PrivatePostgres()
    pg.start()
    try:
        yield pg
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            pg.stop("immediate")
        shutil.rmtree(pg.dir, ignore_errors=True)


def test_postgres_going_away_gets_503s_and_the_daemon_recovers_without_a_restart(
    tmp_path: Path, postgres: PrivatePostgres
) -> None:
    with running_daemon(make_config(tmp_path, postgres.url)) as d:
        assert _push(d, "Before") == 200
        postgres.stop("fast")
        refused = [_push(d, f"During{n}", timeout=20) for n in range(3)]
        assert refused == [503] * 3
        assert d.get("/readyz").status_code == 503
        assert d.get("/healthz").status_code == 200  # alive: systemd must not restart it for this
        postgres.start()
        deadline = time.monotonic() + 30
        while _push(d, "After") != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert d.get("/readyz").status_code == 200
        assert _names(d) == {"Before", "After"}  # nothing refused was half-saved, nothing acked was lost
        postgres.stop("immediate")  # a crash rather than a clean shutdown: the pool holds dead connections
        assert _push(d, "DuringCrash", timeout=20) == 503
        postgres.start()
        deadline = time.monotonic() + 30
        while _push(d, "AfterCrash") != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _names(d) == {"Before", "After", "AfterCrash"}


def test_a_sqlite_file_locked_by_another_process_gets_a_prompt_503_and_recovers(tmp_path: Path) -> None:
    with running_daemon(make_config(tmp_path)) as d:
        assert _push(d, "Before") == 200
        other = sqlite3.connect(tmp_path / "state" / "proactived.db", isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            started = time.monotonic()
            assert _push(d, "Locked", timeout=60) == 503
            waited = time.monotonic() - started
            assert d.get("/healthz").status_code == 200
        finally:
            other.rollback()
            other.close()
        assert waited < 30, f"a push waited {waited:.0f}s for a locked store"
        assert _push(d, "After") == 200
        assert _names(d) == {"Before", "After"}


def test_a_short_lock_only_delays_a_push_and_the_push_is_saved(tmp_path: Path) -> None:
    with running_daemon(make_config(tmp_path)) as d:
        other = sqlite3.connect(tmp_path / "state" / "proactived.db", isolation_level=None, check_same_thread=False)
        other.execute("BEGIN EXCLUSIVE")
        threading.Timer(1.0, lambda: (other.rollback(), other.close())).start()
        assert _push(d, "Delayed") == 200
        assert _names(d) == {"Delayed"}
