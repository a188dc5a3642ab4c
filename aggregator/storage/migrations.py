"""Ordered schema migrations, applied on start inside one write transaction.

Each migration is a function of a connection, numbered; applied versions are
recorded in ``schema_migrations``. Never edit a migration that has shipped: add
the next one. Migration 1 builds the schema from ``schema.metadata`` as it stands
in 0.1.0; the first migration that changes a table must freeze a copy of the
version-1 tables here for migration 1 to use.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, inspect, select

from aggregator.storage import schema

Migration = Callable[[Connection], None]


def _initial_schema(conn: Connection) -> None:
    tables = [table for table in schema.metadata.sorted_tables if table.name != "schema_migrations"]
    schema.metadata.create_all(conn, tables=tables)


MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "initial schema: feeds, stories, story keys, entries, sections", _initial_schema),
]


def pending_migrations(conn: Connection) -> list[tuple[int, str, Migration]]:
    """Return the migrations not yet applied to this database, in order."""
    if not inspect(conn).has_table("schema_migrations"):
        return list(MIGRATIONS)
    applied = set(conn.scalars(select(schema.schema_migrations.c.version)))
    return [migration for migration in MIGRATIONS if migration[0] not in applied]


def apply_migrations(conn: Connection) -> list[int]:
    """Apply pending migrations on ``conn`` (inside the caller's transaction).

    Returns the versions applied.
    """
    if conn.dialect.name == "postgresql":
        # Two processes starting at once must not both migrate.
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(724011)")
    schema.schema_migrations.create(conn, checkfirst=True)
    done = []
    for version, name, migrate in pending_migrations(conn):
        migrate(conn)
        conn.execute(
            schema.schema_migrations.insert().values(
                version=version, name=name, applied_at=datetime.now(UTC)
            )
        )
        done.append(version)
    return done
