"""All SQL lives here. SQLite by default, PostgreSQL (psycopg 3) with the same code."""

from __future__ import annotations

from aggregator.storage.entries import EntriesMixin
from aggregator.storage.feeds import FeedsMixin
from aggregator.storage.history import HistoryMixin
from aggregator.storage.reader import ReaderMixin
from aggregator.storage.reading import ReadingMixin
from aggregator.storage.renderings import RenderingsMixin
from aggregator.storage.retention import RetentionMixin
from aggregator.storage.sections import SectionsMixin


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


__all__ = ["Storage", "open_storage"]
