"""The merged feeds over HTTP: caching, validators, gzip, errors, and hostile items
polled through the real pipeline. Each test runs on SQLite and, when configured,
PostgreSQL (the `storage` fixture)."""

from __future__ import annotations

import gzip
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.http import http_date, parse_date

from aggregator.config import (
    Config,
    FeedConfig,
    OutputConfig,
    PollingConfig,
    PublishConfig,
    SectionConfig,
    SiteConfig,
)
from aggregator.core import Aggregator
from aggregator.publish import FORMATS
from aggregator.storage import Storage
from aggregator.update import PollSummary
from aggregator.web import create_app
from aggregator.web.outputs import feed_cache
from tests.httpserver import FeedServer
from tests.test_publish import assert_harmless, check_output, entries_of, parse_xml

CATEGORIES = (
    SectionConfig("US Military", "us-military", keywords=("Navy",)),
    SectionConfig("US News", "us-news"),
    SectionConfig("World", "world"),
)
CONTENT_TYPES = {
    "atom": "application/atom+xml",
    "rss": "application/rss+xml",
    "json": "application/feed+json",
}


# --- serving feeds and polling them for real ---------------------------------------------------


def rss(items: list[dict[str, str]], title: str = "Wire") -> bytes:
    """An RSS 2.0 document; item values are inserted as given (tests pass hostile XML).

    Items link to https://<title>.example/<n> unless they say otherwise.
    """
    site = f"https://{title.lower()}.example"
    parts = [
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>',
        f"<title>{title}</title><link>{site}/</link><description>d</description>",
    ]
    for number, item in enumerate(items):
        published = format_datetime(datetime(2026, 11, 20, tzinfo=UTC) + timedelta(hours=number))
        parts.append(
            "<item>"
            f"<title>{item.get('title', f'Story {number}')}</title>"
            f"<link>{item.get('link', f'{site}/{number}')}</link>"
            f"<guid>{item.get('guid', f'{site}/{number}')}</guid>"
            f"<pubDate>{published}</pubDate>"
            f"<description>{item.get('description', f'Text of {title} {number}.')}</description>"
            f"{item.get('extra', '')}"
            "</item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode("utf-8")


def make_config(server: FeedServer, feeds: dict[str, str | None], **changes: Any) -> Config:
    """A config polling server paths (path -> default category) with a small page size."""
    config = Config(
        path="feeds.yaml",
        site=SiteConfig(title="Newsroom", base_url="https://news.example.org"),
        polling=PollingConfig(
            allow_private_networks=True, interval_seconds=600, host_spacing_seconds=0
        ),
        sections=CATEGORIES,
        feeds=tuple(
            FeedConfig(url=server.url(path), section=category) for path, category in feeds.items()
        ),
        publish=PublishConfig(page_size=5),
    )
    return replace(config, **changes)


def poll_now(config: Config, storage: Storage) -> PollSummary:
    """Poll every feed of the config once through the real pipeline; no feed may fail."""
    with Aggregator(config, storage) as aggregator:
        aggregator.sync_feeds()
        summary = aggregator.update_feeds(scheduled=False)
    failed = [outcome for outcome in summary.outcomes if outcome.status == "failed"]
    assert not failed, failed
    return summary


def serve(server: FeedServer, path: str, body: bytes, version: int = 1) -> None:
    server.route(path, FeedServer.feed(body, etag=f'"v{version}"', last_modified=None))


def app_for(config: Config, storage: Storage, versions_ttl: float = 0) -> Flask:
    """The app; by default it reads the section versions on every request, so a
    test sees a poll's changes at once."""
    settings = {"TESTING": True, "FEEDS_VERSIONS_TTL": versions_ttl}
    return create_app(Aggregator(config, storage), test_config=settings)


@pytest.fixture
def newsroom(server: FeedServer, storage: Storage) -> tuple[Config, Flask, FlaskClient]:
    """Two feeds (US News by default, World by default), polled once: 8 stories."""
    serve(server, "/news", rss([{"title": f"Town story {n}"} for n in range(5)]))
    serve(server, "/world", rss([{"title": f"Summit {n}"} for n in range(3)], "Globe"))
    config = make_config(server, {"/news": "US News", "/world": "World"})
    poll_now(config, storage)
    app = app_for(config, storage)
    return config, app, app.test_client()


# --- responses ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_is_served_valid(newsroom: Any, fmt: str) -> None:
    _config, _app, client = newsroom
    response = client.get(f"/feeds/all.{fmt}")
    assert response.status_code == 200
    assert response.mimetype == CONTENT_TYPES[fmt]
    assert response.mimetype_params == {"charset": "utf-8"}
    assert response.headers["Cache-Control"] == "public, max-age=600"
    assert response.headers["Vary"] == "Accept-Encoding"
    assert response.headers["ETag"].startswith('"') and "Content-Encoding" not in response.headers
    assert parse_date(response.headers["Last-Modified"]) is not None
    check_output(fmt, response.data)
    assert len(entries_of(fmt, response.data)) == 5  # page_size; 8 stories in all
    section = client.get(f"/feeds/world.{fmt}")
    assert section.status_code == 200
    assert len(entries_of(fmt, section.data)) == 3


def test_head_gives_headers_without_body(newsroom: Any) -> None:
    _config, _app, client = newsroom
    get, head = client.get("/feeds/all.atom"), client.head("/feeds/all.atom")
    assert head.status_code == 200 and head.data == b""
    assert head.headers["ETag"] == get.headers["ETag"]
    assert head.headers["Content-Length"] == str(len(get.data))


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/feeds/sports.atom", 404),  # no such category or output
        ("/feeds/all.xml", 404),  # no such format
        ("/feeds/US-News.atom", 404),  # slugs are lower-case
        ("/feeds/all.atom?before=nonsense!", 400),
        ("/feeds/all.json?before=MTc5NjA0ODAwMDAwMDAwMDo5=", 400),
        ("/feeds/all.rss?before=", 200),  # empty means the newest page
    ],
)
def test_unknown_outputs_and_bad_page_tokens(newsroom: Any, path: str, status: int) -> None:
    _config, _app, client = newsroom
    assert client.get(path).status_code == status


