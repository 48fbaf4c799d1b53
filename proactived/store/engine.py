"""The Store: one SQLAlchemy engine, serialised write transactions, migrations, commit notifications."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from proactived.errors import StoreError

MIGRATIONS = Path(__file__).parent / "migrations"
# The revisions Alembic records in a fully migrated store (a test keeps them equal; "core" is left out because
# the other branches depend on it). Comparing them with the stored ones spares loading Alembic (≈8 MiB of
# memory) when nothing is pending.
HEADS = frozenset(
    {"0002_intake", "0007_reports", "0010_status_indexes", "0100_maintenance", "0101_tickets", "rules_0001"}
)
VERSION_TABLE = "alembic_version"
# How long a write waits for the database lock (SQLite busy timeout) and for this process's other writers.
# Bounded so that a store held by someone else turns into a prompt 503 instead of a request queued for minutes.
LOCK_WAIT_SECONDS = 5
QUEUED_WORK = "proactived.queued_work"  # set in Connection.info by a transaction that added outbox rows


class Store:
    """Owns the database connection pool and the single write path into it."""

    def __init__(self, url: str, *, sqlite_synchronous: str = "FULL") -> None:
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if self.dialect == "sqlite":
            _prepare_sqlite_file(parsed.database)
            kwargs = {"connect_args": {"check_same_thread": False, "timeout": LOCK_WAIT_SECONDS}}
        self.engine: Engine = create_engine(url, **kwargs)
        if self.dialect == "sqlite":
            _sqlite_pragmas(self.engine, sqlite_synchronous)
        self._write_lock = threading.RLock()
        self._listeners: list[Callable[[], None]] = []

    def on_commit(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each committed transaction that queued outbox work (wakes outbox workers).

        Only those: waking the workers after every commit made each idle worker's empty claim wake all the
        others, a loop that kept an idle daemon busy and took the CPU from ingest.
        """
        self._listeners.append(listener)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction; everything inside commits together or not at all.

        Writes are serialised within the process (SQLite allows one writer; on PostgreSQL it keeps
        one process's batches in order). Database failures surface as StoreError.
        """
        queued = False
        if not self._write_lock.acquire(timeout=LOCK_WAIT_SECONDS):
            raise StoreError(f"store write failed: other writes have held the store for over {LOCK_WAIT_SECONDS}s")
        try:
            with self.engine.begin() as conn:
                conn.info.pop(QUEUED_WORK, None)
                yield conn
                queued = bool(conn.info.pop(QUEUED_WORK, False))
        except DBAPIError as exc:
            raise StoreError(f"store write failed: {type(exc.orig).__name__}: {exc.orig}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"store write failed: {exc}") from exc
        finally:
            self._write_lock.release()
        if queued:
            for listener in self._listeners:
                listener()

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only connection (no write lock)."""
        try:
            with self.engine.connect() as conn:
                yield conn
        except DBAPIError as exc:
            raise StoreError(f"store read failed: {type(exc.orig).__name__}: {exc.orig}") from exc
        except SQLAlchemyError as exc:  # e.g. no pooled connection free in time: as for writes, a StoreError
            raise StoreError(f"store read failed: {exc}") from exc

    def at_heads(self) -> bool:
        """True when no migration is pending (read from the version table, without loading Alembic)."""
        with self.engine.connect() as conn:
            return stored_revisions(conn) == HEADS

    def upgrade(self) -> None:
        """Apply every pending migration (all branches); Alembic is loaded only when some are pending."""
        with self._write_lock, self.engine.begin() as conn:
            if stored_revisions(conn) == HEADS:
                return
            from alembic import command
            from alembic.config import Config as AlembicConfig

            cfg = AlembicConfig()
            cfg.set_main_option("script_location", str(MIGRATIONS))
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except SQLAlchemyError:
            return False

    def close(self) -> None:
        self.engine.dispose()


def stored_revisions(conn: Connection) -> frozenset[str]:
    """The revisions recorded in the store's version table (none for a store never migrated)."""
    if not inspect(conn).has_table(VERSION_TABLE):
        return frozenset()
    return frozenset(row[0] for row in conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}"))


def _prepare_sqlite_file(database: str | None) -> None:
    """Create the state directory (private to the daemon's user) before SQLite opens the file."""
    if not database or database == ":memory:":
        return
    folder = Path(database).resolve().parent
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
    if not Path(database).exists():
        fd = os.open(database, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)


def _sqlite_pragmas(engine: Engine, synchronous: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute(f"PRAGMA busy_timeout={LOCK_WAIT_SECONDS * 1000}")
        cursor.close()


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT many rows (all with the keys of the first) in the caller's transaction.

    On SQLite the statement goes to the driver directly, each value converted once by its column's own bind
    processor (JSON, UTC timestamps), so the result is what SQLAlchemy would store, without its per-row
    statement machinery. Elsewhere it is a plain SQLAlchemy insert.
    """
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(table.insert(), list(rows))
        return
    names = list(rows[0])
    columns = [table.c[name] for name in names]
    processors = [column.type.bind_processor(conn.dialect) for column in columns]
    quote = conn.dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c.name) for c in columns)}) "
        f"VALUES ({', '.join('?' * len(columns))})"
    )
    params = [
        tuple(
            value if proc is None else proc(value)
            for proc, value in zip(processors, (row[name] for name in names), strict=True)
        )
        for row in rows
    ]
    conn.exec_driver_sql(sql, params)
