"""The state dir's filesystem fills up (a small tmpfs made by the test): pushes get 503, never a 2xx for
unsaved data nor a 500; nothing acknowledged is lost or corrupted; the daemon recovers when space returns."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from proactived.store import incidents as incident_rows
from tests.peers import unavailable
from tests.running import make_config, running_daemon


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "fs"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", str(mount)],
                          capture_output=True, text=True)  # fmt: skip
    if done.returncode != 0:
        unavailable(f"cannot mount a small tmpfs here (needs root or CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(path: Path) -> None:
    """Take every free block (the store's own writes may already have taken the last ones)."""
    try:
        f = path.open("wb", buffering=0)  # unbuffered: nothing left over for close() to fail writing
    except OSError:
        return  # not even room for the file: already full
    with f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            os.fsync(f.fileno())


def test_a_full_disk_gets_503s_and_the_daemon_recovers_when_space_returns(small_fs: Path) -> None:
    config = make_config(small_fs, state_dir=str(small_fs / "state"))
    acked: list[str] = []
    with running_daemon(config) as d:

        def push(name: str) -> int:
            body = [{"labels": {"alertname": name, "host": f"h{i}"}, "annotations": {"description": "x" * 2000}}
                    for i in range(20)]  # fmt: skip
            status = d.post("/api/v1/alerts", body).status_code
            if status == 200:
                acked.append(name)
            return status

        assert push("Before") == 200
        _fill(small_fs / "filler")
        answers = [push(f"Full{n}") for n in range(30)]
        assert 503 in answers and set(answers) <= {200, 503}, answers  # a write that still fitted is a 200
        assert all(a == 503 for a in answers[answers.index(503) :][-5:])  # once full, it stays refused
        (small_fs / "filler").unlink()
        assert push("After") == 200
        with d.rt.store.reading() as conn:
            stored = {i.name for i in incident_rows.list_incidents(conn)}
    assert set(acked) <= stored and "After" in stored  # every acknowledged push is there
    check = sqlite3.connect(small_fs / "state" / "proactived.db")
    try:
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        check.close()
