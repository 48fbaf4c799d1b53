"""Schema migrations: the cheap at-heads check agrees with Alembic, and Alembic loads only when work is pending."""

from __future__ import annotations

import subprocess
import sys

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect

from proactived.store import Store
from proactived.store.engine import HEADS, MIGRATIONS, stored_revisions


def alembic_upgrade(conn: Connection, target: str) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, target)


def test_it_names_as_heads_what_alembic_records_after_migrating_an_empty_store(store_url: str) -> None:
    store = Store(store_url)
    try:
        with store.engine.begin() as conn:
            assert stored_revisions(conn) == frozenset()
            alembic_upgrade(conn, "heads")
        with store.engine.connect() as conn:
            assert stored_revisions(conn) == HEADS
    finally:
        store.close()
    # A branch that others depend on is not recorded once they are; every recorded head is a script head.
    assert set(ScriptDirectory(str(MIGRATIONS)).get_heads()) >= HEADS


def test_it_completes_a_store_that_an_older_version_left_partly_migrated(store_url: str) -> None:
    store = Store(store_url)
    try:
        with store.engine.begin() as conn:
            alembic_upgrade(conn, "core@head")
        with store.engine.connect() as conn:
            assert stored_revisions(conn) == {"0001_core"}
            assert not inspect(conn).has_table("problems")
        store.upgrade()
        with store.engine.connect() as conn:
            assert stored_revisions(conn) == HEADS
            assert inspect(conn).has_table("problems")
    finally:
        store.close()


def test_it_does_not_load_alembic_to_open_a_store_already_at_its_heads(store_url: str) -> None:
    store = Store(store_url)
    store.upgrade()
    store.close()
    check = (
        "import sys\nfrom proactived.store import Store\n"
        f"store = Store({store_url!r})\nstore.upgrade()\nstore.close()\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] in ('alembic', 'mako')))"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
