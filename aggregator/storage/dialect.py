"""What differs between the backends in how we write SQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, Integer, Table, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def dialect_insert(conn: Connection, table: Table) -> Any:
    """An INSERT of the connection's dialect, so ON CONFLICT clauses are available."""
    insert_fn = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    return insert_fn(table)


def ids_in(conn: Connection, column: ColumnElement[int], ids: Sequence[int]) -> ColumnElement[bool]:
    """``column IN ids``. On PostgreSQL as ``column = ANY(array)``, one parameter: with
    a thousand ids, rendering and parsing a parameter each cost more than the query."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(Integer)))
    return column.in_(ids)


def in_ids_param(dialect: str, column: ColumnElement[int], name: str) -> ColumnElement[bool]:
    """``column IN :name`` for a statement built once and run with a list of ids as
    parameter ``name`` (on PostgreSQL ``column = ANY(:name)``, see ids_in)."""
    if dialect == "postgresql":
        return column == any_(bindparam(name, type_=ARRAY(Integer)))
    return column.in_(bindparam(name, expanding=True))
