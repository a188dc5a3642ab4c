"""Source feeds' site icons: found (the feed's image, else the site's <link rel=icon>,
else /favicon.ico) through the polling Fetcher on real loopback HTTP servers, stored
once, looked for again only after a week, served by the reader from our origin."""

from __future__ import annotations

import struct
import time
import zlib
from datetime import UTC, datetime, timedelta

import lxml.html

from aggregator.config import Config, FeedConfig, PollingConfig, SiteConfig
from aggregator.fetch import Fetcher, FetchLimits, find_icon, icon_links, image_type
from aggregator.storage import Storage, open_storage, schema
from aggregator.web import create_app
from tests.conftest import MakeAggregator
from tests.css import css
from tests.httpserver import FeedServer, Response

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def png(width: int = 16) -> bytes:
    """A real (tiny, grey) PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(width))
    header = struct.pack(">IIBBBBB", width, width, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


ICO = b"\x00\x00\x01\x00\x01\x00\x10\x10" + b"\x00" * 60
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def rss(site: str, image: str | None = None) -> bytes:
    picture = (
        f"<image><url>{image}</url><title>t</title><link>{site}</link></image>" if image else ""
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Outlet</title>'
        f"<link>{site}</link>{picture}<item><guid>a</guid><title>Hello</title></item>"
        "</channel></rss>"
    ).encode()


def config_for(server: FeedServer) -> Config:
    return Config(
        path="icons-test.yaml",
        site=SiteConfig(title="Icons"),
        polling=PollingConfig(allow_private_networks=True, timeout_seconds=5.0),
        feeds=(FeedConfig(url=server.url("/feed.xml")),),
    )


def test_the_feed_image_is_fetched_stored_and_served(
    make_aggregator: MakeAggregator, server: FeedServer, storage: Storage
) -> None:
    server.route("/feed.xml", FeedServer.feed(rss(server.url("/"), image="/logo.png")))
    server.route("/logo.png", Response(200, png(), {"Content-Type": "image/png"}))
    clock = [NOW]
    aggregator = make_aggregator(config_for(server), clock=lambda: clock[0])
    aggregator.update_feeds(scheduled=False)
    assert server.requests_for("/logo.png") == []  # never on the poll's path
    assert aggregator.refresh_icons() == 1
    [feed] = aggregator.get_feeds()
    icon = aggregator.feed_icon(feed.id)
    assert icon is not None and icon.body == png() and icon.content_type == "image/png"
    assert icon.source_url == server.url("/logo.png")
    versions = aggregator.feed_icon_versions()
    assert versions == {feed.id: icon.version}

    # Looked for again only after a week, whatever the polls in between.
    aggregator.update_feeds(scheduled=False)
    assert aggregator.refresh_icons() == 0
    clock[0] = NOW + timedelta(days=8)
    aggregator.update_feeds(scheduled=False)
    assert aggregator.refresh_icons() == 1
    assert len(server.requests_for("/logo.png")) == 2

    client = create_app(aggregator, test_config={"TESTING": True}).test_client()
    river = lxml.html.fromstring(client.get("/").get_data(as_text=True))
    [img] = css(river, "li.story img.icon")[:1]
    assert img.get("src") == f"/icons/{feed.id}?v={icon.version}" and img.get("alt") == ""
    served = client.get(img.get("src"))
    assert served.status_code == 200 and served.data == png()
    assert served.mimetype == "image/png"
    assert "immutable" in served.headers["Cache-Control"]
    assert "max-age=31536000" in served.headers["Cache-Control"]
    assert client.get("/icons/999").status_code == 404


def test_the_site_link_rel_icon_then_favicon_ico(
    make_aggregator: MakeAggregator, server: FeedServer
) -> None:
    site = server.url("/home")
    server.route("/feed.xml", FeedServer.feed(rss(site)))
    page = b'<html><head><link rel="shortcut icon" href="/static/i.png"></head><body></body></html>'
    server.route("/home", Response(200, page, {"Content-Type": "text/html"}))
    server.route("/static/i.png", Response(200, png(), {"Content-Type": "image/png"}))
    aggregator = make_aggregator(config_for(server), clock=lambda: NOW)
    aggregator.update_feeds(scheduled=False)
    aggregator.refresh_icons()
    [feed] = aggregator.get_feeds()
    found = aggregator.feed_icon(feed.id)
    assert found is not None and found.source_url == server.url("/static/i.png")

    # No <link rel=icon>: the site's /favicon.ico (told an icon by its bytes).
    fetcher = Fetcher(FetchLimits(allow_private_networks=True))
    server.route("/home", Response(200, b"<html><head></head></html>", {}))
    server.route("/favicon.ico", Response(200, ICO, {"Content-Type": "text/plain"}))
    icon = find_icon(fetcher, feed_icon=None, site_url=site)
    assert icon is not None and icon.content_type == "image/x-icon"
    assert icon.url == server.url("/favicon.ico")
    fetcher.close()


def test_no_icon_leaves_a_letter_badge_and_fails_nothing(
    make_aggregator: MakeAggregator, server: FeedServer
) -> None:
    server.route("/feed.xml", FeedServer.feed(rss(server.url("/"), image="/broken.png")))
    server.route("/broken.png", Response(500))
    server.route("/", Response(200, b'<link rel="icon" href="/evil.svg">', {}))
    server.route("/evil.svg", Response(200, SVG, {"Content-Type": "image/png"}))
    server.route("/favicon.ico", Response(404))
    aggregator = make_aggregator(config_for(server), clock=lambda: NOW)
    summary = aggregator.update_feeds(scheduled=False)
    assert [outcome.status for outcome in summary.outcomes] == ["ok"]
    assert aggregator.refresh_icons() == 1  # looked, found nothing usable, no exception
    [feed] = aggregator.get_feeds()
    icon = aggregator.feed_icon(feed.id)
    assert icon is not None and icon.body is None  # remembered: not asked again today
    assert aggregator.feed_icon_versions() == {}
    assert aggregator.refresh_icons() == 0
    client = create_app(aggregator, test_config={"TESTING": True}).test_client()
    river = lxml.html.fromstring(client.get("/").get_data(as_text=True))
    badge = css(river, "li.story .icon.letter")[0]
    assert badge.text_content() == "O" and badge.get("aria-hidden") == "true"
    assert not css(river, "img.icon")
    assert client.get(f"/icons/{feed.id}").status_code == 404


def test_a_slow_site_costs_a_run_its_budget_and_is_looked_at_again(
    make_aggregator: MakeAggregator, server: FeedServer
) -> None:
    """Lookups run a few at once and a run gives up at its budget: a site that hangs
    does not hold `aggregator poll` for its timeout, and is not recorded as having
    no icon (it is looked at next time), while the other feeds' icons are kept."""
    server.route("/slow/feed.xml", FeedServer.feed(rss(server.url("/slow/home"))))
    server.route("/slow/home", FeedServer.hang(30))
    for n in range(3):
        server.route(f"/f{n}.xml", FeedServer.feed(rss(server.url("/"), image=f"/i{n}.png")))
        server.route(f"/i{n}.png", Response(200, png(), {"Content-Type": "image/png"}))
    config = Config(
        path="icons-test.yaml",
        site=SiteConfig(title="Icons"),
        polling=PollingConfig(allow_private_networks=True, timeout_seconds=20.0),
        feeds=(
            FeedConfig(url=server.url("/slow/feed.xml")),
            *(FeedConfig(url=server.url(f"/f{n}.xml")) for n in range(3)),
        ),
    )
    aggregator = make_aggregator(config, clock=lambda: NOW)
    aggregator.update_feeds(scheduled=False)
    started = time.monotonic()
    assert aggregator.refresh_icons(budget_seconds=1.0) == 3
    assert time.monotonic() - started < 10  # not the slow site's 20 s timeout
    icons = {feed.url: aggregator.feed_icon(feed.id) for feed in aggregator.get_feeds()}
    assert icons.pop(server.url("/slow/feed.xml")) is None  # not recorded: asked again
    assert all(icon is not None and icon.body == png() for icon in icons.values())
    assert len(server.requests_for("/slow/home")) == 1


