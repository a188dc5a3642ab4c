"""Issue-5 polling behaviour through the real pipeline: redirects confirmed before
they are followed, publisher hints honoured, fetch history kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aggregator.config import Config, FeedConfig, PollingConfig
from aggregator.core import Aggregator
from aggregator.storage import Storage
from aggregator.types import FeedState
from aggregator.update import FeedOutcome
from tests.clock import FixedClock
from tests.conftest import MakeAggregator
from tests.httpserver import FeedServer, RecordedRequest, Response

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def rss(extra_channel: str = "", guid: str = "1") -> bytes:
    return (
        f'<?xml version="1.0"?><rss version="2.0" '
        f'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel><title>T</title>'
        f"{extra_channel}<item><title>Item {guid}</title><guid>{guid}</guid></item>"
        f"</channel></rss>"
    ).encode()


class Poller:
    """Polls one source feed at the times a test says, through the front object."""

    def __init__(self, aggregator: Aggregator, clock: FixedClock) -> None:
        self.aggregator = aggregator
        self.clock = clock

    def update_feed(self, feed: FeedState, now: datetime) -> FeedOutcome:
        self.clock.set(now)
        return self.aggregator.update_feed(feed.id)


def make_updater(make: MakeAggregator, server: FeedServer, path: str) -> Poller:
    config = Config(
        path="policy.yaml",
        polling=PollingConfig(allow_private_networks=True, interval_seconds=1800),
        feeds=(FeedConfig(url=server.url(path)),),
    )
    clock = FixedClock(NOW)
    return Poller(make(config, clock=clock), clock)


def feed_at(storage: Storage, server: FeedServer, path: str) -> FeedState:
    feed = storage.get_feed_by_url(server.url(path))
    assert feed is not None
    return feed


def test_permanent_redirect_is_followed_only_after_three_sightings(
    server: FeedServer, storage: Storage, make_aggregator: MakeAggregator
) -> None:
    server.route("/old.xml", FeedServer.redirect("/new.xml", 301))
    server.route("/new.xml", FeedServer.feed(rss(), etag=None, last_modified=None))
    updater = make_updater(make_aggregator, server, "/old.xml")
    for poll in range(1, 4):
        updater.update_feed(feed_at(storage, server, "/old.xml"), NOW + timedelta(hours=poll))
        feed = feed_at(storage, server, "/old.xml")
        assert feed.redirect_count == poll
        assert (feed.fetch_url is not None) == (poll == 3)
    assert len(server.requests_for("/old.xml")) == 3
    updater.update_feed(feed_at(storage, server, "/old.xml"), NOW + timedelta(hours=4))
    assert len(server.requests_for("/old.xml")) == 3  # the new address is used directly
    assert len(server.requests_for("/new.xml")) == 4


def test_temporary_redirects_change_nothing(
    server: FeedServer, storage: Storage, make_aggregator: MakeAggregator
) -> None:
    server.route("/old.xml", FeedServer.redirect("/new.xml", 302))
    server.route("/new.xml", FeedServer.feed(rss(), etag=None, last_modified=None))
    updater = make_updater(make_aggregator, server, "/old.xml")
    for poll in range(1, 5):
        updater.update_feed(feed_at(storage, server, "/old.xml"), NOW + timedelta(hours=poll))
    feed = feed_at(storage, server, "/old.xml")
    assert (feed.fetch_url, feed.redirect_count, feed.permanent_redirect_url) == (None, 0, None)


@pytest.mark.parametrize(
    ("channel", "headers", "at_least_seconds"),
    [
        ("<ttl>180</ttl>", {}, 3 * 3600),
        (
            "<sy:updatePeriod>daily</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>",
            {},
            12 * 3600,
        ),
        ("", {"Cache-Control": "max-age=7200"}, 7200),
    ],
)
def test_publisher_hints_push_the_next_check(
    server: FeedServer,
    storage: Storage,
    make_aggregator: MakeAggregator,
    channel: str,
    headers: dict[str, str],
    at_least_seconds: int,
) -> None:
    body = rss(channel)

    def handler(_request: RecordedRequest) -> Response:
        return Response(200, body, {"Content-Type": "application/rss+xml", **headers})

    server.route("/hinted.xml", handler)
    updater = make_updater(make_aggregator, server, "/hinted.xml")
    updater.update_feed(feed_at(storage, server, "/hinted.xml"), NOW)
    feed = feed_at(storage, server, "/hinted.xml")
    assert feed.next_check_at is not None
    assert feed.next_check_at - NOW >= timedelta(seconds=at_least_seconds)
    assert feed.next_check_at - NOW <= timedelta(seconds=at_least_seconds * 1.1 + 1)


def test_skip_hours_are_honoured(
    server: FeedServer, storage: Storage, make_aggregator: MakeAggregator
) -> None:
    skip = "<skipHours>" + "".join(f"<hour>{h}</hour>" for h in (10, 11, 12)) + "</skipHours>"
    server.route("/skip.xml", FeedServer.feed(rss(skip)))
    updater = make_updater(make_aggregator, server, "/skip.xml")
    updater.update_feed(feed_at(storage, server, "/skip.xml"), NOW)
    feed = feed_at(storage, server, "/skip.xml")
    assert feed.next_check_at == datetime(2026, 11, 30, 13, 0, tzinfo=UTC)


def test_fetch_history_keeps_the_last_twenty(
    server: FeedServer, storage: Storage, make_aggregator: MakeAggregator
) -> None:
    server.route("/h.xml", FeedServer.feed(rss(), etag='"v1"'))
    updater = make_updater(make_aggregator, server, "/h.xml")
    for poll in range(25):
        updater.update_feed(feed_at(storage, server, "/h.xml"), NOW + timedelta(hours=poll))
    history = storage.fetch_history(feed_at(storage, server, "/h.xml").id)
    assert len(history) == 20
    assert history[0].attempted_at == NOW + timedelta(hours=24)
    assert [a.outcome for a in history[:2]] == ["not_modified", "not_modified"]
    first = storage.fetch_history(feed_at(storage, server, "/h.xml").id)[-1]
    assert first.outcome == "not_modified" and first.http_status == 304
    assert all(a.duration_ms is not None for a in history)


def test_history_records_success_with_counts_and_failures_with_reason(
    server: FeedServer, storage: Storage, make_aggregator: MakeAggregator
) -> None:
    server.route("/c.xml", FeedServer.feed(rss(guid="a"), etag='"a"'))
    updater = make_updater(make_aggregator, server, "/c.xml")
    updater.update_feed(feed_at(storage, server, "/c.xml"), NOW)
    server.route("/c.xml", FeedServer.status(503, {"Retry-After": "600"}))
    updater.update_feed(feed_at(storage, server, "/c.xml"), NOW + timedelta(hours=1))
    failed, ok = storage.fetch_history(feed_at(storage, server, "/c.xml").id)
    assert (ok.outcome, ok.http_status, ok.new_entries, ok.bytes) == (
        "ok",
        200,
        1,
        len(rss(guid="a")),
    )
    assert (failed.outcome, failed.http_status) == ("failed", 503)
    assert failed.error is not None and "503" in failed.error
