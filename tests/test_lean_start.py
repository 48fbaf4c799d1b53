"""What a starting daemon leaves out of its memory: libraries it only needs sometimes load when they are needed.

Each check runs in a fresh interpreter and reads ``sys.modules`` (which modules a process holds is behaviour;
how many MiB they cost is measured by bench/run.py).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from proactived.daemon import M_ARENA_MAX, MALLOC_ARENAS, limit_malloc_arenas

# Alembic (with Mako and Pygments) for pending migrations, requests for sources and desks, Jinja2 for templates,
# the report pipeline for a due report, the rule simulator for `proactived test`.
ONLY_WHEN_NEEDED = (
    "alembic",
    "mako",
    "pygments",
    "requests",
    "pyzabbix",
    "jinja2",
    "proactived.reports.runner",
    "proactived.reports.render",
    "proactived.rules.ruletest",
    "proactived.rules.explain",
)


def loaded_after(code: str) -> list[str]:
    """The modules of ONLY_WHEN_NEEDED (or below them) that a fresh interpreter holds after running ``code``."""
    probe = (
        f"{code}\nimport json, sys\n"
        f"wanted = {ONLY_WHEN_NEEDED!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if any(m == w or m.startswith(w + '.') for w in wanted))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    found: list[str] = json.loads(done.stdout.splitlines()[-1])
    return found


def test_it_imports_the_command_line_and_the_daemon_without_the_occasional_libraries() -> None:
    assert loaded_after("import proactived.cli, proactived.daemon") == []


def test_it_migrates_a_new_store_in_a_child_and_keeps_alembic_out_of_the_daemon(
    store_url: str, tmp_path: Path
) -> None:
    config_path = tmp_path / "proactived.yaml"
    config_path.write_text(f"state_dir: {tmp_path / 'state'}\nstore:\n  url: {store_url}\n")
    code = (
        "from pathlib import Path\n"
        "from proactived.config.load import load_config\n"
        "from proactived.daemon import build_runtime\n"
        f"path = Path({str(config_path)!r})\n"
        "rt = build_runtime(load_config(path), path, migrate_apart=True)\n"
        "assert rt.store.at_heads()\n"
        "rt.store.close()"
    )
    assert loaded_after(code) == []


class FakeLibc:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append((param, value))
        return 1


def test_it_caps_the_malloc_arenas() -> None:
    libc = FakeLibc()
    assert limit_malloc_arenas(libc, environ={})
    assert libc.calls == [(M_ARENA_MAX, MALLOC_ARENAS)]


def test_it_leaves_the_arenas_to_an_operator_who_set_malloc_arena_max() -> None:
    libc = FakeLibc()
    assert not limit_malloc_arenas(libc, environ={"MALLOC_ARENA_MAX": "4"})
    assert libc.calls == []


@pytest.mark.parametrize("libc", [object(), None])
def test_it_does_nothing_where_there_is_no_mallopt(libc: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    if libc is None:
        monkeypatch.setattr("ctypes.CDLL", lambda _name: object())
    assert not limit_malloc_arenas(libc, environ={})
