"""Updating source feeds: one feed's pipeline (fetch, parse, process, store), the
worker pool, the schedule policy (pure), feed status, and the background jobs of
``serve`` (the one APScheduler importer).

The private modules: _feed.py (Updater: one poll of one feed), _pool.py (many
feeds at once, per-host limits), _schedule.py (when is a feed next due: pure),
_status.py (a feed's health in words), _metrics.py (Prometheus counters),
_writer.py (the one thread writing polls), _stories.py (story matching and filing
fed from storage).
``aggregator.update.jobs`` holds the background jobs of ``serve``: an entry point,
imported by the CLI alone (it calls the front object, like the CLI).
"""

from aggregator.update._feed import (
    FeedOutcome,
    FetchesFeeds,
    Updater,
)
from aggregator.update._fulltext import FULL_TEXT_PER_UPDATE, ArticleText, fetch_article_text
from aggregator.update._metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from aggregator.update._metrics import FeedHealthCollector, render_metrics
from aggregator.update._pool import PollSummary, feeds_to_poll, host_of, poll_feeds
from aggregator.update._schedule import (
    Bounds,
    PublisherHints,
    RedirectState,
    adapted_interval,
    cache_hints_from_headers,
    hinted_seconds,
    next_check_after_error,
    next_check_after_success,
    observe_redirect,
    skip_forward,
)
from aggregator.update._status import feed_status
from aggregator.update._stories import StoryMatcher, filing_digest, story_filer
from aggregator.update._writer import DirectWriter, PollWriter, WriterThread

__all__ = [
    "FULL_TEXT_PER_UPDATE",
    "METRICS_CONTENT_TYPE",
    "ArticleText",
    "Bounds",
    "DirectWriter",
    "FeedHealthCollector",
    "FeedOutcome",
    "FetchesFeeds",
    "PollSummary",
    "PollWriter",
    "PublisherHints",
    "RedirectState",
    "StoryMatcher",
    "Updater",
    "WriterThread",
    "adapted_interval",
    "cache_hints_from_headers",
    "feed_status",
    "feeds_to_poll",
    "fetch_article_text",
    "filing_digest",
    "hinted_seconds",
    "host_of",
    "next_check_after_error",
    "next_check_after_success",
    "observe_redirect",
    "poll_feeds",
    "render_metrics",
    "skip_forward",
    "story_filer",
]