def test_opml(newsroom: Any) -> None:
    config, _app, client = newsroom
    response = client.get("/feeds.opml")
    assert response.status_code == 200 and response.mimetype == "text/x-opml"
    root = parse_xml(response.data)
    groups = {group.get("text"): [o.get("xmlUrl") for o in group] for group in root.find("body")}
    assert groups == {"US News": [config.feeds[0].url], "World": [config.feeds[1].url]}
    titles = [o.get("title") for o in root.iter("outline") if o.get("xmlUrl")]
    assert titles == ["Wire", "Globe"]  # the feeds' own titles, from storage
    again = client.get("/feeds.opml", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


# --- validators and the cache ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_304_with_if_none_match_and_no_rebuild(newsroom: Any, fmt: str) -> None:
    _config, app, client = newsroom
    first = client.get(f"/feeds/all.{fmt}")
    builds = feed_cache(app).builds
    etag = first.headers["ETag"]
    for header in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = client.get(f"/feeds/all.{fmt}", headers={"If-None-Match": header})
        assert again.status_code == 304, header
        assert again.data == b""
        assert again.headers["ETag"] == etag
        assert again.headers["Cache-Control"] == "public, max-age=600"
    assert client.get(f"/feeds/all.{fmt}", headers={"If-None-Match": '"x"'}).status_code == 200
    assert feed_cache(app).builds == builds  # answered from the kept rendering


def test_304_with_if_modified_since(newsroom: Any) -> None:
    _config, _app, client = newsroom
    first = client.get("/feeds/all.atom")
    last_modified = first.headers["Last-Modified"]
    assert (
        client.get("/feeds/all.atom", headers={"If-Modified-Since": last_modified}).status_code
        == 304
    )
    later = http_date(parse_date(last_modified) + timedelta(days=1))
    assert client.get("/feeds/all.atom", headers={"If-Modified-Since": later}).status_code == 304
    earlier = http_date(parse_date(last_modified) - timedelta(seconds=1))
    assert client.get("/feeds/all.atom", headers={"If-Modified-Since": earlier}).status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 §13.1.3).
    both = {"If-None-Match": '"stale"', "If-Modified-Since": last_modified}
    assert client.get("/feeds/all.atom", headers=both).status_code == 200


