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
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.sql.expression import false
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
    # What the publisher last said about polling (ttl, skipHours, ...), reused on 304s.
    Column("publisher_hints", JSON),
    # A permanent redirect is followed (fetch_url) only once seen 3 times in a row.
    Column("redirect_target", Text),
    Column("redirect_count", Integer),
    Column("fetch_url", Text),
    # From the config: which report leads a story (highest first) and how far the
    # feed's labels count when its stories are filed (trust, ignore_tags, ...).
    Column("priority", Integer),
    Column("labels", Text),
    # paused: true in feeds.yaml: listed and shown, never due.
    Column("paused", Boolean, nullable=False, default=False, server_default=false()),
)

stories = Table(
    "stories",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    # The report shown and republished: the highest feed priority, then the earliest.
    Column("lead_entry_id", Integer),
    # Where the story sits in the river: its first report's time; it never changes.
    Column("sort_at", UTCDateTime, nullable=False),
    Column("changed_at", UTCDateTime, nullable=False),  # last change of any of its entries
    # Why it is filed where it is: the evidence of its reports (process.Reason as JSON).
    Column("filing", JSON),
    Index("ix_stories_sort", "sort_at", "id"),
)

# Stories alike but not the same event (the same people, places or topic, similar
# below the merge threshold), computed when a story changes: "related reading".
related_stories = Table(
    "related_stories",
    metadata,
    Column("story_id", Integer, ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True),
    Column("related_id", Integer, ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True),
    Column("similarity", Float, nullable=False),
    Index("ix_related_stories_related", "related_id"),
)

# The sections a story is filed in (from all its reports' evidence), so a section page
# lists stories with one index range scan.
story_sections = Table(
    "story_sections",
    metadata,
    Column("story_id", Integer, ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True),
    Column("section", Text, primary_key=True),
    Column("sort_at", UTCDateTime, nullable=False),
    # Hidden from this section's reader list by the section's reading filter; the
    # published outputs list it all the same.
    Column("hidden", Boolean, nullable=False, default=False, server_default=false()),
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
    # How often a feed publishes (entries first seen per day) and retention.
    Index("ix_entries_feed_seen", "feed_id", "first_seen_at"),
    # Every tag the item carried, so a category change can re-categorize it.
    Column("source_tags", JSON),
    # How it joined its story: "first" (it started it), "same-url", "same-text",
    # "similar" (with the similarity and the report it matched) or "split" (an admin
    # took it out of a story; it is never merged back).
    Column("story_rule", String(16)),
    Column("story_similarity", Float),
    Column("story_matched_entry_id", Integer),
    # Its vector as story matching computed it (terms and weights, opaque here), so
    # a new process loads its index without analysing every recent text again.
    Column("story_vector", LargeBinary),
    # The article page's main text, fetched for full_text feeds or on demand
    # (sanitized HTML), and how the last try went: "ok" or "failed" (with the error);
    # NULL: never tried.
    Column("full_text_html", CleanText),
    Column("full_text_status", String(16)),
    Column("full_text_error", CleanText),
    Column("full_text_at", UTCDateTime),
    # Hidden from the reader by its feed's reading filter (include/exclude), decided
    # when its story is filed.
    Column("hidden", Boolean, nullable=False, default=False, server_default=false()),
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
    Column("section", Text, primary_key=True),  # section slug: its story's sections
    # Copied from the entry so a section page is one index range scan.
    Column("sort_at", UTCDateTime, nullable=False),
    Index("ix_entry_sections_section_sort", "section", "sort_at", "entry_id"),
)

# --- the web reader ------------------------------------------------------------------

# Read and starred state per reader and story: the reader shows a story once, so it is
# read once. A reader is a user (users.id) or ANONYMOUS (0): whoever reads without an
# account — everyone, before the first user exists; the first user takes that state
# over (see storage/_users.py). No row means unread and not starred, so new stories are
# unread without a write. user_id has no foreign key (ANONYMOUS has no users row);
# removing a user deletes their rows explicitly.
story_state = Table(
    "story_state",
    metadata,
    Column("story_id", Integer, ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, primary_key=True),
    Column("read_at", UTCDateTime),
    Column("starred_at", UTCDateTime),
)

