"""parse.py: feed bytes to FeedData, with hand-written feeds in tests/data/parse/."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.errors import ParseError
from aggregator.parse import parse_feed
from aggregator.types import Enclosure, FeedData
from tests.safety import assert_clean_feed

DATA = Path(__file__).parent / "data" / "parse"
FEED_URL = "https://wire.example/feeds/main.xml"


def parse_fixture(name: str, headers: dict[str, str] | None = None) -> FeedData:
    return parse_feed((DATA / name).read_bytes(), url=FEED_URL, headers=headers)


def lookup(feed: FeedData, path: str) -> Any:
    """Follow a dotted path such as "entries.0.link" through the dataclasses."""
    value: Any = feed
    for part in path.split("."):
        value = value[int(part)] if part.isdigit() else getattr(value, part)
    return value


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


FIELDS = [
    # RSS 2.0: relative links, guid isPermaLink=false, categories, enclosures, hints.
    ("rss20.xml", "title", "Example Wire & Co"),
    ("rss20.xml", "link", "https://wire.example/"),
    ("rss20.xml", "subtitle", "News from the example desk"),
    ("rss20.xml", "ttl_minutes", 45),
    ("rss20.xml", "skip_hours", (0, 3)),
    ("rss20.xml", "skip_days", ("Saturday", "Sunday")),
    ("rss20.xml", "update_period", "hourly"),
    ("rss20.xml", "update_frequency", 2),
    ("rss20.xml", "warning", None),
    ("rss20.xml", "entries.0.guid", "wire-2024-0001"),
    ("rss20.xml", "entries.0.link", "https://wire.example/2024/06/navy-missile"),
    ("rss20.xml", "entries.0.title", "Navy tests a new missile"),
    ("rss20.xml", "entries.0.summary_html", "The <b>Navy</b> said on Monday..."),
    (
        "rss20.xml",
        "entries.0.content_html",
        '<p>The <b>Navy</b> said on Monday that <a href="/more">more</a> tests follow.</p>',
    ),
    ("rss20.xml", "entries.0.author", "Jane Reporter"),
    ("rss20.xml", "entries.0.published", utc(2024, 6, 3, 12, 30)),
    ("rss20.xml", "entries.0.updated", None),
    ("rss20.xml", "entries.0.tags", ("US Military", "Navy")),
    (
        "rss20.xml",
        "entries.0.enclosures",
        (
            Enclosure("https://wire.example/media/missile.jpg", "image/jpeg", 12345),
            Enclosure("https://cdn.example/clip.mp4", "video/mp4", None),
        ),
    ),
    ("rss20.xml", "entries.1.link", None),  # javascript: link dropped
    ("rss20.xml", "entries.1.guid", "https://wire.example/2024/06/second"),
    ("rss20.xml", "entries.1.content_html", ""),  # same as the summary
    ("rss20.xml", "entries.1.published", None),  # "not a date"
    # Atom 1.0: html/xhtml titles, xml:base, text summary, xhtml content, rel=enclosure.
    ("atom10.xml", "title", "The Daily & Weekly"),
    ("atom10.xml", "subtitle", "Notes and links"),
    ("atom10.xml", "link", "https://blog.example/"),
    ("atom10.xml", "entries.0.title", "Hello xhtml title"),
    ("atom10.xml", "entries.0.link", "https://blog.example/archive/2024/hello.html"),
    (
        "atom10.xml",
        "entries.0.summary_html",
        "Plain &lt;summary&gt; with an ampersand &amp; such",
    ),
    # Relative URLs inside HTML are left for sanitize_html to resolve.
    (
        "atom10.xml",
        "entries.0.content_html",
        '<p>Body with <a href="rel/link.html">a relative link</a>.</p>',
    ),
    ("atom10.xml", "entries.0.author", "Sam Writer"),
    ("atom10.xml", "entries.0.published", utc(2024, 6, 4, 15, 0)),
    ("atom10.xml", "entries.0.updated", utc(2024, 6, 4, 23, 2, 3)),
    ("atom10.xml", "entries.0.tags", ("politics", "Fallback Label")),
    (
        "atom10.xml",
        "entries.0.enclosures",
        (Enclosure("https://blog.example/archive/audio/hello.mp3", "audio/mpeg", 999),),
    ),
    ("atom10.xml", "entries.1.summary_html", ""),  # no summary of its own
    ("atom10.xml", "entries.1.content_html", "<p>Only <b>content</b></p>"),
    # RSS 1.0 (RDF) with Dublin Core.
    ("rss10.xml", "title", "RDF Site"),
    ("rss10.xml", "entries.0.guid", "https://rdf.example/a"),
    ("rss10.xml", "entries.0.link", "https://rdf.example/a"),
    ("rss10.xml", "entries.0.tags", ("Science",)),
    ("rss10.xml", "entries.0.author", "Ada"),
    ("rss10.xml", "entries.0.updated", utc(2024, 5, 1, 11, 0)),
    ("rss10.xml", "entries.0.summary_html", "RDF description"),
    # JSON Feed 1.1.
    ("jsonfeed11.json", "title", "JSON Desk"),
    ("jsonfeed11.json", "link", "https://json.example/"),
    ("jsonfeed11.json", "subtitle", "A JSON Feed"),
    ("jsonfeed11.json", "entries.0.guid", "item-1"),
    ("jsonfeed11.json", "entries.0.link", "https://wire.example/posts/1"),
    ("jsonfeed11.json", "entries.0.summary_html", "Short &amp; sweet"),
    ("jsonfeed11.json", "entries.0.content_html", "<p>Hello <script>alert(1)</script></p>"),
    ("jsonfeed11.json", "entries.0.author", "Ann, Bo"),
    ("jsonfeed11.json", "entries.0.published", utc(2024, 6, 1, 13, 30)),
    ("jsonfeed11.json", "entries.0.updated", utc(2024, 6, 2)),
    ("jsonfeed11.json", "entries.0.tags", ("World", "Tech")),
    (
        "jsonfeed11.json",
        "entries.0.enclosures",
        (Enclosure("https://json.example/a.mp3", "audio/mpeg", 2048),),
    ),
    ("jsonfeed11.json", "entries.1.guid", "42"),
    ("jsonfeed11.json", "entries.1.link", "https://elsewhere.example/story"),
    (
        "jsonfeed11.json",
        "entries.1.content_html",
        "<p>Line one<br>line two</p><p>Second &lt;paragraph&gt;</p>",
    ),
    ("jsonfeed11.json", "entries.1.author", "Desk Editor"),  # the feed's authors
    ("jsonfeed11.json", "entries.1.published", None),  # "yesterday"
    ("jsonfeed11.json", "entries.2.link", None),  # javascript: url dropped
    ("jsonfeed11.json", "entries.2.title", ""),  # a list, not a string
    ("jsonfeed11.json", "entries.2.tags", ()),
    # XML-illegal control characters are removed from every text field.
    ("control_chars.xml", "title", "Bell and tab title"),
    ("control_chars.xml", "entries.0.title", "Item with NUL"),
    ("control_chars.xml", "entries.0.summary_html", "Body text  here"),
    ("control_chars.xml", "entries.0.author", "Editor"),
    ("control_chars.xml", "entries.0.tags", ("Tag",)),
    ("control_chars.xml", "warning", "not well-formed (invalid token) (line 2, column 39)"),
]


@pytest.mark.parametrize(("fixture", "path", "expected"), FIELDS)
def test_fixture_field(fixture: str, path: str, expected: object) -> None:
    assert lookup(parse_fixture(fixture), path) == expected


@pytest.mark.parametrize(
    ("fixture", "count"),
    [("rss20.xml", 2), ("atom10.xml", 2), ("rss10.xml", 1), ("jsonfeed11.json", 3)],
)
def test_fixture_entry_count(fixture: str, count: int) -> None:
    assert len(parse_fixture(fixture).entries) == count


NOT_FEEDS = [
    (b"", None, "not a feed: the document is empty"),
    (b"  \n ", None, "not a feed: the document is empty"),
    (b"just some words", None, "not a feed: no element found"),
    (b"<root><child/></root>", None, "not a feed: no RSS, Atom or RDF document element"),
    (b"/etc/passwd", None, "not a feed"),  # a path is data, never opened
    (b'{"title": "no version"}', None, "not a feed: JSON without a jsonfeed.org version"),
    (b"[1, 2]", {"Content-Type": "application/json"}, "not a feed: JSON without"),
    (b'{"version": ', None, "unable to parse feed: JSONDecodeError"),
    (b"[" * 100_000, {"Content-Type": "application/feed+json"}, "unable to parse feed:"),
    (
        b'<rss version="2.0"><channel><title>&#x110000;</title></channel></rss>',
        None,
        "unable to parse feed: ValueError",
    ),
    (
        b'<rss version="2.0"><channel><title>&#99999999999999999999;</title></channel></rss>',
        None,
        "unable to parse feed: OverflowError",
    ),
    (  # a feedparser bug: a stray </width> end tag in the loose parser
        b"<rss><channel><image><title>x</title><eight>1</height></image></channel></rss",
        None,
        "unable to parse feed: TypeError",
    ),
]


@pytest.mark.parametrize(("body", "headers", "message"), NOT_FEEDS)
def test_not_a_feed_raises_parse_error(
    body: bytes, headers: dict[str, str] | None, message: str
) -> None:
    with pytest.raises(ParseError) as caught:
        parse_feed(body, url=FEED_URL, headers=headers)
    assert str(caught.value).startswith(message)
    assert caught.value.url == FEED_URL


def test_lone_surrogate_reference_raises_parse_error() -> None:
    with pytest.raises(ParseError, match=r"unable to parse feed: UnicodeEncodeError"):
        parse_fixture("surrogate_charref.xml")


def test_html_page_raises_parse_error_with_reason() -> None:
    with pytest.raises(ParseError, match=r"^not a feed: this address is a web page \(HTML\)"):
        parse_fixture("html_page.html", {"Content-Type": "text/html; charset=utf-8"})
    # Whatever the server calls it.
    with pytest.raises(ParseError, match="finds the feed the page links to"):
        parse_fixture("html_page.html", {"Content-Type": "application/rss+xml"})


def test_feedparser_sanitizer_is_off() -> None:
    """Raw HTML comes through untouched: sanitize.py cleans it once, later."""
    body = b"""<rss version="2.0"><channel><title>t</title><item><title>x</title>
    <description>&lt;p onclick="x()"&gt;hi&lt;script&gt;alert(1)&lt;/script&gt;&lt;/p&gt;
    </description></item></channel></rss>"""
    entry = parse_feed(body, url=FEED_URL).entries[0]
    assert entry.summary_html == '<p onclick="x()">hi<script>alert(1)</script></p>'


def rss_with_link(link: str) -> bytes:
    return (
        '<rss version="2.0"><channel><title>t</title>'
        f"<item><title>x</title><link>{link}</link></item></channel></rss>"
    ).encode()


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("javascript:alert(1)", None),
        ("&#106;avascript:alert(1)", None),
        ("java&#x09;script:alert(1)", None),
        ("JavaScript:alert(1)", None),
        ("vbscript:msgbox(1)", None),
        ("data:text/html,x", None),
        ("mailto:desk@wire.example", None),
        ("  https://ok.example/a  ", "https://ok.example/a"),
        ("//cdn.example/x", "https://cdn.example/x"),
        ("../other", "https://wire.example/other"),
    ],
)
def test_entry_links_are_absolute_http(link: str, expected: str | None) -> None:
    assert parse_feed(rss_with_link(link), url=FEED_URL).entries[0].link == expected


def test_unsafe_xml_base_is_ignored() -> None:
    body = b"""<feed xmlns="http://www.w3.org/2005/Atom" xml:base="javascript:alert(1)//">
    <title>t</title><entry><title>x</title><link href="a/b"/>
    <link rel="enclosure" href="data:audio/mpeg,xx"/></entry></feed>"""
    entry = parse_feed(body, url=FEED_URL).entries[0]
    assert (entry.link, entry.enclosures) == ("https://wire.example/feeds/a/b", ())


def test_json_feed_text_is_cleaned() -> None:
    body = rb"""{"version": "https://jsonfeed.org/version/1.1", "title": "A\u0000B\ud800C",
    "items": [{"id": "1", "title": "x\u0001y", "content_html": "<p>\ufffe</p>",
    "tags": ["\u0000", " Tech "]}]}"""
    feed = parse_feed(body, url=FEED_URL)
    entry = feed.entries[0]
    assert (feed.title, entry.title, entry.content_html, entry.tags) == (
        "ABC",
        "xy",
        "<p></p>",
        ("Tech",),
    )


def test_category_flood_is_capped() -> None:
    """feedparser deduplicates categories in quadratic time; past 100 they are ignored."""
    categories = b"".join(b"<category>c%d</category>" % i for i in range(10_000))
    body = b'<rss version="2.0"><channel><title>t</title><item><title>x</title>%s</item>' % (
        categories
    )
    tags = parse_feed(body + b"</channel></rss>", url=FEED_URL).entries[0].tags
    assert tags == tuple(f"c{i}" for i in range(100))


# --- entity expansion attacks --------------------------------------------------------


def parse_measured(body: bytes) -> tuple[FeedData, int]:
    """Return the parsed feed and the peak memory traced while parsing it, in bytes."""
    tracemalloc.start()
    try:
        feed = parse_feed(body, url=FEED_URL)
        return feed, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def one_entity_bomb(encoding: str = "utf-8") -> bytes:
    """An ~80 KB feed defining one 1,000-character entity and referencing it 25,000 times.

    feedparser 6.0.14 keeps such "safe" entities; expanded, this made it use 1.46 GB.
    """
    value = "A" * 1000
    references = "&e;" * 25_000
    return (
        '<?xml version="1.0"?>\n'
        f'<!DOCTYPE rss [\n<!ENTITY e "{value}">\n]>\n'
        '<rss version="2.0"><channel><title>Bomb</title>'
        f"<item><title>x</title><description>{references}</description></item>"
        "</channel></rss>"
    ).encode(encoding)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param((DATA / "billion_laughs.xml").read_bytes(), id="billion-laughs"),
        pytest.param(one_entity_bomb(), id="one-entity-utf8"),
        pytest.param(one_entity_bomb("utf-16"), id="one-entity-utf16"),
        pytest.param(
            one_entity_bomb().replace(b"<!DOCTYPE", b"<!--\n<!DOCTYPE").replace(b"]>", b"]>\n-->"),
            id="doctype-hidden-in-comment",
        ),
        pytest.param(
            one_entity_bomb().replace(b"<!ENTITY", b"<!-- ]> \"' --><!ENTITY"),
            id="subset-with-tricky-comment",
        ),
    ],
)
def test_entity_definitions_are_not_expanded(body: bytes) -> None:
    feed, peak = parse_measured(body)
    expanded = sum(len(e.summary_html) + len(e.title) for e in feed.entries)
    assert expanded <= len(body)
    assert peak < 30 * 1024 * 1024, f"peak memory {peak / 1e6:.1f} MB"
    assert feed.warning and "undefined entity" in feed.warning


def test_doctype_stripping_keeps_line_numbers() -> None:
    body = (
        b'<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY e "x">\n]>\n'
        b"<rss>\n<channel>\n<title>&e;</title></channel></rss>"
    )
    assert parse_feed(body, url=FEED_URL).warning == "undefined entity (line 7, column 7)"


# --- encodings and headers ------------------------------------------------------------

SIMPLE = '<rss version="2.0"><channel><title>Caf\u00e9 \u2014 \u65b0\u805e</title></channel></rss>'


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (SIMPLE.encode("utf-8"), None),
        (SIMPLE.encode("utf-8"), {"Content-Type": "text/xml"}),  # no us-ascii default
        (b"\xef\xbb\xbf" + SIMPLE.encode("utf-8"), {"content-type": "application/rss+xml"}),
        (SIMPLE.encode("utf-16"), None),  # BOM, no encoding declaration
        (SIMPLE.encode("utf-16"), {"Content-Type": "application/xml; charset=iso-8859-1"}),
        (SIMPLE.encode("utf-32"), None),
        (
            ('<?xml version="1.0" encoding="utf-16le"?>' + SIMPLE).encode("utf-16-le"),
            None,
        ),
        (
            ('<?xml version="1.0" encoding="gb18030"?>' + SIMPLE).encode("gb18030"),
            None,
        ),
    ],
)
def test_encodings_are_detected_without_warning(
    body: bytes, headers: dict[str, str] | None
) -> None:
    feed = parse_feed(body, url=FEED_URL, headers=headers)
    assert (feed.title, feed.warning) == ("Café — 新聞", None)


def test_header_charset_is_honoured() -> None:
    body = '<rss version="2.0"><channel><title>Caf\u00e9 \u20ac</title></channel></rss>'
    headers = {"Content-Type": "application/rss+xml; charset=windows-1252"}
    feed = parse_feed(body.encode("windows-1252"), url=FEED_URL, headers=headers)
    assert feed.title == "Café €"


def test_bozo_feed_with_entries_carries_a_warning() -> None:
    body = b'<rss version="2.0"><channel><title>T</title><item><title>A &nbsp; B</title></item>'
    feed = parse_feed(body, url=FEED_URL)
    assert feed.entries[0].title == "A B"
    assert feed.warning is not None and len(feed.warning) <= 200


def test_json_feed_detected_by_content_type() -> None:
    body = b'  \n {"version": "https://jsonfeed.org/version/1", "title": "J", "items": []}'
    assert parse_feed(body, url=FEED_URL, headers={"Content-Type": "application/json"}).title == "J"


# --- properties ---------------------------------------------------------------------

_XML_FRAGMENTS = st.sampled_from(
    [
        *('<rss version="2.0">', "<channel>", "</channel>", "<item>", "</item>", "</rss>"),
        *('<feed xmlns="http://www.w3.org/2005/Atom">', "<entry>", "</entry>", "</feed>"),
        *("<title>", "</title>", "<link>", "</link>", "<description>", "</description>"),
        *('<content type="xhtml">', '<content type="html">', "</content>", "<summary>"),
        *('<link href="', '<enclosure url="', '" length="', '" type="', '"/>', "/>", ">"),
        *("<guid>", "</guid>", "<id>", "</id>", "<category>", '<category term="'),
        *("<pubDate>", "</pubDate>", "<updated>", "</updated>", "<ttl>", "</ttl>"),
        *("<skipHours><hour>", "</hour></skipHours>", "<image><width>", "</width>"),
        *("javascript:alert(1)", "https://ok.example/a", "/rel", "//host/x", "mailto:a@b"),
        *("&amp;", "&lt;", "&#106;", "&#0;", "&#xD800;", "&#x110000;", "&nbsp;", "&bogus;"),
        *("\x00", "\x01", "\x0b", "\ufffe", "\u00e9", "\u65b0", "text", " ", "\n", "<", "&"),
        *("<![CDATA[", "]]>", "<!--", "-->", "<!DOCTYPE rss [", '<!ENTITY e "x">', "]>"),
        *("<?xml version='1.0'?>", "Mon, 03 Jun 2024 14:30:00 GMT", "2024-13-45T99:00:00Z"),
        *('{"version": "https://jsonfeed.org/version/1.1", "items": [', "{", "}", "]"),
    ]
)
_FEEDISH = st.lists(_XML_FRAGMENTS, max_size=60).map(lambda parts: "".join(parts).encode())
_ENCODED = st.tuples(_FEEDISH, st.sampled_from(["utf-8", "utf-16", "latin-1"])).map(
    lambda pair: pair[0].decode().encode(pair[1], errors="replace")
)
_HEADERS = st.sampled_from(
    [None, {"Content-Type": "text/xml"}, {"Content-Type": "application/json"}, {"X": "y"}]
)


@settings(max_examples=300, deadline=None)
@given(body=st.one_of(_FEEDISH, _ENCODED, st.binary(max_size=300)), headers=_HEADERS)
def test_any_bytes_give_feed_data_or_parse_error(
    body: bytes, headers: dict[str, str] | None
) -> None:
    try:
        feed = parse_feed(body, url=FEED_URL, headers=headers)
    except ParseError:
        return
    assert_clean_feed(feed)
