"""A small newsroom for the reader's tests, filled through the real pipeline.

Feeds are served by a loopback FeedServer and polled with the real fetcher, parser,
sanitizer, deduplicator, categorizer and storage (tests/test_pipeline.py's poll_once):
a wire, another outlet reporting one of the wire's stories, a feed of hostile items,
and feeds that are gone (410), moved (301) and broken (500).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape

from aggregator.config import Config, FeedConfig, PollingConfig
from aggregator.core import Aggregator
from aggregator.storage import Storage
from tests.httpserver import FeedServer
from tests.test_pipeline import CATEGORIES

XSS_MARKER = "window.__xss=1"


@dataclass(frozen=True)
class Item:
    guid: str
    title: str
    age: timedelta = timedelta(hours=1)
    link: str | None = None
    description: str = ""  # HTML, escaped into the XML
    content: str = ""  # HTML, put in a CDATA section
    categories: tuple[str, ...] = ()
    author: str | None = None


@dataclass
class Site:
    """The served feeds and what the tests need to know about them.

    ``aggregator`` runs on the site's clock (``now``): the polls and the web app built
    on it (``create_app(site.aggregator)``) see the same time.
    """

    server: FeedServer
    storage: Storage
    config: Config
    now: datetime
    feeds: dict[str, str] = field(default_factory=dict)  # path -> feed URL
    aggregator: Aggregator = field(init=False)

    def __post_init__(self) -> None:
        self.aggregator = Aggregator(self.config, self.storage, clock=lambda: self.now)

    def poll(self, now: datetime | None = None) -> None:
        """Poll every feed once (as ``aggregator poll --all``), whatever its schedule."""
        self.now = now or self.now
        self.aggregator.sync_feeds()
        self.aggregator.update_feeds(scheduled=False)

    def close(self) -> None:
        self.aggregator.close()


def rss(title: str, items: list[Item], now: datetime) -> bytes:
    def item_xml(item: Item) -> str:
        parts = [
            f"<title>{escape(item.title)}</title>",
            f"<guid isPermaLink='false'>{escape(item.guid)}</guid>",
            f"<pubDate>{format_datetime(now - item.age, usegmt=True)}</pubDate>",
        ]
        if item.link:
            parts.append(f"<link>{escape(item.link)}</link>")
        if item.description:
            parts.append(f"<description>{escape(item.description)}</description>")
        if item.content:
            parts.append(f"<content:encoded><![CDATA[{item.content}]]></content:encoded>")
        if item.author:
            parts.append(f"<author>{escape(item.author)}</author>")
        parts.extend(f"<category>{escape(name)}</category>" for name in item.categories)
        return "<item>" + "".join(parts) + "</item>"

    body = "".join(item_xml(item) for item in items)
    return (
        '<?xml version="1.0"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>{escape(title)}</title><link>https://news.example/</link>{body}"
        "</channel></rss>"
    ).encode()


WIRE = [
    Item(
        "w1",
        "Navy commissions a new frigate",
        timedelta(hours=1),
        "https://news.example/frigate",
        "<p>The <b>frigate</b> joins the Atlantic fleet.</p>",
        categories=("U.S. News",),
        author="Pat Writer",
    ),
    Item(
        "w2",
        "Senate passes the budget",
        timedelta(hours=2),
        "https://news.example/budget",
        "<p>The vote was close.</p>",
        categories=("Us News",),
    ),
    Item("w3", "Calm weather ahead", timedelta(hours=3), "https://news.example/weather", "Sun."),
]
OTHER = [
    # Same article as w1 (tracking parameter folded away): "also reported by".
    Item(
        "o1",
        "Frigate joins the fleet",
        timedelta(minutes=50),
        "https://news.example/frigate?utm_source=other",
        "<p>Another outlet on the frigate.</p>",
    ),
    Item("o2", "Harbor reopens", timedelta(hours=4), "https://other.example/harbor", "Boats."),
]
HOSTILE = [
    Item(
        "x1",
        f"<script>{XSS_MARKER}</script>Hostile title",
        timedelta(minutes=30),
        "https://evil.example/x1",
        f'<img src=x onerror="{XSS_MARKER}"><svg onload="{XSS_MARKER}"><script>{XSS_MARKER}'
        f'</script></svg><a href="&#106;avascript:{XSS_MARKER}">entity link</a>'
        f'<a href="javascript&colon;{XSS_MARKER}">colon link</a>'
        f'<iframe src="javascript:{XSS_MARKER}"></iframe>'
        f"<math><mtext><table><mglyph><style><img src=x onerror={XSS_MARKER}>",
        content=(
            f"<svg><script>{XSS_MARKER}</script><a xlink:href='javascript:{XSS_MARKER}'>"
            f"<text>svg link</text></a></svg>"
            f'<p onclick="{XSS_MARKER}">para</p>'
            f'<a href="  java\tscript:{XSS_MARKER}">tab link</a>'
            f'<form action="javascript:{XSS_MARKER}"><button>go</button></form>'
            f'<div style="background:url(javascript:{XSS_MARKER})">styled</div>'
            f"<object data='javascript:{XSS_MARKER}'></object>"
            f'<img src="data:image/svg+xml,&lt;svg onload={XSS_MARKER}&gt;">'
        ),
        categories=(f"<script>{XSS_MARKER}</script>",),
        author=f'"><script>{XSS_MARKER}</script>',
    ),
    Item(
        "x2",
        '"><img src=x onerror=window.__xss=1>',
        timedelta(minutes=40),
        f"javascript:{XSS_MARKER}",
        f"&lt;script&gt;{XSS_MARKER}&lt;/script&gt; escaped text",
    ),
]
MOVED = [Item("m1", "From the moved feed", timedelta(hours=5), "https://moved.example/1", "x")]


def build_site(server: FeedServer, storage: Storage, now: datetime | None = None) -> Site:
    """Serve the newsroom's feeds, poll them once into ``storage`` and return the Site."""
    now = now or datetime.now(UTC).replace(microsecond=0)
    routes = {
        "/wire.xml": FeedServer.feed(rss("Wire", WIRE, now)),
        "/other.xml": FeedServer.feed(rss("Other Outlet", OTHER[1:], now)),
        "/hostile.xml": FeedServer.feed(rss("Hostile", HOSTILE, now)),
        "/gone.xml": FeedServer.status(410),
        "/moved.xml": FeedServer.redirect("/moved-here.xml", 301),
        "/moved-here.xml": FeedServer.feed(rss("Moved", MOVED, now)),
        "/broken.xml": FeedServer.status(500),
    }
    for path, route in routes.items():
        server.route(path, route)
    paths = ["/wire.xml", "/other.xml", "/hostile.xml", "/gone.xml", "/moved.xml", "/broken.xml"]
    config = Config(
        path="reader-test-feeds.yaml",
        polling=PollingConfig(
            allow_private_networks=True,
            timeout_seconds=5.0,
            connect_timeout_seconds=2.0,
            per_host=16,
            host_spacing_seconds=0,
        ),
        sections=CATEGORIES,
        feeds=tuple(FeedConfig(url=server.url(path)) for path in paths),
    )
    site = Site(server, storage, config, now, {path: server.url(path) for path in paths})
    site.poll()
    # The other outlet reports the wire's frigate story in a later poll, so the wire's
    # report leads the story whatever order the first poll stored the feeds in.
    serve_items(site, "/other.xml", "Other Outlet", OTHER, etag='"v2"')
    site.poll(now + timedelta(hours=1))
    return site


def serve_items(site: Site, path: str, title: str, items: list[Item], etag: str) -> None:
    """Replace what the feed at ``path`` serves (a new ETag, so the next poll sees it)."""
    site.server.route(path, FeedServer.feed(rss(title, items, site.now), etag=etag))
