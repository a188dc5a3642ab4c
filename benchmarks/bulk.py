"""Shared by the benchmarks: store a batch of entries as one feed's poll would."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from aggregator.storage import FeedUpdate, ProcessedEntry, Storage


def store_batch(
    storage: Storage,
    feed_id: int,
    feed_number: int,
    entries: Iterable[ProcessedEntry],
    now: datetime,
) -> None:
    """Write ``entries`` for feed ``feed_number`` (titled "Feed N") in one transaction."""
    storage.store_feed_update(
        FeedUpdate(
            feed_id=feed_id,
            fetched_at=now,
            status=200,
            etag=None,
            last_modified=None,
            body_hash=None,
            feed_title=f"Feed {feed_number}",
            site_url=f"https://feed{feed_number}.example/",
            subtitle=None,
            permanent_redirect_url=None,
            next_check_at=now + timedelta(minutes=30),
            entries=tuple(entries),
        )
    )
