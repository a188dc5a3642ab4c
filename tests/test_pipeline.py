"""The whole pipeline against feeds served from 127.0.0.1 and a real database:
fetch → parse → sanitize → dedup → categorize → store, with every fault on its own feed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from aggregator.config import Config, FeedConfig, PollingConfig, SectionConfig
from aggregator.storage import Storage, schema
from tests.conftest import MakeAggregator
from tests.httpserver import FeedServer, RecordedRequest, Response


def rss(*items: tuple[str, str], title: str = "Good Feed") -> bytes:
    body = "".join(
        f"<item><title>{t}</title><link>https://news.example/{g}</link><guid>{g}</guid>"
        f"<pubDate>Sun, 29 Nov 2026 10:00:00 GMT</pubDate>"
        f"<description>&lt;p&gt;Story {g} about the Navy.&lt;/p&gt;</description>"
        f"<category>U.S. News</category></item>"
        for g, t in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://news.example/</link>{body}</channel></rss>"
    ).encode()


GOOD = rss(("g1", "First story"), ("g2", "Second story"))
ENTITY_BOMB = (
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "' + b"A" * 1000 + b'">'
    b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    b'<rss version="2.0"><channel><title>Bomb</title><item><title>&c;&c;&c;&c;&c;&c;</title>'
    b"<guid>bomb</guid></item></channel></rss>"
)
SURROGATE = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>Bad &#xD800; char</title>'
    b"<item><title>x &#xD800;</title><guid>s1</guid></item></channel></rss>"
)
MALFORMED = b"<html><body>this is not a feed <<<<"

CATEGORIES = (
    SectionConfig(name="US News", slug="us-news", aliases=("Us News", "U.S. News")),
    SectionConfig(name="US Military", slug="us-military", keywords=("Navy",)),
)


def make_config(server: FeedServer, paths: list[str], tmp_path_db: str) -> Config:
    return Config(
        path="test-feeds.yaml",
        polling=PollingConfig(
            allow_private_networks=True,
            timeout_seconds=2.0,
            connect_timeout_seconds=1.0,
            per_host=16,
            host_spacing_seconds=0,
        ),
        sections=CATEGORIES,
        feeds=tuple(FeedConfig(url=server.url(path)) for path in paths),
    )


def poll_once(make: MakeAggregator, config: Config, now: datetime) -> dict[str, object]:
    """Poll the due feeds of ``config`` at ``now``; the outcomes by feed URL."""
    aggregator = make(config, clock=lambda: now)
    summary = aggregator.update_feeds(workers=16)
    return {outcome.url: outcome for outcome in summary.outcomes}


def entry_count(storage: Storage, feed_url: str | None = None) -> int:
    query = select(func.count()).select_from(schema.entries)
    if feed_url:
        query = query.join(schema.feeds).where(schema.feeds.c.url == feed_url)
    with storage.read() as conn:
        return int(conn.scalar(query) or 0)


FAULTS = {
    "/404.xml": (FeedServer.status(404), "404"),
    "/500.xml": (FeedServer.status(500), "500"),
    "/410.xml": (FeedServer.status(410), "410"),
    "/timeout.xml": (FeedServer.hang(30), "timed out"),
    "/trickle.xml": (FeedServer.trickle(GOOD, interval=0.5), "timed out"),
    "/bomb.xml": (FeedServer.gzip_bomb(), "too large"),
    "/oversized.xml": (FeedServer.oversized(16 * 1024 * 1024), "too large"),
    "/malformed.xml": (FeedServer.feed(MALFORMED, content_type="text/html"), ""),
    "/doctype.xml": (FeedServer.feed(ENTITY_BOMB), None),
    "/surrogate.xml": (FeedServer.feed(SURROGATE), ""),
}


def test_each_fault_marks_only_its_own_feed(
    server: FeedServer, storage: Storage, make_aggregator: MakeAggregator
) -> None:
    server.route("/good.xml", FeedServer.feed(GOOD))
    server.route("/gzip.xml", FeedServer.feed(rss(("z1", "Zipped")), gzip=True))
    server.route("/moved.xml", FeedServer.redirect("/moved-here.xml", 301))
    server.route("/moved-here.xml", FeedServer.feed(rss(("m1", "Moved"))))
    for path, (route, _) in FAULTS.items():
        server.route(path, route)
    paths = ["/good.xml", "/gzip.xml", "/moved.xml", *FAULTS]
    config = make_config(server, paths, "")
    now = datetime.now(UTC)
    outcomes = poll_once(make_aggregator, config, now)

    assert outcomes[server.url("/good.xml")].status == "ok"  # type: ignore[attr-defined]
    assert entry_count(storage, server.url("/good.xml")) == 2
    assert entry_count(storage, server.url("/gzip.xml")) == 1
    assert entry_count(storage, server.url("/moved.xml")) == 1
    moved = storage.get_feed_by_url(server.url("/moved.xml"))
    assert moved is not None and moved.permanent_redirect_url == server.url("/moved-here.xml")
    gzip_requests = server.requests_for("/gzip.xml")
    assert "gzip" in gzip_requests[0].headers.get("accept-encoding", "")

    for path, (_, reason) in FAULTS.items():
        feed = storage.get_feed_by_url(server.url(path))
        assert feed is not None
        if reason is None:  # the entity bomb is defused and parsed, not failed
            assert feed.last_error is None, path
            continue
        assert feed.last_error, f"{path} has no error recorded"
        assert reason in feed.last_error, (path, feed.last_error)
        assert feed.error_count == 1
        assert entry_count(storage, server.url(path)) == 0
        assert feed.next_check_at is not None and feed.next_check_at > now
    gone = storage.get_feed_by_url(server.url("/410.xml"))
    assert gone is not None and gone.gone


def test_second_poll_is_conditional_and_writes_nothing(
    server: FeedServer, storage: Storage, make_aggregator: MakeAggregator
) -> None:
    server.route("/good.xml", FeedServer.feed(GOOD))
    config = make_config(server, ["/good.xml"], "")
    first_time = datetime.now(UTC)
    poll_once(make_aggregator, config, first_time)
    with storage.read() as conn:
        before = conn.execute(select(schema.entries).order_by(schema.entries.c.id)).all()

    second_time = first_time + timedelta(hours=2)
    outcomes = poll_once(make_aggregator, config, second_time)
    outcome = outcomes[server.url("/good.xml")]
    assert outcome.status == "not_modified"  # type: ignore[attr-defined]
    second_request = server.requests_for("/good.xml")[-1]
    assert second_request.headers["if-none-match"] == '"v1"'
    assert second_request.headers["if-modified-since"] == "Mon, 02 Nov 2026 10:00:00 GMT"
    with storage.read() as conn:
        after = conn.execute(select(schema.entries).order_by(schema.entries.c.id)).all()
    assert after == before
    feed = storage.get_feed_by_url(server.url("/good.xml"))
    assert feed is not None and feed.last_status == 304
    assert feed.last_fetched_at == second_time


def test_identical_body_without_validators_skips_parsing(
    server: FeedServer, storage: Storage, make_aggregator: MakeAggregator
) -> None:
    def no_validators(_request: RecordedRequest) -> Response:
        return Response(200, GOOD, {"Content-Type": "application/rss+xml"})

    server.route("/plain.xml", no_validators)
    config = make_config(server, ["/plain.xml"], "")
    now = datetime.now(UTC)
    poll_once(make_aggregator, config, now)
    outcomes = poll_once(make_aggregator, config, now + timedelta(hours=1))
    assert outcomes[server.url("/plain.xml")].status == "not_modified"  # type: ignore[attr-defined]
    assert entry_count(storage) == 2


def test_changed_item_updates_in_place(
    server: FeedServer, storage: Storage, make_aggregator: MakeAggregator
) -> None:
    server.route("/good.xml", FeedServer.feed(GOOD, etag='"v1"'))
    config = make_config(server, ["/good.xml"], "")
    now = datetime.now(UTC)
    poll_once(make_aggregator, config, now)
    server.route(
        "/good.xml",
        FeedServer.feed(rss(("g1", "First story, updated"), ("g2", "Second story")), etag='"v2"'),
    )
    outcomes = poll_once(make_aggregator, config, now + timedelta(hours=1))
    outcome = outcomes[server.url("/good.xml")]
    assert (outcome.new, outcome.updated) == (0, 1)  # type: ignore[attr-defined]
    with storage.read() as conn:
        titles = sorted(conn.scalars(select(schema.entries.c.title)))
    assert titles == ["First story, updated", "Second story"]
    assert storage.get_feed_by_url(server.url("/good.xml")).etag == '"v2"'  # type: ignore[union-attr]


def test_sections_and_sanitized_html_are_stored(
    server: FeedServer, storage: Storage, make_aggregator: MakeAggregator
) -> None:
    hostile = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>H</title>'
        b"<item><title>Navy ship &lt;b&gt;sails&lt;/b&gt;</title><guid>h1</guid>"
        b"<link>https://news.example/h1</link>"
        b'<description>&lt;p onclick="x()"&gt;Hi&lt;script&gt;window.__xss=1&lt;/script&gt;'
        b'&lt;a href="&amp;#106;avascript:alert(1)"&gt;link&lt;/a&gt;&lt;/p&gt;</description>'
        b"<category>Us News</category><category>Weather</category></item></channel></rss>"
    )
    server.route("/h.xml", FeedServer.feed(hostile))
    poll_once(make_aggregator, make_config(server, ["/h.xml"], ""), datetime.now(UTC))
    with storage.read() as conn:
        entry = conn.execute(select(schema.entries)).one()
        sections = sorted(conn.scalars(select(schema.entry_sections.c.section)))
    assert entry.title == "Navy ship sails"
    assert "script" not in entry.summary_html and "onclick" not in entry.summary_html
    assert "javascript" not in entry.summary_html.lower()
    # Its own tag ("Us News") outranks a keyword ("Navy"): one section, not the union.
    assert sections == ["us-news"]
    assert entry.tags == ["Weather"]


def test_updated_date_stands_in_for_a_missing_published_date(
    server: FeedServer, storage: Storage, make_aggregator: MakeAggregator
) -> None:
    atom = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>A</title>'
        b"<id>urn:a</id><updated>2026-11-20T08:00:00Z</updated>"
        b"<entry><id>urn:a:1</id><title>Only updated</title>"
        b"<updated>2026-11-20T08:00:00Z</updated></entry></feed>"
    )
    server.route("/a.xml", FeedServer.feed(atom, content_type="application/atom+xml"))
    poll_once(make_aggregator, make_config(server, ["/a.xml"], ""), datetime.now(UTC))
    with storage.read() as conn:
        entry = conn.execute(select(schema.entries)).one()
    assert entry.published_at == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
    assert entry.sort_at == entry.published_at
