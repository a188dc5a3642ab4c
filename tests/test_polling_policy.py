"""Issue-5 polling behaviour through the real pipeline: redirects confirmed before
they are followed, publisher hints honoured, fetch history kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aggregator.fetch import Fetcher, FetchLimits
from aggregator.models import Config, FeedConfig, FeedState, PollingConfig
from aggregator.storage import Storage
from aggregator.update import Updater
from tests.httpserver import FeedServer, RecordedRequest, Response

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def rss(extra_channel: str = "", guid: str = "1") -> bytes:
    return (
        f'<?xml version="1.0"?><rss version="2.0" '
        f'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel><title>T</title>'
        f"{extra_channel}<item><title>Item {guid}</title><guid>{guid}</guid></item>"
        f"</channel></rss>"
    ).encode()


def make_updater(storage: Storage, server: FeedServer, path: str) -> tuple[Updater, Fetcher]:
    config = Config(
        path="policy.yaml",
        polling=PollingConfig(allow_private_networks=True, interval_seconds=1800),
        feeds=(FeedConfig(url=server.url(path)),),
    )
    storage.sync_feeds(config.feeds, NOW)
    fetcher = Fetcher(FetchLimits.from_polling(config.polling))
    return Updater.from_config(config, storage, fetcher), fetcher


def feed_at(storage: Storage, server: FeedServer, path: str) -> FeedState:
    feed = storage.get_feed_by_url(server.url(path))
    assert feed is not None
    return feed


def test_permanent_redirect_is_followed_only_after_three_sightings(
    server: FeedServer, storage: Storage
) -> None:
    server.route("/old.xml", FeedServer.redirect("/new.xml", 301))
    server.route("/new.xml", FeedServer.feed(rss(), etag=None, last_modified=None))
    updater, fetcher = make_updater(storage, server, "/old.xml")
    for poll in range(1, 4):
        updater.update_feed(feed_at(storage, server, "/old.xml"), NOW + timedelta(hours=poll))
        feed = feed_at(storage, server, "/old.xml")
        assert feed.redirect_count == poll
        assert (feed.fetch_url is not None) == (poll == 3)
    assert len(server.requests_for("/old.xml")) == 3
    updater.update_feed(feed_at(storage, server, "/old.xml"), NOW + timedelta(hours=4))
    assert len(server.requests_for("/old.xml")) == 3  # the new address is used directly
    assert len(server.requests_for("/new.xml")) == 4
    fetcher.close()


def test_temporary_redirects_change_nothing(server: FeedServer, storage: Storage) -> None:
    server.route("/old.xml", FeedServer.redirect("/new.xml", 302))
    server.route("/new.xml", FeedServer.feed(rss(), etag=None, last_modified=None))
    updater, fetcher = make_updater(storage, server, "/old.xml")
    for poll in range(1, 5):
        updater.update_feed(feed_at(storage, server, "/old.xml"), NOW + timedelta(hours=poll))
    feed = feed_at(storage, server, "/old.xml")
    assert (feed.fetch_url, feed.redirect_count, feed.permanent_redirect_url) == (None, 0, None)
    fetcher.close()


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
    channel: str,
    headers: dict[str, str],
    at_least_seconds: int,
) -> None:
    body = rss(channel)

    def handler(_request: RecordedRequest) -> Response:
        return Response(200, body, {"Content-Type": "application/rss+xml", **headers})

    server.route("/hinted.xml", handler)
    updater, fetcher = make_updater(storage, server, "/hinted.xml")
    updater.update_feed(feed_at(storage, server, "/hinted.xml"), NOW)
    feed = feed_at(storage, server, "/hinted.xml")
    assert feed.next_check_at is not None
    assert feed.next_check_at - NOW >= timedelta(seconds=at_least_seconds)
    assert feed.next_check_at - NOW <= timedelta(seconds=at_least_seconds * 1.1 + 1)
    fetcher.close()


def test_skip_hours_are_honoured(server: FeedServer, storage: Storage) -> None:
    skip = "<skipHours>" + "".join(f"<hour>{h}</hour>" for h in (10, 11, 12)) + "</skipHours>"
    server.route("/skip.xml", FeedServer.feed(rss(skip)))
    updater, fetcher = make_updater(storage, server, "/skip.xml")
    updater.update_feed(feed_at(storage, server, "/skip.xml"), NOW)
    feed = feed_at(storage, server, "/skip.xml")
    assert feed.next_check_at == datetime(2026, 11, 30, 13, 0, tzinfo=UTC)
    fetcher.close()


def test_fetch_history_keeps_the_last_twenty(server: FeedServer, storage: Storage) -> None:
    server.route("/h.xml", FeedServer.feed(rss(), etag='"v1"'))
    updater, fetcher = make_updater(storage, server, "/h.xml")
    for poll in range(25):
        updater.update_feed(feed_at(storage, server, "/h.xml"), NOW + timedelta(hours=poll))
    history = storage.fetch_history(feed_at(storage, server, "/h.xml").id)
    assert len(history) == 20
    assert history[0].attempted_at == NOW + timedelta(hours=24)
    assert [a.outcome for a in history[:2]] == ["not_modified", "not_modified"]
    first = storage.fetch_history(feed_at(storage, server, "/h.xml").id)[-1]
    assert first.outcome == "not_modified" and first.http_status == 304
    assert all(a.duration_ms is not None for a in history)
    fetcher.close()


def test_history_records_success_with_counts_and_failures_with_reason(
    server: FeedServer, storage: Storage
) -> None:
    server.route("/c.xml", FeedServer.feed(rss(guid="a"), etag='"a"'))
    updater, fetcher = make_updater(storage, server, "/c.xml")
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
    fetcher.close()
