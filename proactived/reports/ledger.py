"""What was sent: one row per (report, period), claimed with compare-and-swap so no period is mailed twice.

A row moves ``sending`` → ``sent`` or ``failed``. A ``failed`` row may be claimed again (a later retry or
the catch-up after a restart); a ``sending`` row whose sender died is never re-sent automatically — the
mail may have left — and is reported instead. ``report_schedules`` remembers when each report was first
seen and the latest cron run handled, so a restart catches up exactly the run it missed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, Connection, Integer, String, Table, Text, insert, select, update

from proactived.store.schema import UTCDateTime, metadata

report_deliveries = Table(
    "report_deliveries",
    metadata,
    Column("report", String(100), primary_key=True),
    Column("period", String(100), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("claimed_by", String(100), nullable=False),
    Column("claimed_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("attempts", Integer, nullable=False),
    Column("recipients", Integer, nullable=False),
    Column("last_error", Text),
)

report_schedules = Table(
    "report_schedules",
    metadata,
    Column("report", String(100), primary_key=True),
    Column("registered_at", UTCDateTime, nullable=False),
    Column("last_run", UTCDateTime, nullable=False),
)


@dataclass(frozen=True)
class Delivery:
    report: str
    period: str
    state: str
    attempts: int
    sent_at: datetime | None
    last_error: str | None


def claim(conn: Connection, report: str, period: str, owner: str, now: datetime, *, force: bool = False) -> bool:
    """Take the right to send ``report`` for ``period``: True for a new or failed row (or any with ``force``)."""
    row = conn.execute(
        select(report_deliveries.c.state).where(
            report_deliveries.c.report == report, report_deliveries.c.period == period
        )
    ).first()
    if row is None:
        conn.execute(
            insert(report_deliveries).values(
                report=report, period=period, state="sending", claimed_by=owner, claimed_at=now, attempts=0,
                recipients=0,
            )
        )  # fmt: skip
        return True
    allowed = [row.state] if force else ["failed"]
    changed = conn.execute(
        update(report_deliveries)
        .where(
            report_deliveries.c.report == report,
            report_deliveries.c.period == period,
            report_deliveries.c.state.in_(allowed),
        )
        .values(state="sending", claimed_by=owner, claimed_at=now, last_error=None)
    )
    return changed.rowcount == 1


def finish(
    conn: Connection, report: str, period: str, now: datetime, attempts: int, recipients: int, error: str | None
) -> None:
    """Record the outcome of a claimed send."""
    conn.execute(
        update(report_deliveries)
        .where(report_deliveries.c.report == report, report_deliveries.c.period == period)
        .values(
            state="failed" if error else "sent",
            sent_at=None if error else now,
            attempts=report_deliveries.c.attempts + attempts,
            recipients=recipients,
            last_error=error,
        )
    )


def deliveries(conn: Connection, report: str | None = None) -> list[Delivery]:
    query = select(report_deliveries).order_by(report_deliveries.c.claimed_at)
    if report is not None:
        query = query.where(report_deliveries.c.report == report)
    return [Delivery(r.report, r.period, r.state, r.attempts, r.sent_at, r.last_error) for r in conn.execute(query)]


def schedule_marks(conn: Connection, report: str, now: datetime) -> tuple[datetime, datetime]:
    """(registered_at, last_run) of a report, registering it at ``now`` when first seen."""
    row = conn.execute(select(report_schedules).where(report_schedules.c.report == report)).first()
    if row is None:
        conn.execute(insert(report_schedules).values(report=report, registered_at=now, last_run=now))
        return now, now
    return row.registered_at, row.last_run


def mark_run(conn: Connection, report: str, run: datetime) -> None:
    conn.execute(
        update(report_schedules)
        .where(report_schedules.c.report == report, report_schedules.c.last_run < run)
        .values(last_run=run)
    )
