"""Table definitions of the current schema (SQLAlchemy Core), used by queries.

Migrations (migrations.py) create and change the tables; these definitions must
match the result of applying every migration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends.

    SQLite has no time zones: values are stored as naive UTC and come back aware.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use UTC-aware datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class CleanText(TypeDecorator[str]):
    """Text with NUL characters removed: PostgreSQL refuses them in text columns."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        if value is None or "\x00" not in value:
            return value
        return value.replace("\x00", "")


metadata = MetaData()

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("applied_at", UTCDateTime, nullable=False),
)

feeds = Table(
    "feeds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url", CleanText, nullable=False, unique=True),
    Column("config_title", CleanText),
    Column("category", CleanText),  # default section name from the config
    Column("interval_seconds", Integer),
    Column("active", Boolean, nullable=False, default=True),  # listed in the config
    Column("feed_title", CleanText),
    Column("site_url", CleanText),
    Column("subtitle", CleanText),
    Column("etag", CleanText),
    Column("last_modified", CleanText),
    Column("body_hash", String(64)),
    Column("permanent_redirect_url", CleanText),
    Column("last_fetched_at", UTCDateTime),
    Column("last_success_at", UTCDateTime),
    Column("last_status", Integer),
    Column("last_error", CleanText),
    Column("error_count", Integer, nullable=False, default=0),
    Column("gone", Boolean, nullable=False, default=False),
    Column("retry_after_until", UTCDateTime),
    Column("next_check_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    # A poller claims a due feed until lease_until; others skip it meanwhile.
    Column("lease_owner", Text),
    Column("lease_until", UTCDateTime),
)

stories = Table(
    "stories",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    # The first entry that reported the story; it never changes, so neither does
    # where the story sits in the river.
    Column("lead_entry_id", Integer),
    Column("sort_at", UTCDateTime, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),  # last change of any of its entries
    Index("ix_stories_sort", "sort_at", "id"),
)

# The union of a story's entries' sections, so a section page lists stories with
# one index range scan.
story_sections = Table(
    "story_sections",
    metadata,
    Column("story_id", Integer, ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True),
    Column("section", Text, primary_key=True),
    Column("sort_at", UTCDateTime, nullable=False),
    Index("ix_story_sections_section_sort", "section", "sort_at", "story_id"),
)

# A counter per section (and "*" for everything) bumped by every write that
# changes what the section shows: published outputs compare it to decide
# whether their cached rendering is still current without rebuilding it.
section_versions = Table(
    "section_versions",
    metadata,
    Column("section", Text, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
)

story_keys = Table(
    "story_keys",
    metadata,
    Column("key", Text, primary_key=True),
    Column("story_id", Integer, ForeignKey("stories.id", ondelete="CASCADE"), nullable=False),
    Index("ix_story_keys_story", "story_id"),
)

entries = Table(
    "entries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    Column("identity", CleanText, nullable=False),
    Column("story_id", Integer, ForeignKey("stories.id"), nullable=False),
    Column("guid", CleanText),
    Column("link", CleanText),
    Column("canonical_url", CleanText),
    Column("title", CleanText, nullable=False),
    Column("summary_html", CleanText, nullable=False),
    Column("content_html", CleanText, nullable=False),
    Column("summary_text", CleanText, nullable=False),
    Column("author", CleanText),
    Column("published_at", UTCDateTime),
    Column("source_updated_at", UTCDateTime),
    Column("first_seen_at", UTCDateTime, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),
    # Order of the river: the published time, unless it lies in the future.
    Column("sort_at", UTCDateTime, nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("enclosures", JSON, nullable=False),
    UniqueConstraint("feed_id", "identity", name="uq_entries_feed_identity"),
    Index("ix_entries_sort", "sort_at", "id"),
    Index("ix_entries_story", "story_id"),
    Index("ix_entries_canonical_url", "canonical_url"),
)

entry_sections = Table(
    "entry_sections",
    metadata,
    Column(
        "entry_id",
        Integer,
        ForeignKey("entries.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("section", Text, primary_key=True),  # category slug
    # Copied from the entry so a section page is one index range scan.
    Column("sort_at", UTCDateTime, nullable=False),
    Index("ix_entry_sections_section_sort", "section", "sort_at", "entry_id"),
)
