"""The live maintenance state of a daemon: which windows exist, the mute check, and planned-downtime bookkeeping.

The mute check is called for every alert the correlation stage looks at, so it reads an in-memory snapshot of
the stored windows (refreshed every ``maintenance.check_interval`` and after every local change) plus the
config windows; whether a window is active is decided by its own start and end against ``now``, so a window
ends on time however late the next refresh comes.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection

from proactived.maintenance import events, tables
from proactived.maintenance.windows import Window, config_windows, mute_reason
from proactived.runtime import Runtime


class Maintenance:
    """Owns the snapshot of stored windows for one runtime."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self._stored: tuple[Window, ...] = ()
        self._lock = threading.Lock()

    def windows(self, now: datetime) -> list[Window]:
        """Every window active at ``now`` or still to come: config occurrences first, then stored ones."""
        return [*config_windows(self.rt.config.maintenance.windows, now), *self._stored]

    def mute_reason(self, labels: Mapping[str, str], now: datetime) -> str:
        """``rt.mute_reason``: the covering window's description, or "" (see docs/maintenance.md)."""
        return mute_reason(self.windows(now), labels, now)

    def sync(self, conn: Connection, now: datetime) -> tuple[Window, ...]:
        """Record planned downtime for what is active now and close what ended, in the caller's transaction.

        Returns the stored windows; the caller hands them to ``use`` once the transaction committed.
        """
        stored = tuple(tables.current(conn, now))
        opened, closed = tables.sync_downtime(
            conn, [*config_windows(self.rt.config.maintenance.windows, now), *stored], now
        )
        events.downtime_changed(opened, closed)
        return stored

    def use(self, stored: tuple[Window, ...]) -> None:
        with self._lock:
            self._stored = stored

    def tick(self) -> None:
        now = self.rt.clock.now()
        with self.rt.store.transaction() as conn:
            stored = self.sync(conn, now)
        self.use(stored)

    def create(
        self, matchers: list[str], starts_at: datetime, ends_at: datetime, reason: str, created_by: str, name: str
    ) -> int:
        now = self.rt.clock.now()
        with self.rt.store.transaction() as conn:
            window_id = tables.create(conn, "api", name, matchers, reason, created_by, starts_at, ends_at, now)
            stored = self.sync(conn, now)
        self.use(stored)
        events.window_created(window_id, "api", name, ",".join(matchers), ends_at.isoformat())
        return window_id

    def end(self, window_id: int) -> bool:
        now = self.rt.clock.now()
        with self.rt.store.transaction() as conn:
            ended = tables.end(conn, window_id, now)
            stored = self.sync(conn, now)
        self.use(stored)
        if ended:
            events.window_ended(window_id, early=True)
        return ended
