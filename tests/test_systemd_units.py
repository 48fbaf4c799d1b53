"""The shipped systemd units pass ``systemd-analyze verify`` without a warning and stay well hardened."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).parent.parent / "systemd"
INSTALLED = "/opt/proactived/bin/proactived"
ANALYZE = shutil.which("systemd-analyze")

pytestmark = pytest.mark.skipif(
    ANALYZE is None and not os.environ.get("CI"), reason="systemd-analyze not found: apt-get install systemd"
)


def staged(tmp_path: Path, instance: str = "last-month") -> Path:
    """The units with ExecStart pointing at this checkout's command (verify insists the binary exists)."""
    here = Path(sys.executable).with_name("proactived")
    for unit in UNITS.glob("proactived*"):
        name = unit.name.replace("@.", f"@{instance}.")
        (tmp_path / name).write_text(unit.read_text().replace(INSTALLED, str(here)))
    return tmp_path


def analyze(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run([ANALYZE, *args], cwd=folder, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    "unit", ["proactived.service", "proactived-report@last-month.service", "proactived-report@last-month.timer"]
)
def test_systemd_analyze_verify_accepts_the_unit_without_warnings(tmp_path: Path, unit: str) -> None:
    out = analyze(staged(tmp_path), "verify", unit)
    assert out.returncode == 0 and out.stderr == "", out.stderr


def test_the_daemon_unit_is_a_notify_service_with_a_watchdog_and_reload_by_sighup() -> None:
    text = (UNITS / "proactived.service").read_text()
    for line in ("Type=notify", "WatchdogSec=30s", "ExecReload=/bin/kill -HUP $MAINPID", "Restart=on-failure"):
        assert f"\n{line}\n" in text


def test_the_daemon_unit_exposure_level_stays_ok(tmp_path: Path) -> None:
    out = analyze(staged(tmp_path), "security", "--offline=true", "--no-pager", "proactived.service")
    level = re.search(r"Overall exposure level for proactived.service: ([0-9.]+)", out.stdout)
    assert level is not None, out.stdout + out.stderr
    assert float(level.group(1)) <= 2.0, out.stdout