def test_etag_changes_only_when_the_output_does(
    server: FeedServer, storage: Storage, newsroom: Any
) -> None:
    config, app, client = newsroom
    paths = ["/feeds/all.atom", "/feeds/us-news.rss", "/feeds/world.json", "/feeds/world.atom"]

    def validators() -> dict[str, tuple[str, str]]:
        responses = {path: client.get(path) for path in paths}
        return {p: (r.headers["ETag"], r.headers["Last-Modified"]) for p, r in responses.items()}

    before = validators()
    builds = feed_cache(app).builds
    # A poll that finds nothing new: the feeds answer 304, or the same items again.
    poll_now(config, storage)
    serve(server, "/world", rss([{"title": f"Summit {n}"} for n in range(3)], "Globe"), 2)
    poll_now(config, storage)
    assert validators() == before
    assert feed_cache(app).builds == builds  # nothing was even rebuilt
    # A poll that adds a US News story changes everything showing it, and only that.
    serve(server, "/news", rss([{"title": f"Town story {n}"} for n in range(6)]), 2)
    poll_now(config, storage)
    after = validators()
    assert after["/feeds/all.atom"][0] != before["/feeds/all.atom"][0]
    assert after["/feeds/us-news.rss"][0] != before["/feeds/us-news.rss"][0]
    assert after["/feeds/world.json"] == before["/feeds/world.json"]
    assert after["/feeds/world.atom"] == before["/feeds/world.atom"]
    titles = [entry["title"] for entry in entries_of("atom", client.get("/feeds/all.atom").data)]
    assert "Town story 5" in titles
    # An older page whose stories did not change keeps its validators when rebuilt.
    assert parse_date(after["/feeds/all.atom"][1]) >= parse_date(before["/feeds/all.atom"][1])


def test_section_versions_are_trusted_for_a_moment(
    server: FeedServer, storage: Storage, newsroom: Any
) -> None:
    config, _app, _client = newsroom
    app = app_for(config, storage, versions_ttl=3600)
    client = app.test_client()
    first = client.get("/feeds/all.atom")
    serve(server, "/news", rss([{"title": f"Town story {n}"} for n in range(6)]), 2)
    poll_now(config, storage)
    assert client.get("/feeds/all.atom").headers["ETag"] == first.headers["ETag"]
    feed_cache(app).versions_ttl = 0  # the moment has passed
    assert client.get("/feeds/all.atom").headers["ETag"] != first.headers["ETag"]


def test_a_change_outside_the_page_keeps_its_validators(
    server: FeedServer, storage: Storage, newsroom: Any
) -> None:
    config, app, client = newsroom
    # The second page of "all" holds the oldest stories; a new story shifts pages, so
    # compare a filtered custom output whose content the new story does not touch.
    custom = OutputConfig(name="summits", title="Summits", include=("Summit",))
    app = app_for(replace(config, outputs=(custom,)), storage)
    client = app.test_client()
    first = client.get("/feeds/summits.atom")
    assert len(entries_of("atom", first.data)) == 3
    serve(server, "/news", rss([{"title": f"Town story {n}"} for n in range(6)]), 2)
    poll_now(config, storage)
    builds = feed_cache(app).builds
    again = client.get("/feeds/summits.atom")
    assert feed_cache(app).builds == builds + 1  # "*" changed, so it was rebuilt...
    assert again.headers["ETag"] == first.headers["ETag"]  # ...to the same bytes
    assert again.headers["Last-Modified"] == first.headers["Last-Modified"]


