"""What differs between the backends in how we write SQL."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Integer, Table, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert


def dialect_insert(conn: Connection, table: Table) -> Any:
    """An INSERT of the connection's dialect, so ON CONFLICT clauses are available."""
    insert_fn = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    return insert_fn(table)


def in_ids(
    dialect: str,
    column: ColumnElement[int],
    ids: Sequence[int] | None = None,
    *,
    name: str | None = None,
) -> ColumnElement[bool]:
    """``column IN ids``; without ``ids``, ``column IN :name`` for a statement built once
    and run with the list of ids as parameter ``name``.

    On PostgreSQL ``column = ANY(array)``, one parameter: with hundreds of ids,
    rendering and parsing a parameter each cost more than the query itself.
    """
    value = None if ids is None else list(ids)
    if dialect == "postgresql":
        return column == any_(bindparam(name, value, type_=ARRAY(Integer)))
    return column.in_(bindparam(name, value, expanding=True))


# Values per IN (...) list or multi-row VALUES: well under SQLite's bound-parameter
# limit, and few enough that PostgreSQL plans each statement quickly.
IN_CHUNK = 500
_Item = TypeVar("_Item")


def chunked(items: Sequence[_Item], size: int = IN_CHUNK) -> Iterator[Sequence[_Item]]:
    """The items in consecutive slices of at most ``size``: the one way we split long
    id lists and row lists across statements."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
