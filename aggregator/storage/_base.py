"""The Storage core: engine, transactions, migrations and shared settings. Domain
methods live in mixins."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import SQLAlchemyError

from aggregator.errors import StorageError
from aggregator.storage import schema
from aggregator.storage._dialect import dialect_insert
from aggregator.storage._engine import SQLITE_BEGIN, create_db_engine
from aggregator.storage._migrations import apply_migrations


class StorageBase:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> StorageBase:
        """Connect to the database at ``url`` and apply pending migrations.

        Raises StorageError when the database cannot be reached or migrated.
        """
        storage = cls(create_db_engine(url))
        storage.migrate()
        return storage

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> list[int]:
        """Apply pending migrations; return the versions applied."""
        with self.write() as conn:
            return apply_migrations(conn)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on any error."""
        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(**{SQLITE_BEGIN: "IMMEDIATE"})
                with conn.begin():
                    yield conn
        except SQLAlchemyError as e:
            raise StorageError(f"database error: {e}") from e

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (a consistent snapshot on both backends)."""
        try:
            with self.engine.connect() as conn, conn.begin():
                yield conn
        except SQLAlchemyError as e:
            raise StorageError(f"database error: {e}") from e

    def close(self) -> None:
        self.engine.dispose()

    def get_setting(self, name: str) -> str | None:
        """The value stored under ``name`` in the settings, or None."""
        with self.read() as conn:
            value = conn.scalar(
                select(schema.settings.c.value).where(schema.settings.c.name == name)
            )
        return None if value is None else str(value)

    def put_setting(self, name: str, value: str) -> None:
        """Store ``value`` under ``name`` in the settings (replacing what was there)."""
        settings = schema.settings
        with self.write() as conn:
            statement = dialect_insert(conn, settings).values(name=name, value=value)
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["name"], set_={"value": statement.excluded.value}
                )
            )

    def shared_secret(self, name: str) -> str:
        """Return the secret stored under ``name``, generating it on first use.

        Every process on the database gets the same value.
        """
        settings = schema.settings
        with self.write() as conn:
            conn.execute(
                dialect_insert(conn, settings)
                .values(name=name, value=secrets.token_hex(32))
                .on_conflict_do_nothing(index_elements=["name"])
            )
            value = conn.scalar(select(settings.c.value).where(settings.c.name == name))
        assert isinstance(value, str)
        return value