def test_gzip_when_asked(newsroom: Any) -> None:
    _config, _app, client = newsroom
    plain = client.get("/feeds/all.rss")
    zipped = client.get("/feeds/all.rss", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == plain.data
    assert zipped.headers["ETag"] == plain.headers["ETag"][:-1] + '-gz"'
    assert zipped.headers["Vary"] == "Accept-Encoding"
    again = client.get("/feeds/all.rss", headers={"Accept-Encoding": "gzip"})
    assert again.data == zipped.data  # the compressed body is kept, byte for byte
    not_modified = client.get(
        "/feeds/all.rss",
        headers={"Accept-Encoding": "gzip", "If-None-Match": zipped.headers["ETag"]},
    )
    assert not_modified.status_code == 304
    refused = client.get("/feeds/all.rss", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers and refused.data == plain.data


def test_max_age_follows_the_poll_interval(server: FeedServer, storage: Storage) -> None:
    serve(server, "/news", rss([{}]))
    for interval, max_age in ((120, 120), (30 * 60, 1800), (24 * 3600, 3600)):
        config = make_config(server, {"/news": None})
        config = replace(config, polling=replace(config.polling, interval_seconds=interval))
        client = app_for(config, storage).test_client()
        assert (
            client.get("/feeds/all.atom").headers["Cache-Control"] == f"public, max-age={max_age}"
        )


def test_websub_discovery_headers(server: FeedServer, storage: Storage, newsroom: Any) -> None:
    config, _app, _client = newsroom
    site = replace(config.site, websub_hub="https://hub.example.net/")
    client = app_for(replace(config, site=site), storage).test_client()
    response = client.get("/feeds/us-news.json")
    assert response.headers["Link"] == (
        '<https://hub.example.net/>; rel="hub", '
        '<https://news.example.org/feeds/us-news.json>; rel="self"'
    )
    assert entries_of("json", response.data)
    assert "Link" not in client.get(f"/feeds/all.atom?before={_second_page(client)}").headers


def _second_page(client: FlaskClient) -> str:
    root = parse_xml(client.get("/feeds/all.atom").data)
    link = root.find("{http://www.w3.org/2005/Atom}link[@rel='next']")
    return str(link.get("href").split("before=")[1])


def test_new_config_drops_kept_renderings(newsroom: Any) -> None:
    config, app, client = newsroom
    first = client.get("/feeds/all.atom")
    app.extensions["aggregator"].aggregator.apply_config(
        replace(config, site=replace(config.site, title="Renamed Newsroom"))
    )
    second = client.get("/feeds/all.atom")
    assert second.headers["ETag"] != first.headers["ETag"]
    assert b"<title>Renamed Newsroom</title>" in second.data


# --- hostile items, polled for real ------------------------------------------------------------

HOSTILE_ITEMS = [
    {"title": "Control \x01\x02 chars", "description": "bell \x07 and nul"},
    {"title": "Ends ]]&gt; early", "description": "<![CDATA[ ]]> ]]>"},
    {"title": "&lt;/title&gt;&lt;script&gt;alert(1)&lt;/script&gt;", "description": "x"},
    {
        "title": "Script in the body",
        "description": "&lt;p onclick='alert(1)'&gt;hi&lt;script&gt;alert(2)&lt;/script&gt;",
    },
    {"title": "JavaScript link", "link": "javascript:alert(1)", "guid": "js-link"},
    {
        "title": "JavaScript enclosure",
        "extra": '<enclosure url="javascript:alert(1)" type="audio/mpeg" length="1"/>'
        '<enclosure url="https://cdn.example/ok.mp3" type="audio/mpeg" length="2"/>',
    },
    {"title": "M" * 1_000_000},
]


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_items_polled_for_real_never_break_an_output(
    server: FeedServer, storage: Storage, fmt: str
) -> None:
    # XML-illegal characters make a document ill-formed, which feedparser recovers
    # from; the rest is well-formed hostility.
    body = rss(HOSTILE_ITEMS).replace(b"\x01\x02", b"&#1;&#2;")
    serve(server, "/hostile", body)
    config = make_config(server, {"/hostile": "US News"}, publish=PublishConfig(page_size=50))
    poll_now(config, storage)
    client = app_for(config, storage).test_client()
    for path in (f"/feeds/all.{fmt}", f"/feeds/us-news.{fmt}"):
        response = client.get(path)
        assert response.status_code == 200
        check_output(fmt, response.data)
        assert_harmless(fmt, response.data)
        entries = entries_of(fmt, response.data)
        assert len(entries) == len(HOSTILE_ITEMS)
        assert max(len(entry["title"]) for entry in entries) <= 300
