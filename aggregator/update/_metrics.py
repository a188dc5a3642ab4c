"""Prometheus metrics of the poller, and the /metrics endpoint's payload.

Counters live in this process's registry (each ``serve`` process exports its own);
the number of failing feeds is read from the database at scrape time, so every
process reports the same truth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from aggregator.types import FeedState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

registry = CollectorRegistry()
polls = Counter(
    "aggregator_polls",
    "Feed polls by outcome (ok, not_modified, failed).",
    ["outcome"],
    registry=registry,
)
fetch_duration = Histogram(
    "aggregator_poll_duration_seconds",
    "Time to poll one feed: fetch, parse and store.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=registry,
)
entries_stored = Counter(
    "aggregator_entries_stored",
    "Entries written by polls, new or updated.",
    ["kind"],
    registry=registry,
)


def observe_poll(outcome: str, seconds: float, new: int, updated: int) -> None:
    """Count one feed's poll."""
    polls.labels(outcome=outcome).inc()
    fetch_duration.observe(seconds)
    if new:
        entries_stored.labels(kind="new").inc(new)
    if updated:
        entries_stored.labels(kind="updated").inc(updated)


class FeedHealthCollector(Collector):
    """Feeds failing and gone, read from storage when scraped."""

    def __init__(self, list_feeds: Callable[[], list[FeedState]], error_threshold: int) -> None:
        self._list_feeds = list_feeds
        self._threshold = error_threshold

    def collect(self) -> Iterator[Metric]:
        feeds = self._list_feeds()
        failing = GaugeMetricFamily(
            "aggregator_feeds_failing",
            "Active feeds whose last poll failed.",
            value=sum(1 for feed in feeds if feed.error_count > 0 and not feed.gone),
        )
        flagged = GaugeMetricFamily(
            "aggregator_feeds_flagged",
            "Active feeds failing at least polling.error_threshold times in a row.",
            value=sum(1 for feed in feeds if feed.error_count >= self._threshold),
        )
        gone = GaugeMetricFamily(
            "aggregator_feeds_gone",
            "Feeds that answered 410 Gone.",
            value=sum(f.gone for f in feeds),
        )
        total = GaugeMetricFamily("aggregator_feeds", "Active feeds.", value=len(feeds))
        yield from (failing, flagged, gone, total)


def render_metrics(health: FeedHealthCollector) -> bytes:
    """The exposition text: this process's counters plus the feeds' health."""
    scrape = CollectorRegistry()
    scrape.register(health)
    return generate_latest(registry) + generate_latest(scrape)