# Every list of the reader as rows, for every reader: a story appears under scope
# "all", "section:<slug>" for each of its sections, "feed:<id>" for each feed that
# reported it and "starred" while that reader starred it, with its river position and
# that reader's unread flag copied in. Any page, with or without the unread-only
# filter, is then one range scan of one index. Maintained by storage/_listings.py in
# the transaction that changes the story or the state.
story_listings = Table(
    "story_listings",
    metadata,
    Column("story_id", Integer, ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", Integer, primary_key=True),
    Column("scope", Text, primary_key=True),
    Column("sort_at", UTCDateTime, nullable=False),
    Column("unread", Boolean, nullable=False),
    Index("ix_story_listings_user_scope_sort", "user_id", "scope", "sort_at", "story_id"),
    Index(
        "ix_story_listings_user_scope_unread_sort",
        "user_id",
        "scope",
        "unread",
        "sort_at",
        "story_id",
    ),
)

# Unread stories per reader and scope, kept equal to the unread rows of story_listings
# by applying a delta for every row a statement changed: the sidebar reads a few
# hundred small rows instead of counting a hundred thousand stories on every page.
unread_counts = Table(
    "unread_counts",
    metadata,
    Column("user_id", Integer, primary_key=True),
    Column("scope", Text, primary_key=True),
    Column("unread", Integer, nullable=False),
)

# Values generated once and shared by every process on the database (the session
# signing key, so CSRF tokens survive restarts and work behind several workers).
settings = Table(
    "settings",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

# Full-text search: one document per story (rowid/story_id = the story's id; title = its
# lead's title; body = the text of all its reports). Each backend has its own kind of
# table, so it is not in `metadata` (create_all would make a plain table of it);
# migration 3 runs these statements, all idempotent.
STORY_SEARCH_DDL = {
    "sqlite": [
        "CREATE VIRTUAL TABLE IF NOT EXISTS story_search USING fts5("
        "title, body, tokenize = 'porter unicode61 remove_diacritics 2')",
    ],
    "postgresql": [
        "CREATE TABLE IF NOT EXISTS story_search ("
        " story_id integer PRIMARY KEY REFERENCES stories(id) ON DELETE CASCADE,"
        " title text NOT NULL,"
        " body text NOT NULL,"
        " document tsvector GENERATED ALWAYS AS ("
        "  setweight(to_tsvector('english', title), 'A')"
        "  || setweight(to_tsvector('english', body), 'B')) STORED)",
        "CREATE INDEX IF NOT EXISTS ix_story_search_document ON story_search USING gin (document)",
    ],
}

# --- polling history and retention ---------------------------------------------------

# The last attempts per feed (older ones are deleted as new ones arrive), for the
# feeds page: when, outcome, HTTP status, how long, how many bytes, what changed.
fetch_attempts = Table(
    "fetch_attempts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    Column("attempted_at", UTCDateTime, nullable=False),
    Column("outcome", Text, nullable=False),  # ok, not_modified, failed
    Column("http_status", Integer),
    Column("duration_ms", Integer),
    Column("bytes", Integer),
    Column("new_entries", Integer, nullable=False),
    Column("updated_entries", Integer, nullable=False),
    Column("error", CleanText),
    Index("ix_fetch_attempts_feed", "feed_id", "attempted_at"),
)

# Identities of entries removed by retention, so the next poll does not bring
# them back while the feed still lists them.
pruned_entries = Table(
    "pruned_entries",
    metadata,
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True),
    Column("identity", CleanText, primary_key=True),
    Column("pruned_at", UTCDateTime, nullable=False),
)

# --- the merged feeds ----------------------------------------------------------------

# Each story's published entry as rendered for a format (an Atom <entry>, an RSS
# <item>, a JSON Feed item), so building a page of a merged feed is a query and a
# concatenation. ``context`` is a digest of what besides the story the entry depends
# on (site, section names, renderer version) and ``stamp`` the story's story_stamp
# when rendered; a row whose context or stamp differs is rendered again. A cache:
# any row may be deleted at any time.
story_renderings = Table(
    "story_renderings",
    metadata,
    Column("story_id", Integer, ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True),
    Column("format", String(8), primary_key=True),
    Column("context", String(32), nullable=False),
    Column("stamp", String(32), nullable=False),
    Column("body", LargeBinary, nullable=False),
)


# A source feed's site icon, fetched after a poll now and then (see update/_feed.py)
# and served by the reader from our origin. ``body`` NULL: the last look found none.
# ``version`` (a digest of the body) is in the icon's URL, so it is cached for long.
feed_icons = Table(
    "feed_icons",
    metadata,
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True),
    Column("content_type", String(32)),
    Column("body", LargeBinary),
    Column("source_url", Text),
    Column("fetched_at", UTCDateTime, nullable=False),
    Column("version", String(16)),
)


# --- accounts --------------------------------------------------------------------------

# Who may sign in. Names are stored lower-case (sign-in ignores case). The password is
# an argon2 hash; ``session_key`` is carried in signed session cookies, and replacing
# it (a new password) signs every session of the user out; ``feed_token`` is the key
# in the URLs of private outputs.
users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("role", String(16), nullable=False),  # admin or reader
    Column("password_hash", Text, nullable=False),
    Column("session_key", String(64), nullable=False),
    Column("feed_token", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("password_changed_at", UTCDateTime, nullable=False),
)

# App passwords, for the sync APIs (Google Reader, Fever) and apps: random secrets
# shown once, kept as SHA-256 digests (a fast digest is enough for 160 random bits),
# together with the digest of the Fever API key they make (md5 of "name:password").
app_passwords = Table(
    "app_passwords",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("label", CleanText, nullable=False),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("fever_key_hash", String(64), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),
    Index("ix_app_passwords_user", "user_id"),
)

# Google Reader API sessions (ClientLogin's Auth token), kept as SHA-256 digests. A
# token expires when unused for a while (core/_users.py) and goes with its app password.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column(
        "app_password_id",
        Integer,
        ForeignKey("app_passwords.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime, nullable=False),
    Index("ix_api_tokens_user", "user_id"),
)

# Failed sign-ins, per account ("user:<name>") and per address ("address:<ip>"), so
# every process serving the database applies the same limits. Old rows are deleted as
# new ones are written.
login_failures = Table(
    "login_failures",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", CleanText, nullable=False),
    Column("failed_at", UTCDateTime, nullable=False),
    Index("ix_login_failures_key", "key", "failed_at"),
)
