"""Reading OPML subscription lists (aggregator/parse/_opml.py): listparser's own test
files (their ``Eval:`` lines are the expected results), exports of five readers written
from their exporters, and files that are no OPML."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.errors import OpmlError
from aggregator.parse import OpmlDocument, parse_opml
from tests.conftest import require_shared

DATA = Path(__file__).resolve().parent / "data" / "opml"
EVAL = re.compile(r"^\s*Eval:\s*(.+?)\s*$", re.MULTILINE)
# What listparser reports that an importer has no use for: dates and owners of the list,
# "opportunities" (sites without a feed address, reported as skipped instead), whether
# the file was malformed (we read past it with a warning).
UNMODELLED = ("'bozo'", '"bozo"', "opportunities", "author", "created", "modified")


def listparser_result(document: OpmlDocument) -> dict[str, Any]:
    """The document in the shape of listparser's result, for the corpus's Eval lines."""
    meta: dict[str, Any] = {}
    if document.title:
        meta["title"] = document.title
    version = {"1.0": "opml1", "1.1": "opml1", "2.0": "opml2"}.get(document.version or "", "opml")
    return {
        "version": version,
        "meta": meta,
        "feeds": [
            {
                "url": feed.url,
                "title": feed.title or "",
                "categories": [list(path) for path in feed.categories],
                "tags": [path[0] for path in feed.categories if len(path) == 1],
            }
            for feed in document.feeds
        ],
        "lists": [{"url": item.url, "title": item.title or ""} for item in document.lists],
    }


def corpus_files() -> list[Path]:
    folder = require_shared("corpus/listparser")
    return sorted(folder.rglob("*.xml"))


def test_the_listparser_corpus() -> None:
    checked = refused = 0
    for path in corpus_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        relative = path.relative_to(
            path.parents[1] if path.parent.name != "listparser" else path.parent
        )
        is_opml = "<opml" in text or "malformed" in path.parts
        if not is_opml:  # FOAF/RDF reading lists and a stray namespace: a clear refusal
            with pytest.raises(OpmlError, match=r"^line \d+: not an OPML subscription list: "):
                parse_opml(path.read_bytes())
            refused += 1
            continue
        result = listparser_result(parse_opml(path.read_bytes()))
        for expression in EVAL.findall(text):
            if any(word in expression for word in UNMODELLED):
                continue
            assert eval(expression, {"result": result}), (str(relative), expression, result)
            checked += 1
    assert checked >= 100 and refused >= 20, (checked, refused)


def test_malformed_files_are_read_with_a_warning_naming_the_line() -> None:
    folder = require_shared("corpus/listparser/malformed")
    document = parse_opml((folder / "end-element-missing.xml").read_bytes())
    assert [feed.url for feed in document.feeds] == ["https://domain/feed"]
    assert document.warning is not None and document.warning.startswith("line ")
    both = parse_opml((folder / "concatenated-documents.xml").read_bytes())
    assert [feed.url for feed in both.feeds] == ["http://domain/feed1", "http://domain/feed2"]


# --- exports of other readers ------------------------------------------------------------


def read(name: str) -> OpmlDocument:
    return parse_opml((DATA / name).read_bytes())


def summary(document: OpmlDocument) -> list[tuple[str, str | None, str | None]]:
    return [(feed.url, feed.title, feed.section) for feed in document.feeds]


def test_miniflux() -> None:
    document = read("miniflux.opml")
    assert (document.title, document.version) == ("Miniflux", "2.0")
    assert summary(document) == [
        ("https://hnrss.org/frontpage", "Hacker News: Front Page", "All"),
        ("https://breakingdefense.com/feed/", "Breaking Defense", "Defense"),
        ("https://warontherocks.com/feed/", "War on the Rocks", "Defense"),
        (
            "https://feeds.arstechnica.com/arstechnica/index",
            "Ars Technica - All content",
            "Tech & Science",
        ),
        (
            "https://www.nasa.gov/news-release/feed/?utm_source=rss&utm_medium=feed",
            "NASA Breaking News",
            "Tech & Science",
        ),
    ]
    assert [feed.paused for feed in document.feeds] == [False, False, True, False, False]
    assert document.feeds[1].html_url == "https://breakingdefense.com"
    assert document.warning is None


def test_freshrss() -> None:
    document = read("freshrss.opml")
    assert summary(document) == [
        (
            "https://github.com/FreshRSS/FreshRSS/releases.atom",
            "FreshRSS releases",
            "Uncategorized",
        ),
        ("https://feeds.bbci.co.uk/news/world/rss.xml", "BBC News - World", "World"),
        (
            "https://www.lemonde.fr/international/rss_full.xml",
            "Le Monde.fr - International",
            "World",
        ),
        ("https://feeds.npr.org/1014/rss.xml", "NPR Topics: Politics", "Politics"),
    ]
    [scraped] = document.skipped
    assert scraped.startswith("line 14: 'Ministry press releases' is a web page read by scraping")


def test_feedly_lists_a_feed_twice() -> None:
    document = read("feedly.opml")
    assert document.version == "1.0"
    assert summary(document) == [
        ("https://news.usni.org/feed", "USNI News", "Military"),
        ("https://taskandpurpose.com/feed/", "Task & Purpose", "Military"),
        ("https://www.theverge.com/rss/index.xml", "The Verge", "Must read"),
        (
            "https://www.sciencedaily.com/rss/top/science.xml",
            "ScienceDaily - Top Science News",
            "Science",
        ),
    ]
    [duplicate] = document.duplicates
    assert (duplicate.url, duplicate.line, duplicate.section) == (
        "https://news.usni.org/feed",
        13,
        "Must read",
    )
    assert document.feeds[0].categories == (("Military",), ("Must read",))


def test_inoreader() -> None:
    document = read("inoreader.opml")
    assert document.title == "Subscriptions of Jane Roe from Inoreader [https://www.inoreader.com]"
    assert summary(document) == [
        ("https://2ality.com/feeds/posts.atom", "2ality", None),
        ("http://cdc.tencent.com/feed/", "腾讯CDC", None),
        ("https://rsshub.app/apnews/topics/us-news", "AP News: U.S. News", "News"),
        (
            "https://www.reutersagency.com/feed/?best-topics=world&post_type=best",
            "Reuters: World",
            "News",
        ),
        ("https://www.cbsnews.com/latest/rss/us", "CBS News", "News"),
    ]


def test_netnewswire() -> None:
    document = read("netnewswire.opml")
    assert (document.title, document.version) == ("On My Mac", "1.1")
    assert summary(document) == [
        ("https://daringfireball.net/feeds/main", "Daring Fireball", None),
        ("https://netnewswire.blog/feed.json", "NetNewsWire News", None),
        ("https://feedpress.me/sixcolors", "Six Colors", "Technology"),
        ("https://inessential.com/xml/rss.xml", None, "Technology"),
    ]
    assert document.feeds[3].html_url is None


# --- files that are no subscription list -------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "the file is empty"),
        (b"<!DOCTYPE html><html><body><p>Hi</p></body></html>", "its document element is <html>"),
        (
            b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>',
            "its document element is <rss>",
        ),
        (b"\x00\x01\x02 binary", "not an OPML subscription list"),
        (b"just some text\n", "not an OPML subscription list"),
    ],
)
def test_no_opml(data: bytes, message: str) -> None:
    with pytest.raises(OpmlError, match=re.escape(message)):
        parse_opml(data)


def test_a_truncated_file_is_read_up_to_where_it_stops() -> None:
    data = (DATA / "feedly.opml").read_bytes()[:620]
    document = parse_opml(data)
    assert [feed.url for feed in document.feeds] == [
        "https://news.usni.org/feed",
        "https://taskandpurpose.com/feed/",
    ]
    assert document.warning is not None and re.match(r"line \d+: ", document.warning)


def test_entities_are_never_expanded() -> None:
    data = (
        b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        b'<opml version="2.0"><body><outline text="&b;" xmlUrl="https://a.example/feed"/>'
        b"</body></opml>"
    )
    [feed] = parse_opml(data).feeds
    assert feed.url == "https://a.example/feed"
    assert "aaaaaaaaaa" not in (feed.title or "")


def test_deep_nesting_is_no_crash() -> None:
    data = (
        b'<opml version="2.0"><body>'
        + b'<outline text="x">' * 5000
        + b'<outline xmlUrl="https://a.example/feed"/>'
        + b"</outline>" * 5000
        + b"</body></opml>"
    )
    with contextlib.suppress(OpmlError):  # refused as too deep is as good as read
        parse_opml(data)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400) | st.text(max_size=300).map(str.encode))
def test_any_bytes_give_a_document_or_an_opml_error(data: bytes) -> None:
    with contextlib.suppress(OpmlError):
        parse_opml(b'<opml version="2.0"><body>' + data)
