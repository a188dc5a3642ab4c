"""Ordered schema migrations, applied on start inside one write transaction.

Each migration is a function of a connection, numbered; applied versions are
recorded in ``schema_migrations``. Never edit a migration that has shipped: add
the next one.

``schema.py`` always describes the current schema. Migration 1 creates whatever
of it is missing, so a new database gets the current schema at once; every
later migration must therefore be idempotent (add a column only if missing,
``CREATE ... IF NOT EXISTS``), because on a new database it runs after
migration 1 already created its tables and columns.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy import Connection, Table, inspect, select

from aggregator.storage import schema
from aggregator.storage._listings import index_all_stories

Migration = Callable[[Connection], None]


def _initial_schema(conn: Connection) -> None:
    tables = [table for table in schema.metadata.sorted_tables if table.name != "schema_migrations"]
    schema.metadata.create_all(conn, tables=tables, checkfirst=True)


def add_column_if_missing(conn: Connection, table: Table, column_name: str) -> None:
    """ALTER TABLE ... ADD COLUMN for a column of ``schema.py``, unless it exists."""
    existing = {column["name"] for column in inspect(conn).get_columns(table.name)}
    if column_name in existing:
        return
    column = table.c[column_name]
    column_type = column.type.compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN {column_name} {column_type}")


def _feed_leases(conn: Connection) -> None:
    add_column_if_missing(conn, schema.feeds, "lease_owner")
    add_column_if_missing(conn, schema.feeds, "lease_until")


def _reader_state(conn: Connection) -> None:
    for table in (schema.story_state, schema.story_listings, schema.unread_counts, schema.settings):
        table.create(conn, checkfirst=True)
    for statement in schema.STORY_SEARCH_DDL[conn.dialect.name]:
        conn.exec_driver_sql(statement)
    # Stories stored before this migration get their listings, counters and search
    # documents; on a new or already migrated database this changes nothing.
    index_all_stories(conn)


def _polling_history(conn: Connection) -> None:
    for column in ("publisher_hints", "redirect_target", "redirect_count", "fetch_url"):
        add_column_if_missing(conn, schema.feeds, column)
    add_column_if_missing(conn, schema.entries, "source_tags")
    for index in schema.entries.indexes:
        if index.name == "ix_entries_feed_seen":
            index.create(conn, checkfirst=True)
    for table in (schema.fetch_attempts, schema.pruned_entries):
        table.create(conn, checkfirst=True)


def _story_renderings(conn: Connection) -> None:
    schema.story_renderings.create(conn, checkfirst=True)


def _stories_by_wording(conn: Connection) -> None:
    for column in ("priority", "labels"):
        add_column_if_missing(conn, schema.feeds, column)
    add_column_if_missing(conn, schema.stories, "filing")
    for column in ("story_rule", "story_similarity", "story_matched_entry_id", "story_vector"):
        add_column_if_missing(conn, schema.entries, column)
    schema.related_stories.create(conn, checkfirst=True)
    # Stories stored before get their sections filed again by the rules in force at
    # the next start (Aggregator.sync_feeds notices the filing rules changed).


def _paused_feeds(conn: Connection) -> None:
    existing = {column["name"] for column in inspect(conn).get_columns("feeds")}
    if "paused" not in existing:
        conn.exec_driver_sql("ALTER TABLE feeds ADD COLUMN paused BOOLEAN NOT NULL DEFAULT false")


def _accounts(conn: Connection) -> None:
    for table in (schema.users, schema.app_passwords, schema.api_tokens, schema.login_failures):
        table.create(conn, checkfirst=True)
    # The read state, listings and counters of before accounts become ANONYMOUS's
    # (user_id 0): the state of whoever reads without an account, which the first
    # user created takes over (storage/_users.py).
    for table in (schema.story_state, schema.story_listings, schema.unread_counts):
        _key_by_reader(conn, table)


def _feed_icons(conn: Connection) -> None:
    schema.feed_icons.create(conn, checkfirst=True)


def _key_by_reader(conn: Connection, table: Table) -> None:
    """Rebuild a table keyed by story or scope as the current one, keyed by reader too,
    its rows becoming ANONYMOUS's. Already done (or created so by migration 1): nothing."""
    if "user_id" in {column["name"] for column in inspect(conn).get_columns(table.name)}:
        return
    old = f"{table.name}_before_accounts"
    if conn.dialect.name == "postgresql":
        # The primary key's index name is schema-wide; the new table needs it.
        primary_key = inspect(conn).get_pk_constraint(table.name)["name"]
        conn.exec_driver_sql(f'ALTER TABLE {table.name} DROP CONSTRAINT "{primary_key}"')
    conn.exec_driver_sql(f"ALTER TABLE {table.name} RENAME TO {old}")
    table.create(conn)  # its indexes have new names, so the old ones do not collide
    columns = ", ".join(column.name for column in table.columns if column.name != "user_id")
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} (user_id, {columns}) SELECT 0, {columns} FROM {old}"  # noqa: S608
    )
    conn.exec_driver_sql(f"DROP TABLE {old}")


def _full_text_and_reading_filters(conn: Connection) -> None:
    for column in ("full_text_html", "full_text_status", "full_text_error", "full_text_at"):
        add_column_if_missing(conn, schema.entries, column)
    for table in (schema.entries, schema.story_sections):
        existing = {column["name"] for column in inspect(conn).get_columns(table.name)}
        if "hidden" not in existing:
            conn.exec_driver_sql(
                f"ALTER TABLE {table.name} ADD COLUMN hidden BOOLEAN NOT NULL DEFAULT false"
            )
    # Nothing is hidden until the next start files the stories again by the reading
    # filters in force (they are part of the filing digest).


MIGRATIONS: list[tuple[int, str, Migration]] = [
    (1, "initial schema: feeds, stories, story keys, entries, sections", _initial_schema),
    (2, "feed leases, so two pollers never fetch one feed at once", _feed_leases),
    (3, "reader: read/starred state, listings, unread counters, full-text search", _reader_state),
    (
        4,
        "polling: publisher hints, redirect confirmation, fetch history, retention",
        _polling_history,
    ),
    (5, "merged feeds: stored renderings of each story's entry", _story_renderings),
    (6, "stories by wording: how each report joined, filing reasons, related", _stories_by_wording),
    # 7 was taken by work that did not land; gaps are fine.
    (8, "accounts: users, app passwords, API tokens; read state per reader", _accounts),
    (9, "admin: feeds paused in feeds.yaml are never due", _paused_feeds),
    (10, "reader: each source feed's site icon", _feed_icons),
    (
        11,
        "full text of article pages; reading filters hide entries and section listings",
        _full_text_and_reading_filters,
    ),
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
