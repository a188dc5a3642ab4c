"""What differs between the backends in how we write SQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def dialect_insert(conn: Connection, table: Table) -> Any:
    """An INSERT of the connection's dialect, so ON CONFLICT clauses are available."""
    insert_fn = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    return insert_fn(table)
