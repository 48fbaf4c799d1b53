"""A daemon that cannot start says why in one log line and exits with a code systemd can act on."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from proactived.store import Store


def run(tmp_path: Path, yaml: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "proactived.yaml"
    config.write_text(f"state_dir: {tmp_path / 'state'}\n{yaml}")
    cmd = [sys.executable, "-m", "proactived", "run", "--config", str(config)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


def test_an_unreachable_store_exits_3_with_the_reason(tmp_path: Path) -> None:
    out = run(tmp_path, "store:\n  url: postgresql+psycopg://proactived:hunter2hunter2@127.0.0.1:1/x\n")
    assert out.returncode == 3
    (line,) = [x for x in out.stderr.splitlines() if "event=store_unreachable" in x]
    assert line.startswith("ts=") and "level=critical" in line and "Connection refused" in line
    assert "hunter2hunter2" not in out.stderr and "Traceback" not in out.stderr


def test_a_taken_http_address_exits_5_naming_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = run(tmp_path, f"server:\n  listen: 127.0.0.1:{port}\n")
    assert out.returncode == 5
    assert f'event=cannot_listen listen=127.0.0.1:{port} error="Address already in use"' in out.stderr


def test_a_store_migrated_by_a_newer_version_exits_3_naming_the_revision_it_does_not_know(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'state' / 'proactived.db'}")
    store.upgrade()
    with store.transaction() as conn:
        conn.exec_driver_sql(
            "UPDATE alembic_version SET version_num = '9999_future' WHERE version_num = '0101_tickets'"
        )
    store.close()
    out = run(tmp_path, "")
    assert out.returncode == 3
    (line,) = [x for x in out.stderr.splitlines() if "event=store_unreachable" in x]
    assert "schema migration failed" in line and "9999_future" in line
    assert "Traceback" not in out.stderr