def test_icons_go_through_the_ssrf_guard_and_the_size_limit(server: FeedServer) -> None:
    server.route("/logo.png", Response(200, png(), {"Content-Type": "image/png"}))
    server.route("/huge.png", Response(200, png() + b"\x00" * 300_000, {}))
    guarded = Fetcher(FetchLimits(allow_private_networks=False))
    try:
        found = find_icon(guarded, feed_icon=server.url("/logo.png"), site_url=server.url("/"))
        assert found is None
        assert server.requests_for("/logo.png") == []  # refused before connecting
    finally:
        guarded.close()
    fetcher = Fetcher(FetchLimits(allow_private_networks=True))
    try:
        assert find_icon(fetcher, feed_icon=server.url("/huge.png"), site_url=None) is None
    finally:
        fetcher.close()


def test_icon_links_and_image_types() -> None:
    page = (
        b'<html><head><link rel="apple-touch-icon" href="/touch.png">'
        b'<link rel="ICON" href="img/a.png"><link rel="stylesheet" href="x.css">'
        b'<link rel="icon" href="javascript:alert(1)"></head></html>'
    )
    assert icon_links(page, "https://site.example/dir/") == [
        "https://site.example/dir/img/a.png",
        "https://site.example/touch.png",
    ]
    assert image_type(png()) == "image/png"
    assert image_type(ICO) == "image/x-icon"
    assert image_type(b"GIF89a...") == "image/gif"
    assert image_type(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert image_type(SVG) is None
    assert image_type(b"<html>") is None


def test_migration_10_adds_the_icons_table_to_an_older_database(db_url: str) -> None:
    storage = open_storage(db_url)
    with storage.write() as conn:  # a database from before migration 10
        conn.exec_driver_sql("DROP TABLE feed_icons")
        conn.exec_driver_sql("DELETE FROM schema_migrations WHERE version = 10")
    storage.close()
    upgraded = open_storage(db_url)
    try:
        with upgraded.read() as conn:
            versions = [row[0] for row in conn.execute(schema.schema_migrations.select())]
        assert 10 in versions
        config = Config(path="m.yaml", feeds=(FeedConfig(url="https://a.example/feed"),))
        upgraded.sync_feeds(config.feeds, NOW)
        [feed] = upgraded.list_feeds()
        upgraded.store_feed_icon(feed.id, fetched_at=NOW, content_type="image/png", body=png())
        upgraded.store_feed_icon(feed.id, fetched_at=NOW + timedelta(days=8))  # none found
        kept = upgraded.feed_icon(feed.id)
        assert kept is not None and kept.body == png()  # the picture found before stays
        assert kept.fetched_at == NOW + timedelta(days=8)
    finally:
        upgraded.close()
