"""All SQL lives here, split by domain. SQLite by default, PostgreSQL (psycopg 3) with
the same code.

``Storage`` is one object whose methods come from one mixin per domain: source feeds
and their fetch history (_feeds.py, _history.py), entries and stories as polls write
them (_entries.py), filing them in sections again (_filing.py), retention
(_retention.py), reading stories back (_stories.py), the reader's lists and read
state (_reading.py, kept in step by _listings.py), search (_search.py) and stored
renderings (_renderings.py). ``schema`` holds the tables (public: tests and
migrations read it).
"""

from __future__ import annotations

from aggregator.storage import schema
from aggregator.storage._entries import ALL_SECTIONS, EntriesMixin
from aggregator.storage._feeds import FeedsMixin
from aggregator.storage._filing import SectionsMixin, StoredForFiling
from aggregator.storage._history import HistoryMixin
from aggregator.storage._migrations import MIGRATIONS
from aggregator.storage._reading import ReaderMixin
from aggregator.storage._renderings import RenderingsMixin
from aggregator.storage._retention import RetentionMixin
from aggregator.storage._search import fts5_query
from aggregator.storage._stories import ReadingMixin
from aggregator.storage._types import (
    FeedFailure,
    FeedUpdate,
    ProcessedEntry,
    StoreResult,
)


class Storage(
    FeedsMixin,
    EntriesMixin,
    HistoryMixin,
    RetentionMixin,
    SectionsMixin,
    ReaderMixin,
    ReadingMixin,
    RenderingsMixin,
):
    """The one storage object; domain methods come from the mixins."""


def open_storage(url: str) -> Storage:
    """Open (and migrate) the database at a SQLAlchemy URL. Raises StorageError."""
    storage = Storage.open(url)
    assert isinstance(storage, Storage)
    return storage


__all__ = [
    "ALL_SECTIONS",
    "MIGRATIONS",
    "FeedFailure",
    "FeedUpdate",
    "ProcessedEntry",
    "Storage",
    "StoreResult",
    "StoredForFiling",
    "fts5_query",
    "open_storage",
    "schema",
]
