"""A feed's health in one place: the feeds page, a feed's own page and
`aggregator feeds` all say it with these words, in this order."""

from __future__ import annotations

from aggregator.types import (
    FAILING,
    FLAGGED,
    GONE,
    INACTIVE,
    MOVED,
    NEW,
    OK,
    PAUSED,
    FeedState,
    FeedStatus,
)


def feed_status(feed: FeedState, error_threshold: int) -> FeedStatus:
    """Return a feed's health (``error_threshold``: polling.error_threshold)."""
    if feed.gone:
        return FeedStatus(
            GONE, "410 Gone: the publisher removed this feed; polling has stopped", True
        )
    if feed.fetch_url:
        return FeedStatus(
            MOVED,
            f"Moved permanently to {feed.fetch_url} (seen 3 times in a row, now fetched "
            "there): update its URL in feeds.yaml",
            True,
        )
    if feed.permanent_redirect_url:
        return FeedStatus(MOVED, f"Moved permanently to {feed.permanent_redirect_url}", True)
    if feed.paused and feed.active:  # failing or not, it is not polled now
        return FeedStatus(PAUSED, "Paused in feeds.yaml: not polled", False)
    if feed.error_count >= error_threshold:
        return FeedStatus(
            FLAGGED,
            f"Flagged: failing {feed.error_count} times in a row, still retried",
            False,
        )
    if feed.error_count:
        return FeedStatus(FAILING, f"Failing ({feed.error_count} in a row)", False)
    if not feed.active:
        return FeedStatus(INACTIVE, "Not in feeds.yaml any more", False)
    if feed.last_fetched_at is None:
        return FeedStatus(NEW, "Not fetched yet", False)
    return FeedStatus(OK, "OK", False)
