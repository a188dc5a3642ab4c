"""Full text (issue 15): article pages of summary-only feeds fetched through the
poller's guard and limits, their main text extracted (saved pages in
tests/data/articles: navigation, advertising and comments around the article),
sanitized, stored, shown instead of the summary and searched; on demand from the story
page; migration 11."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.config import Config, parse_config
from aggregator.core import Aggregator
from aggregator.errors import ParseError
from aggregator.fetch import Fetcher, FetchLimits
from aggregator.parse import extract_article
from aggregator.storage import open_storage
from aggregator.update import FULL_TEXT_PER_UPDATE, fetch_article_text
from aggregator.web import create_app
from tests.clock import FixedClock
from tests.conftest import MakeAggregator
from tests.httpserver import FeedServer, Response

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
ARTICLES = Path(__file__).resolve().parent / "data" / "articles"
LOCAL = {"REMOTE_ADDR": "127.0.0.1"}
HTML = {"Content-Type": "text/html; charset=utf-8"}

HARBOR_SUMMARY = "The inner harbor dredging is done, port officials said."


def page(name: str) -> bytes:
    return (ARTICLES / f"{name}.html").read_bytes()


def rss(items: list[tuple[str, str, str, str]]) -> bytes:
    """An RSS feed of (guid, title, link, summary) items: a summary-only feed."""
    body = "".join(
        f"<item><guid>{guid}</guid><title>{escape(title)}</title><link>{escape(link)}</link>"
        f"<description>{escape(summary)}</description>"
        "<pubDate>Thu, 03 Dec 2026 09:00:00 GMT</pubDate></item>"
        for guid, title, link, summary in items
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Coastline Gazette</title>'
        f"<link>https://gazette.example/</link>{body}</channel></rss>"
    ).encode()


def config_text(feed_url: str, *, full_text: bool = True, polling: str = "") -> str:
    return (
        "polling:\n  allow_private_networks: true\n  host_spacing: 0\n"
        + polling
        + f"feeds:\n  - url: {feed_url}\n"
        + ("    full_text: true\n" if full_text else "")
    )


def harbor_site(server: FeedServer) -> str:
    server.route("/articles/harbor", Response(200, page("harbor"), HTML))
    feed = rss([("h1", "Harbor dredging finishes", server.url("/articles/harbor"), HARBOR_SUMMARY)])
    server.route("/feed.xml", FeedServer.feed(feed))
    return server.url("/feed.xml")


def open_aggregator(make: MakeAggregator, text: str, folder: Path) -> Aggregator:
    config: Config = parse_config(text, str(folder / "feeds.yaml"))
    return make(config, clock=FixedClock(NOW))


def lead_of(aggregator: Aggregator) -> tuple[int, int]:
    [item] = aggregator.get_stories("all").stories
    return item.story.id, item.story.lead.id


# --- extraction ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "body", "furniture"),
    [
        (
            "harbor",
            ["410,000 cubic yards", "oyster beds", "rebuilding the crumbling north pier"],
            ["beachbum77", "Subscribe today", "Most read", "Cheap flights", "All rights reserved"],
        ),
        (
            "council",
            ["voted 5-2 late Monday", "$420,000 a year", "Annette Lowe"],
            ["Accept all cookies", "morning newsletter", "Refinance", "Shameful vote", "Careers"],
        ),
    ],
)
def test_extraction_keeps_the_article_and_leaves_nav_ads_and_comments(
    name: str, body: list[str], furniture: list[str]
) -> None:
    extracted = extract_article(page(name), "https://news.example/article")
    for words in body:
        assert words in extracted
    for words in furniture:
        assert words not in extracted


def test_article_html_is_sanitized_after_extraction(server: FeedServer) -> None:
    server.route("/articles/harbor", Response(200, page("harbor"), HTML))
    url = server.url("/articles/harbor")
    # The extractor alone lets a javascript: link and an event handler through ...
    raw = extract_article(page("harbor"), url)
    assert "javascript:" in raw and "onmouseover" in raw
    # ... what is kept has neither, nor the page's scripts and onerror.
    fetcher = Fetcher(FetchLimits(allow_private_networks=True))
    try:
        article = fetch_article_text(fetcher, url)
    finally:
        fetcher.close()
    assert article.error is None and article.html is not None
    assert "410,000 cubic yards" in article.html
    for hostile in ("javascript:", "onmouseover", "onerror", "onclick", "<script", "alert("):
        assert hostile not in article.html
    # Relative links and images point at the article's site.
    assert f'href="{server.url("/news/north-pier-plan")}"' in article.html


def test_only_web_pages_are_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.html"
    secret.write_bytes(page("harbor"))
    fetcher = Fetcher(FetchLimits(allow_private_networks=True))
    try:
        for link in (secret.as_uri(), None, "ftp://example.org/a", "http://[::1/a", "x"):
            article = fetch_article_text(fetcher, link)
            assert article.html is None and article.error
    finally:
        fetcher.close()


# --- full_text feeds -------------------------------------------------------------------------


def test_full_text_feed_keeps_the_article_shows_and_searches_it(
    tmp_path: Path, make_aggregator: MakeAggregator, server: FeedServer
) -> None:
    aggregator = open_aggregator(make_aggregator, config_text(harbor_site(server)), tmp_path)
    assert aggregator.search("oyster").stories == ()
    summary = aggregator.update_feeds(scheduled=False)
    assert [o.status for o in summary.outcomes] == ["ok"]
    story_id, entry_id = lead_of(aggregator)
    full_text = aggregator.get_full_text(entry_id)
    assert full_text is not None and full_text.ok and full_text.html is not None
    assert "410,000 cubic yards" in full_text.html
    assert "beachbum77" not in full_text.html and "onerror" not in full_text.html
    # A word only the article has (not the feed's summary) finds the story.
    assert "oyster" not in HARBOR_SUMMARY
    assert [hit.story.id for hit in aggregator.search("oyster").stories] == [story_id]
    # Fetched once: the next update does not fetch it again.
    aggregator.update_feeds(scheduled=False)
    assert len(server.requests_for("/articles/harbor")) == 1


def test_feeds_without_full_text_are_not_fetched(
    tmp_path: Path, make_aggregator: MakeAggregator, server: FeedServer
) -> None:
    text = config_text(harbor_site(server), full_text=False)
    aggregator = open_aggregator(make_aggregator, text, tmp_path)
    aggregator.update_feeds(scheduled=False)
    _, entry_id = lead_of(aggregator)
    assert aggregator.get_full_text(entry_id) is None
    assert server.requests_for("/articles/harbor") == []


def test_a_failed_article_is_recorded_the_summary_stays_and_the_poll_is_ok(
    tmp_path: Path, make_aggregator: MakeAggregator, server: FeedServer
) -> None:
    server.route("/articles/wall", Response(200, page("empty"), HTML))
    server.route("/articles/gone", FeedServer.status(500))
    items = [
        ("w", "Behind a wall", server.url("/articles/wall"), "A summary of the wall story."),
        ("g", "Server error", server.url("/articles/gone"), "A summary of the broken one."),
    ]
    server.route("/feed.xml", FeedServer.feed(rss(items)))
    aggregator = open_aggregator(make_aggregator, config_text(server.url("/feed.xml")), tmp_path)
    summary = aggregator.update_feeds(scheduled=False)
    assert [o.status for o in summary.outcomes] == ["ok"]
    stories = aggregator.get_stories("all").stories
    assert len(stories) == 2
    for item in stories:
        full_text = aggregator.get_full_text(item.story.lead.id)
        assert full_text is not None and not full_text.ok and full_text.html is None
        assert full_text.error
    errors = {aggregator.get_full_text(item.story.lead.id).error for item in stories}  # type: ignore[union-attr]
    assert any("500" in (error or "") for error in errors)
    assert any("text" in (error or "") for error in errors)


def test_articles_fetched_per_update_are_bounded(
    tmp_path: Path, make_aggregator: MakeAggregator, server: FeedServer
) -> None:
    count = FULL_TEXT_PER_UPDATE + 5
    for number in range(count):
        server.route(f"/articles/{number}", Response(200, page("council"), HTML))
    items = [
        (f"c{n}", f"Council story {n}", server.url(f"/articles/{n}"), f"Summary {n}.")
        for n in range(count)
    ]
    server.route("/feed.xml", FeedServer.feed(rss(items)))
    aggregator = open_aggregator(make_aggregator, config_text(server.url("/feed.xml")), tmp_path)
    aggregator.update_feeds(scheduled=False)
    fetched = sum(len(server.requests_for(f"/articles/{n}")) for n in range(count))
    assert fetched == FULL_TEXT_PER_UPDATE
    # The next update (the feed unchanged) fetches the rest.
    aggregator.update_feeds(scheduled=False)
    fetched = sum(len(server.requests_for(f"/articles/{n}")) for n in range(count))
    assert fetched == count


def test_a_stopping_service_records_no_verdict_on_articles(
    tmp_path: Path, make_aggregator: MakeAggregator, server: FeedServer
) -> None:
    text = config_text(harbor_site(server), full_text=False)
    aggregator = open_aggregator(make_aggregator, text, tmp_path)
    aggregator.update_feeds(scheduled=False)
    story_id, entry_id = lead_of(aggregator)
    aggregator.cancel_fetches()
    assert aggregator.load_full_text(story_id) is None
    [feed] = aggregator.get_feeds()
    assert aggregator.fetch_full_texts([feed.id]) == 0
    assert aggregator.get_full_text(entry_id) is None  # still to be fetched
    assert server.requests_for("/articles/harbor") == []


def test_private_addresses_are_refused_unless_allowed(
    tmp_path: Path, make_aggregator: MakeAggregator, server: FeedServer
) -> None:
    server.route("/articles/harbor", Response(200, page("harbor"), HTML))
    # A local feed file (always allowed) whose entry links to a loopback page.
    feed = tmp_path / "local.xml"
    feed.write_bytes(rss([("h", "Harbor", server.url("/articles/harbor"), HARBOR_SUMMARY)]))
    refused = parse_config(f"feeds:\n  - url: {feed.as_uri()}\n    full_text: true\n", "x.yaml")
    aggregator = make_aggregator(refused, clock=FixedClock(NOW))
    aggregator.update_feeds(scheduled=False)
    story_id, entry_id = lead_of(aggregator)
    full_text = aggregator.get_full_text(entry_id)
    assert full_text is not None and not full_text.ok
    assert "address not allowed" in (full_text.error or "")
    assert server.requests_for("/articles/harbor") == []
    allowed = parse_config(
        "polling:\n  allow_private_networks: true\n"
        f"feeds:\n  - url: {feed.as_uri()}\n    full_text: true\n",
        "x.yaml",
    )
    aggregator.apply_config(allowed)
    loaded = aggregator.load_full_text(story_id)
    assert loaded is not None and loaded.ok and "410,000" in (loaded.html or "")


def test_an_oversized_article_page_is_refused(
    tmp_path: Path, make_aggregator: MakeAggregator, server: FeedServer
) -> None:
    padding = b"<!-- " + b"x" * (200 * 1024) + b" -->"
    server.route("/articles/harbor", Response(200, page("harbor") + padding, HTML))
    feed = rss([("h", "Harbor", server.url("/articles/harbor"), HARBOR_SUMMARY)])
    server.route("/feed.xml", FeedServer.feed(feed))
    text = config_text(server.url("/feed.xml"), polling="  max_body: 64KB\n")
    aggregator = open_aggregator(make_aggregator, text, tmp_path)
    summary = aggregator.update_feeds(scheduled=False)
    assert [o.status for o in summary.outcomes] == ["ok"]
    _, entry_id = lead_of(aggregator)
    full_text = aggregator.get_full_text(entry_id)
    assert full_text is not None and not full_text.ok
    assert "response body too large" in (full_text.error or "")
    assert "limit 65536 bytes" in (full_text.error or "")  # polling.max_body


# --- on demand, from the story page ----------------------------------------------------------


@pytest.fixture
def client(tmp_path: Path, server: FeedServer) -> Iterator[tuple[FlaskClient, Aggregator]]:
    text = config_text(harbor_site(server), full_text=False)
    (tmp_path / "feeds.yaml").write_text(text, encoding="utf-8")
    storage = open_storage(f"sqlite:///{tmp_path / 'news.db'}")
    aggregator = Aggregator(parse_config(text, str(tmp_path / "feeds.yaml")), storage)
    aggregator.sync_feeds()
    aggregator.update_feeds(scheduled=False)
    app = create_app(aggregator, test_config={"TESTING": True})
    yield app.test_client(), aggregator
    aggregator.close()


def csrf_token(html: str) -> str:
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert found
    return found.group(1)


def test_load_full_article_button_fetches_and_shows_it(
    client: tuple[FlaskClient, Aggregator], server: FeedServer
) -> None:
    web, aggregator = client
    story_id, _ = lead_of(aggregator)
    before = web.get(f"/s/{story_id}", environ_base=LOCAL).get_data(as_text=True)
    assert f'action="/s/{story_id}/full-text"' in before and "Load full article" in before
    assert HARBOR_SUMMARY in before and "410,000" not in before
    # Without the CSRF token nothing is fetched.
    refused = web.post(f"/s/{story_id}/full-text", environ_base=LOCAL)
    assert refused.status_code == 400
    assert server.requests_for("/articles/harbor") == []
    answer = web.post(
        f"/s/{story_id}/full-text", data={"csrf_token": csrf_token(before)}, environ_base=LOCAL
    )
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/s/{story_id}")
    after = web.get(f"/s/{story_id}", environ_base=LOCAL).get_data(as_text=True)
    assert "410,000 cubic yards" in after and "Fishermen had worried" in after
    assert "beachbum77" not in after and "onmouseover" not in after
    assert len(server.requests_for("/articles/harbor")) == 1


def test_load_full_article_says_why_it_failed(
    client: tuple[FlaskClient, Aggregator], server: FeedServer
) -> None:
    web, aggregator = client
    server.route("/articles/harbor", Response(200, page("empty"), HTML))
    story_id, _ = lead_of(aggregator)
    html = web.get(f"/s/{story_id}", environ_base=LOCAL).get_data(as_text=True)
    answer = web.post(
        f"/s/{story_id}/full-text",
        data={"csrf_token": csrf_token(html)},
        headers={"Accept": "application/json"},
        environ_base=LOCAL,
    )
    assert answer.status_code == 200
    assert answer.get_json()["status"] == "failed"
    after = web.get(f"/s/{story_id}", environ_base=LOCAL).get_data(as_text=True)
    assert "could not be loaded" in after
    assert HARBOR_SUMMARY in after
    missing = web.post(
        "/s/9999/full-text", data={"csrf_token": csrf_token(html)}, environ_base=LOCAL
    )
    assert missing.status_code == 404


def test_load_full_article_is_refused_to_who_may_not_change_state(
    client: tuple[FlaskClient, Aggregator], server: FeedServer
) -> None:
    web, aggregator = client
    story_id, _ = lead_of(aggregator)
    remote = {"REMOTE_ADDR": "192.0.2.7"}  # no accounts yet: only this machine may
    html = web.get(f"/s/{story_id}", environ_base=LOCAL).get_data(as_text=True)
    answer = web.post(
        f"/s/{story_id}/full-text", data={"csrf_token": csrf_token(html)}, environ_base=remote
    )
    assert answer.status_code in (401, 403)
    assert server.requests_for("/articles/harbor") == []


# --- migration 11 ----------------------------------------------------------------------------


def test_migration_11_adds_full_text_and_hidden_columns(
    db_url: str, tmp_path: Path, server: FeedServer
) -> None:
    text = config_text(harbor_site(server))
    config = parse_config(text, str(tmp_path / "feeds.yaml"))
    with Aggregator(config, open_storage(db_url), clock=FixedClock(NOW)) as before:
        before.sync_feeds()
        before.update_feeds(scheduled=False)
        story_id, entry_id = lead_of(before)
    storage = open_storage(db_url)
    with storage.write() as conn:  # a database from before migration 11, with a story
        for column in ("full_text_html", "full_text_status", "full_text_error", "full_text_at"):
            conn.exec_driver_sql(f"ALTER TABLE entries DROP COLUMN {column}")
        conn.exec_driver_sql("ALTER TABLE entries DROP COLUMN hidden")
        conn.exec_driver_sql("ALTER TABLE story_sections DROP COLUMN hidden")
        conn.exec_driver_sql("DELETE FROM schema_migrations WHERE version = 11")
    storage.close()
    with Aggregator(config, open_storage(db_url), clock=FixedClock(NOW)) as upgraded:
        with upgraded._storage.read() as conn:
            versions = {
                row[0] for row in conn.exec_driver_sql("SELECT version FROM schema_migrations")
            }
            hidden = conn.exec_driver_sql("SELECT hidden FROM entries").scalars().all()
        assert 11 in versions and hidden == [False]
        # The story is listed as before; its article can be fetched and kept again.
        assert lead_of(upgraded) == (story_id, entry_id)
        assert upgraded.get_full_text(entry_id) is None
        loaded = upgraded.load_full_text(story_id)
        assert loaded is not None and loaded.ok
        assert [item.story.id for item in upgraded.search("oyster").stories] == [story_id]


@settings(max_examples=60, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=2000),
        st.text(max_size=2000).map(lambda text: text.encode("utf-8", "surrogatepass")),
        st.lists(
            st.sampled_from(
                [
                    "<html>",
                    "<body>",
                    "<article>",
                    "<p>",
                    "</p>",
                    "<script>",
                    "</script>",
                    "<div class='comments'>",
                    "</div>",
                    "<nav>",
                    "<!--",
                    "-->",
                    "<![CDATA[",
                    "&amp;",
                    "&#0;",
                    "\x00",
                    "<img src=x onerror=alert(1)>",
                    "word " * 40,
                    "<meta charset='x-unknown'>",
                    "<?xml version='1.0'?>",
                    "<table><tr><td>",
                ]
            ),
            max_size=40,
        ).map(lambda parts: "".join(parts).encode("utf-8")),
    )
)
def test_extraction_of_hostile_pages_raises_only_parse_errors(body: bytes) -> None:
    try:
        extracted = extract_article(body, "https://news.example/article")
    except ParseError:
        return
    assert isinstance(extracted, str) and extracted
