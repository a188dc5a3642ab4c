"""Engine creation: SQLite (default) and PostgreSQL behind one SQLAlchemy URL."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from aggregator.errors import StorageError

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Execution option naming how a SQLite transaction begins. Writers use IMMEDIATE:
# a DEFERRED transaction that reads then writes can fail with "database is locked"
# when another writer got there first (the lock upgrade cannot wait).
SQLITE_BEGIN = "sqlite_begin"


def _normalise_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        # psycopg 3 is the driver we ship with; SQLAlchemy's default is psycopg2.
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def create_db_engine(url: str) -> Engine:
    """Return an Engine for a SQLAlchemy URL, with our SQLite settings applied.

    Raises StorageError for an unusable URL.
    """
    try:
        parsed = make_url(_normalise_url(url))
    except Exception as e:  # SQLAlchemy raises ArgumentError and plain ValueErrors here
        raise StorageError(f"invalid database URL {url!r}: {e}") from e
    if parsed.get_backend_name() == "sqlite":
        return _create_sqlite_engine(parsed.render_as_string(hide_password=False))
    try:
        return create_engine(parsed, pool_pre_ping=True, pool_size=20, max_overflow=10)
    except Exception as e:  # missing driver (ModuleNotFoundError) or bad options
        raise StorageError(f"cannot use database {parsed.get_backend_name()!r}: {e}") from e


def _create_sqlite_engine(url: str) -> Engine:
    # A pool: opening a connection and running its PRAGMAs costs about 0.5 ms,
    # more than a typical query. Pooled connections move between threads (never
    # two at once), hence check_same_thread=False.
    engine = create_engine(
        url,
        pool_size=8,
        max_overflow=32,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Let us issue BEGIN ourselves (pysqlite's implicit BEGIN is DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get(SQLITE_BEGIN, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine
