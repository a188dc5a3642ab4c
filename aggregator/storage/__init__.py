"""All SQL lives here, split by domain. SQLite by default, PostgreSQL (psycopg 3) with
the same code.

``Storage`` is one object whose methods come from one mixin per domain:

- source feeds, their schedule and fetch history: _feeds.py (_history.py); what the
  admin watches (failing feeds, recent fetches, new entries per day): _activity.py;
- entries and stories as polls write them, filing them in sections again, and
  retention: _entries.py (_filing.py, _retention.py, _sections.py);
- stories read back for the merged feeds: _stories.py;
- the reader's lists, read and starred state and search: _reading.py (kept in step
  by _listings.py; search SQL in _search.py);
- stored renderings of stories: _renderings.py;
- source feeds' site icons: _icons.py;
- accounts (users, app passwords, API tokens, failed sign-ins): _users.py;
- the streams of the sync APIs (Google Reader, Fever): _sync.py.

The engine, transactions, migrations and shared settings are in _base.py,
_engine.py, _migrations.py; what differs between SQLite and PostgreSQL in
_dialect.py. ``schema`` holds the tables (public: tests and migrations read it).
"""

from __future__ import annotations

from aggregator.storage import schema
from aggregator.storage._activity import ActivityMixin
from aggregator.storage._entries import EntriesMixin, ExactKeysOnly
from aggregator.storage._feeds import FeedsMixin
from aggregator.storage._fulltext import FullTextMixin
from aggregator.storage._icons import IconsMixin
from aggregator.storage._migrations import MIGRATIONS
from aggregator.storage._reading import ReadingMixin
from aggregator.storage._renderings import RenderingsMixin
from aggregator.storage._search import fts5_query
from aggregator.storage._sections import ALL_SECTIONS, stored_text
from aggregator.storage._stories import StoriesMixin
from aggregator.storage._sync import SyncMixin
from aggregator.storage._types import (
    FeedFailure,
    FeedUpdate,
    FilingReport,
    IndexedReport,
    Joining,
    JoinRule,
    NewReport,
    ProcessedEntry,
    StoreResult,
    StoryAssigner,
    StoryFiler,
    StoryFiling,
    union_of_given,
)
from aggregator.storage._users import UsersMixin


class Storage(
    FeedsMixin,
    IconsMixin,
    ActivityMixin,
    EntriesMixin,
    FullTextMixin,
    StoriesMixin,
    ReadingMixin,
    RenderingsMixin,
    UsersMixin,
    SyncMixin,
):
    """The one storage object; its methods come from one mixin per domain."""


def open_storage(url: str) -> Storage:
    """Open (and migrate) the database at a SQLAlchemy URL. Raises StorageError."""
    storage = Storage.open(url)
    assert isinstance(storage, Storage)
    return storage


__all__ = [
    "ALL_SECTIONS",
    "MIGRATIONS",
    "ExactKeysOnly",
    "FeedFailure",
    "FeedUpdate",
    "FilingReport",
    "IndexedReport",
    "JoinRule",
    "Joining",
    "NewReport",
    "ProcessedEntry",
    "Storage",
    "StoreResult",
    "StoryAssigner",
    "StoryFiler",
    "StoryFiling",
    "fts5_query",
    "open_storage",
    "schema",
    "stored_text",
    "union_of_given",
]
