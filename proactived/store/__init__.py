"""State store: SQLite by default, PostgreSQL for production, managed by Alembic migrations."""

from proactived.store.engine import Store

__all__ = ["Store"]
