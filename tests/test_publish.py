"""The merged feeds as documents (aggregator.publish, no HTTP, no database).

Every output is checked the way a subscriber's software would take it: well-formed
XML (lxml), no feedparser bozo, the Atom RELAX NG schema when the shared material
is present (and a structural check of our own that always runs), JSON Feed 1.1
against tests/data/jsonfeed-1.1.schema.json. The check_* helpers are shared with
the other test_publish_* modules.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from aggregator.config import Config, FeedConfig, OutputConfig, SectionConfig, SiteConfig
from aggregator.errors import InvalidCursorError
from aggregator.publish import (
    ALL_KEY,
    FORMATS,
    TITLE_LIMIT,
    FeedDocument,
    Output,
    changed_outputs,
    collect_page,
    decode_page_token,
    encode_page_token,
    http_url,
    outputs_of,
    plain_line,
    render_feed,
    render_opml,
    render_outputs_opml,
    story_id_uri,
    story_matches,
    version_keys_of,
    xml_safe,
)
from aggregator.storage import ALL_SECTIONS
from aggregator.types import Enclosure, EntryView, FeedState, StoryCursor, StoryPage, StoryView
from tests.conftest import require_shared, shared_dir

DATA = Path(__file__).resolve().parent / "data"
ATOM = "{http://www.w3.org/2005/Atom}"
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SITE = SiteConfig(
    title="Newsroom",
    base_url="https://news.example.org",
    icon="https://news.example.org/icon.png",
    websub_hub="https://hub.example.net/",
)
LABELS = {"us-news": "US News", "us-military": "US Military", "world": "World"}
ALL = Output(name="all", title="Newsroom", subtitle="Every story on Newsroom, newest first")

# --- building stories ------------------------------------------------------------------------


def entry_view(entry_id: int, **fields: Any) -> EntryView:
    """An EntryView with plausible defaults; any field can be given."""
    feed_id = fields.pop("feed_id", entry_id)
    values: dict[str, Any] = {
        "id": entry_id,
        "story_id": 1,
        "feed_id": feed_id,
        "feed_title": f"Outlet {feed_id}",
        "feed_url": f"https://outlet{feed_id}.example/feed.xml",
        "feed_site_url": f"https://outlet{feed_id}.example/",
        "guid": f"guid-{entry_id}",
        "link": f"https://outlet{feed_id}.example/story/{entry_id}",
        "title": f"Navy ship {entry_id} leaves port",
        "summary_html": f"<p>Summary {entry_id}.</p>",
        "content_html": f"<p>Full text {entry_id}.</p>",
        "summary_text": f"Summary {entry_id}.",
        "author": "Pat Reporter",
        "published": NOW,
        "updated": None,
        "first_seen_at": NOW,
        "changed_at": NOW,
        "sort_at": NOW,
        "tags": (),
        "enclosures": (),
        "sections": ("us-news",),
    }
    values.update(fields)
    return EntryView(**values)


def story_view(story_id: int, lead: EntryView, *others: EntryView, **fields: Any) -> StoryView:
    reports = (lead, *others)
    values: dict[str, Any] = {
        "id": story_id,
        "sort_at": lead.sort_at,
        "changed_at": max(entry.changed_at for entry in reports),
        "lead": replace(lead, story_id=story_id),
        "others": tuple(replace(other, story_id=story_id) for other in others),
        "sections": tuple(sorted({s for entry in reports for s in entry.sections})),
    }
    values.update(fields)
    return StoryView(**values)


def simple_story(story_id: int, minutes_ago: int = 0, **fields: Any) -> StoryView:
    at = NOW - timedelta(minutes=minutes_ago)
    return story_view(
        story_id, entry_view(story_id * 10, sort_at=at, first_seen_at=at, published=at, **fields)
    )


def document(stories: list[StoryView] | tuple[StoryView, ...], **fields: Any) -> FeedDocument:
    values: dict[str, Any] = {
        "output": ALL,
        "site": SITE,
        "stories": tuple(stories),
        "section_labels": LABELS,
    }
    values.update(fields)
    return FeedDocument(**values)


# --- checking outputs (shared with the other test_publish_* modules) -------------------------

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def parse_xml(body: bytes) -> Any:
    """The root element; raises lxml.etree.XMLSyntaxError unless well-formed."""
    return etree.fromstring(body, _PARSER)


@functools.cache
def atom_schema() -> etree.RelaxNG | None:
    base = shared_dir()
    path = base / "schemas" / "atom.rng" if base else None
    return etree.RelaxNG(etree.parse(str(path))) if path and path.is_file() else None


@functools.cache
def jsonfeed_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((DATA / "jsonfeed-1.1.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


def _absolute_http(url: str | None) -> bool:
    return http_url(url) == url and url is not None


def check_atom_structure(root: Any) -> None:
    """RFC 4287 rules a schema cannot express well, checked on every Atom output."""
    assert root.tag == f"{ATOM}feed"
    for name in ("id", "title", "updated"):
        assert len(root.findall(f"{ATOM}{name}")) == 1, name
    assert _RFC3339.fullmatch(root.findtext(f"{ATOM}updated"))
    selfs = [link for link in root.findall(f"{ATOM}link") if link.get("rel") == "self"]
    assert len(selfs) == 1 and _absolute_http(selfs[0].get("href"))
    feed_author = root.find(f"{ATOM}author") is not None
    ids = set()
    for entry in root.findall(f"{ATOM}entry"):
        for name in ("id", "title", "updated"):
            assert len(entry.findall(f"{ATOM}{name}")) == 1, name
        entry_id = entry.findtext(f"{ATOM}id")
        assert entry_id and entry_id not in ids
        ids.add(entry_id)
        for name in ("updated", "published"):
            value = entry.findtext(f"{ATOM}{name}")
            assert value is None or _RFC3339.fullmatch(value), value
        links = entry.findall(f"{ATOM}link")
        assert sum(1 for link in links if link.get("rel", "alternate") == "alternate") <= 1
        assert all(link.get("rel") for link in links)
        assert all(_absolute_http(link.get("href")) for link in links)
        assert feed_author or entry.find(f"{ATOM}author") is not None
        content = entry.find(f"{ATOM}content")
        assert content is not None or any(link.get("rel") == "alternate" for link in links)
        source = entry.find(f"{ATOM}source")
        if source is not None:
            assert source.findtext(f"{ATOM}id") and source.findtext(f"{ATOM}title")


def check_atom(body: bytes) -> Any:
    root = parse_xml(body)
    check_atom_structure(root)
    schema = atom_schema()
    if schema is not None:
        assert schema.validate(root), schema.error_log
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    return root


def check_rss(body: bytes) -> Any:
    root = parse_xml(body)
    assert root.tag == "rss" and root.get("version") == "2.0"
    channel = root.find("channel")
    for name in ("title", "link", "description"):
        assert channel.findtext(name) is not None, name
    for item in channel.findall("item"):
        assert item.findtext("title") or item.findtext("description")
        guid = item.find("guid")
        assert guid is not None and guid.get("isPermaLink") == "false"
        for enclosure in item.findall("enclosure"):
            assert _absolute_http(enclosure.get("url"))
            assert enclosure.get("type") and enclosure.get("length", "").isdigit()
        link = item.findtext("link")
        assert link is None or _absolute_http(link)
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "rss20"
    return root


def check_json(body: bytes) -> dict[str, Any]:
    feed = json.loads(body.decode("utf-8"))
    errors = sorted(jsonfeed_validator().iter_errors(feed), key=str)
    assert not errors, errors[0]
    assert len({item["id"] for item in feed["items"]}) == len(feed["items"])
    return feed  # type: ignore[no-any-return]


CHECKS: dict[str, Callable[[bytes], Any]] = {
    "atom": check_atom,
    "rss": check_rss,
    "json": check_json,
}


def check_output(fmt: str, body: bytes) -> Any:
    """Validate one output in its format; return the parsed root (or JSON object)."""
    return CHECKS[fmt](body)


def assert_harmless(fmt: str, body: bytes) -> None:
    """Nothing that could run script, however a reader decodes the escaped text."""
    text = body.decode("utf-8").lower()
    for needle in ("<script", "&lt;script", "&amp;lt;script", "\\u003cscript", "javascript:"):
        assert needle not in text, needle
    if fmt != "json":
        for entry in feedparser.parse(body).entries:
            for value in (entry.get("title", ""), entry.get("summary", "")):
                assert "<script" not in value.lower()


def entries_of(fmt: str, body: bytes) -> list[dict[str, Any]]:
    """The entries of an output as feedparser sees them (JSON: the items)."""
    if fmt == "json":
        return list(json.loads(body)["items"])
    return list(feedparser.parse(body).entries)


# --- outputs of a config ---------------------------------------------------------------------

CONFIG = Config(
    path="feeds.yaml",
    site=SITE,
    sections=(
        SectionConfig("US Military", "us-military"),
        SectionConfig("US News", "us-news"),
        SectionConfig("World", "world"),
    ),
    outputs=(
        OutputConfig(
            name="korea-watch",
            title="Korea Watch",
            sections=("US Military", "World"),
            include=("North Korea", "Pyongyang"),
            exclude=("K-pop",),
        ),
        OutputConfig(name="everything-but-sports", title="No Sports", exclude=("football",)),
    ),
)


def test_outputs_of_a_config() -> None:
    outputs = outputs_of(CONFIG)
    assert list(outputs) == [
        "all",
        "us-military",
        "us-news",
        "world",
        "korea-watch",
        "everything-but-sports",
    ]
    assert outputs["all"].version_keys == (ALL_KEY,) == (ALL_SECTIONS,)
    assert outputs["all"].reader_path == "/"
    military = outputs["us-military"]
    assert (military.title, military.sections, military.reader_path) == (
        "Newsroom: US Military",
        ("us-military",),
        "/c/us-military",
    )
    korea = outputs["korea-watch"]
    assert korea.sections == ("us-military", "world") == korea.version_keys
    assert korea.is_filtered and not military.is_filtered
    assert outputs["everything-but-sports"].version_keys == (ALL_KEY,)
    assert version_keys_of(CONFIG) == ("*", "us-military", "us-news", "world")


def test_changed_outputs_follow_section_versions() -> None:
    before = {"*": (3, NOW), "us-news": (2, NOW)}
    after = {"*": (4, NOW), "us-news": (2, NOW), "world": (1, NOW)}
    names = [output.name for output in changed_outputs(CONFIG, before, after)]
    assert names == ["all", "world", "korea-watch", "everything-but-sports"]
    assert changed_outputs(CONFIG, after, after) == []


@pytest.mark.parametrize(
    ("include", "exclude", "title", "summary", "expected"),
    [
        ((), (), "Anything", "", True),
        (("North Korea",), (), "North Korea fires missile", "", True),
        (("North Korea",), (), "north   KOREA fires missile", "", True),  # case, spacing
        (("North Korea",), (), "Northern Koreans", "", False),  # whole words only
        (("Pyongyang",), (), "Missile test", "Launched near Pyongyang.", True),  # summary
        (("Navy",), (), "Navya wins award", "", False),
        (("U.N.",), (), "The U.N. votes", "", True),  # punctuation inside a phrase
        ((), ("K-pop",), "K-pop band tours Seoul", "", False),
        (("Seoul",), ("K-pop",), "Seoul summit", "A k-pop star attended.", False),
    ],
)
def test_story_matches(
    include: tuple[str, ...], exclude: tuple[str, ...], title: str, summary: str, expected: bool
) -> None:
    output = replace(ALL, include=include, exclude=exclude)
    story = simple_story(1, title=title, summary_text=summary)
    assert story_matches(output, story) is expected


def test_story_matches_looks_at_every_report() -> None:
    lead = entry_view(1, title="Missile test", summary_text="")
    other = entry_view(2, title="Pyongyang launches missile", summary_text="")
    story = story_view(1, lead, other)
    assert story_matches(replace(ALL, include=("Pyongyang",)), story)
    assert not story_matches(replace(ALL, exclude=("Pyongyang",)), story)


# --- every format is valid -------------------------------------------------------------------


def _rich_story() -> StoryView:
    lead = entry_view(
        1,
        enclosures=(
            Enclosure("https://cdn.example/a.mp3", "audio/mpeg", 1234),
            Enclosure("https://cdn.example/b.jpg", None, None),
        ),
        sections=("us-military", "us-news"),
    )
    wire_copy = entry_view(2, sort_at=NOW, changed_at=NOW + timedelta(hours=2))
    no_link = entry_view(3, link=None, feed_site_url=None)
    return story_view(7, lead, wire_copy, no_link)


PAGES = {
    "empty": document([]),
    "one story": document([simple_story(1)]),
    "rich story": document([_rich_story(), simple_story(2, 30)]),
    "middle page": document(
        [simple_story(3, 60)],
        before="MTc5NjA0ODAwMDAwMDAwMDo5",
        next_before="MTc5NjA0NDQwMDAwMDAwMDoy",
    ),
    "plain site": document([simple_story(1)], site=SiteConfig()),
    "local feed": document([simple_story(1, feed_url="file:///srv/feeds/local.xml")]),
    "section": document(
        [simple_story(1)],
        output=Output(
            "us-news", "Newsroom: US News", "US News", ("us-news",), reader_path="/c/us-news"
        ),
    ),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_output_is_valid(fmt: str, page: str) -> None:
    body = render_feed(fmt, PAGES[page])
    check_output(fmt, body)
    assert_harmless(fmt, body)
    assert len(entries_of(fmt, body)) == len(PAGES[page].stories)


@pytest.mark.parametrize("page", sorted(PAGES))
def test_atom_validates_against_the_shared_relax_ng_schema(page: str) -> None:
    schema = etree.RelaxNG(etree.parse(str(require_shared("schemas/atom.rng"))))
    root = parse_xml(render_feed("atom", PAGES[page]))
    assert schema.validate(root), schema.error_log


def test_structural_check_catches_what_it_should() -> None:
    # The always-on check is only useful if it fails on a broken feed.
    root = parse_xml(render_feed("atom", PAGES["rich story"]))
    entry = root.find(f"{ATOM}entry")
    etree.SubElement(entry, f"{ATOM}link", rel="alternate", href="https://x.example/")
    with pytest.raises(AssertionError):
        check_atom_structure(root)
    root = parse_xml(render_feed("atom", PAGES["one story"]))
    root.remove(root.find(f"{ATOM}updated"))
    with pytest.raises(AssertionError):
        check_atom_structure(root)


def test_render_feed_refuses_unknown_formats() -> None:
    with pytest.raises(ValueError, match="unknown feed format"):
        render_feed("rdf", document([]))


# --- what an entry carries ---------------------------------------------------------------------


def test_atom_entry_carries_story_sources_and_categories() -> None:
    root = parse_xml(render_feed("atom", document([_rich_story()])))
    entry = root.find(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}id") == "tag:news.example.org,2026:/story/7"
    links = {(link.get("rel"), link.get("href")): link for link in entry.findall(f"{ATOM}link")}
    assert ("alternate", "https://outlet1.example/story/1") in links
    related = links[("related", "https://outlet2.example/story/2")]
    assert related.get("title") == "Outlet 2"
    enclosure = links[("enclosure", "https://cdn.example/a.mp3")]
    assert (enclosure.get("type"), enclosure.get("length")) == ("audio/mpeg", "1234")
    untyped = links[("enclosure", "https://cdn.example/b.jpg")]
    assert untyped.get("type") == "application/octet-stream" and untyped.get("length") is None
    source = entry.find(f"{ATOM}source")
    assert source.findtext(f"{ATOM}id") == "https://outlet1.example/feed.xml"
    assert source.findtext(f"{ATOM}title") == "Outlet 1"
    source_links = {link.get("rel"): link.get("href") for link in source.findall(f"{ATOM}link")}
    assert source_links == {
        "self": "https://outlet1.example/feed.xml",
        "alternate": "https://outlet1.example/",
    }
    content = entry.findtext(f"{ATOM}content")
    assert content.startswith("<p>Full text 1.</p>")
    assert '<a href="https://outlet2.example/story/2">Outlet 2</a>, Outlet 3.</p>' in content
    assert entry.findtext(f"{ATOM}summary") == "<p>Summary 1.</p>"
    categories = [(c.get("term"), c.get("label")) for c in entry.findall(f"{ATOM}category")]
    assert categories == [("us-military", "US Military"), ("us-news", "US News")]
    assert entry.findtext(f"{ATOM}author/{ATOM}name") == "Pat Reporter"
    assert entry.findtext(f"{ATOM}published") == NOW.isoformat()
    assert entry.findtext(f"{ATOM}updated") == (NOW + timedelta(hours=2)).isoformat()


def test_rss_item_carries_story_sources_and_categories() -> None:
    root = parse_xml(render_feed("rss", document([_rich_story()])))
    item = root.find("channel/item")
    assert item.findtext("guid") == "tag:news.example.org,2026:/story/7"
    assert item.findtext("link") == "https://outlet1.example/story/1"
    source = item.find("source")
    assert (source.get("url"), source.text) == ("https://outlet1.example/feed.xml", "Outlet 1")
    assert item.findtext("{http://purl.org/dc/elements/1.1/}creator") == "Pat Reporter"
    assert [c.text for c in item.findall("category")] == ["US Military", "US News"]
    encoded = item.findtext("{http://purl.org/rss/1.0/modules/content/}encoded")
    assert "Also reported by" in encoded and "Outlet 3" in encoded
    assert item.find("enclosure").get("url") == "https://cdn.example/a.mp3"
    parsed = feedparser.parse(render_feed("rss", document([_rich_story()]))).entries[0]
    assert parsed.source.href == "https://outlet1.example/feed.xml"


def test_json_item_carries_story_sources_and_categories() -> None:
    feed = check_json(render_feed("json", document([_rich_story()])))
    [item] = feed["items"]
    assert item["id"] == "tag:news.example.org,2026:/story/7"
    assert item["url"] == "https://outlet1.example/story/1"
    assert item["tags"] == ["US Military", "US News"]
    assert item["attachments"][0] == {
        "url": "https://cdn.example/a.mp3",
        "mime_type": "audio/mpeg",
        "size_in_bytes": 1234,
    }
    assert item["_aggregator"] == {
        "source": {
            "title": "Outlet 1",
            "id": "https://outlet1.example/feed.xml",
            "feed_url": "https://outlet1.example/feed.xml",
            "home_page_url": "https://outlet1.example/",
        },
        "also_reported_by": [
            {"feed_title": "Outlet 2", "url": "https://outlet2.example/story/2"},
            {"feed_title": "Outlet 3"},
        ],
    }


def test_entry_id_depends_only_on_site_and_story() -> None:
    first = simple_story(42, title="First headline")
    rewritten = simple_story(42, title="Changed headline", link="https://elsewhere.example/")
    for fmt in FORMATS:
        ids = {
            entries_of(fmt, render_feed(fmt, document([s])))[0]["id"] for s in (first, rewritten)
        }
        assert ids == {"tag:news.example.org,2026:/story/42"}
    with_path = SiteConfig(base_url="http://LocalHost:8000/reader")
    assert story_id_uri(with_path, 42) == "tag:localhost,2026:/reader/story/42"


def test_local_feeds_do_not_leak_server_paths() -> None:
    page = PAGES["local feed"]
    for fmt in FORMATS:
        body = render_feed(fmt, page)
        assert b"file:" not in body and b"/srv/feeds" not in body
    source = parse_xml(render_feed("atom", page)).find(f"{ATOM}entry/{ATOM}source")
    assert source.findtext(f"{ATOM}id") == "tag:news.example.org,2026:/source/10"
    # RSS items say where they came from too: the feed's site, or its page here.
    rss_source = parse_xml(render_feed("rss", page)).find("channel/item/source")
    assert rss_source is not None and rss_source.text
    assert rss_source.get("url", "").startswith(("https://", "http://"))


def test_feed_level_links_and_metadata() -> None:
    page = PAGES["middle page"]
    atom = parse_xml(render_feed("atom", page))
    links = {link.get("rel"): link.get("href") for link in atom.findall(f"{ATOM}link")}
    base = "https://news.example.org/feeds/all.atom"
    assert links == {
        "self": f"{base}?before=MTc5NjA0ODAwMDAwMDAwMDo5",
        "next": f"{base}?before=MTc5NjA0NDQwMDAwMDAwMDoy",
        "first": base,
        "alternate": "https://news.example.org/",
    }  # no hub: only the newest page is a WebSub topic
    assert atom.findtext(f"{ATOM}icon") == "https://news.example.org/icon.png"
    assert atom.findtext(f"{ATOM}generator") == "aggregator"
    rss = parse_xml(render_feed("rss", page))
    atom_links = {link.get("rel"): link.get("href") for link in rss.findall(f"channel/{ATOM}link")}
    assert (
        atom_links["next"]
        == "https://news.example.org/feeds/all.rss?before=MTc5NjA0NDQwMDAwMDAwMDoy"
    )
    json_feed = check_json(render_feed("json", page))
    assert json_feed["next_url"].endswith("/feeds/all.json?before=MTc5NjA0NDQwMDAwMDAwMDoy")
    assert "hubs" not in json_feed


def test_newest_page_advertises_the_hub() -> None:
    page = PAGES["one story"]
    atom = parse_xml(render_feed("atom", page))
    assert any(
        (link.get("rel"), link.get("href")) == ("hub", "https://hub.example.net/")
        for link in atom.findall(f"{ATOM}link")
    )
    rss = parse_xml(render_feed("rss", page))
    assert rss.find(f"channel/{ATOM}link[@rel='hub']").get("href") == "https://hub.example.net/"
    assert check_json(render_feed("json", page))["hubs"] == [
        {"type": "WebSub", "url": "https://hub.example.net/"}
    ]
    assert b'rel="hub"' not in render_feed("atom", PAGES["plain site"])


def test_section_output_links_to_its_reader_page() -> None:
    page = PAGES["section"]
    atom = parse_xml(render_feed("atom", page))
    alternate = atom.find(f"{ATOM}link[@rel='alternate']").get("href")
    assert alternate == "https://news.example.org/c/us-news"
    assert atom.findtext(f"{ATOM}title") == "Newsroom: US News"
    assert check_json(render_feed("json", page))["home_page_url"] == alternate


def test_unchanged_page_renders_to_the_same_bytes() -> None:
    for fmt in FORMATS:
        assert render_feed(fmt, PAGES["rich story"]) == render_feed(fmt, PAGES["rich story"])


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_kept_renderings_give_the_same_bytes_and_follow_changes(fmt: str) -> None:
    stories = [_rich_story(), simple_story(2, 30), simple_story(3, 60)]
    renderings: dict[Any, bytes] = {}
    cold = render_feed(fmt, document(stories), renderings)
    assert len(renderings) == 3
    assert (
        render_feed(fmt, document(stories), renderings)
        == cold
        == render_feed(fmt, document(stories))
    )
    # Another output or page reuses the same entries.
    render_feed(fmt, document(stories[1:], output=PAGES["section"].output), renderings)
    assert len(renderings) == 3
    # A story that changed (storage moves changed_at with every change of an entry),
    # or a new site title or section name, is rendered again.
    later = stories[1].lead.changed_at + timedelta(minutes=1)
    changed = replace(
        stories[1],
        lead=replace(stories[1].lead, title="Corrected headline", changed_at=later),
        changed_at=later,
    )
    body = render_feed(fmt, document([stories[0], changed, stories[2]]), renderings)
    assert b"Corrected headline" in body and len(renderings) == 4
    relabeled = render_feed(
        fmt, document(stories, section_labels={"us-news": "Nation"}), renderings
    )
    assert b"Nation" in relabeled and len(renderings) == 7
    check_output(fmt, body)
    # Items rendered one by one use the document's namespace prefixes.
    assert b"ns0:" not in body and body.count(b"xmlns") == (3 if fmt == "rss" else 1)


# --- hostile items ---------------------------------------------------------------------------

HOSTILE = {
    "control characters": {
        "title": "Bad\x00 \x01title\x0b\x1f\ufffe\uffff\ud800 here",
        "summary_html": "<p>nul\x00 and \x08 backspace</p>",
        "content_html": "<p>form\x0cfeed \x1b escape</p>",
        "summary_text": "nul\x00",
        "author": "Ev\x07e",
        "feed_title": "Feed\x02 name",
    },
    "CDATA end": {
        "title": "Ends ]]> early",
        "content_html": "<p>]]></p><![CDATA[x]]>",
        "summary_html": "]]>",
        "author": "]]>",
    },
    "markup in plain text": {
        "title": "</title><script>alert(1)</script><title>",
        "author": "<script>alert(2)</script>Eve",
        "feed_title": "</source><script>alert(3)</script>",
        "summary_text": "<script>alert(4)</script>",
    },
    "javascript links": {
        "link": "javascript:alert(1)",
        "feed_url": "javascript:alert(2)",
        "feed_site_url": "JaVaScRiPt:alert(3)",
        "enclosures": (
            Enclosure("javascript:alert(4)", "audio/mpeg", 1),
            Enclosure("data:text/html,<script>alert(5)</script>", "text/html", 1),
            Enclosure("https://ok.example/a.mp3", "audio/mpeg\x00<script>", -5),
        ),
    },
    "megabyte title": {"title": "A" * 1_000_000, "feed_title": "F" * 1_000_000},
    "empty everything": {
        "title": "",
        "summary_html": "",
        "content_html": "",
        "summary_text": "",
        "author": None,
        "link": None,
        "feed_site_url": None,
    },
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_item_never_breaks_an_output(fmt: str, case: str) -> None:
    fields = dict(HOSTILE[case])
    lead = entry_view(1, **fields)
    other = entry_view(2, **{k: v for k, v in fields.items() if k != "enclosures"})
    page = document([story_view(1, lead, other), simple_story(2, 5)])
    body = render_feed(fmt, page)
    check_output(fmt, body)
    assert_harmless(fmt, body)
    entries = entries_of(fmt, body)
    assert len(entries) == 2  # the hostile story is still published, beside its neighbour
    title = entries[0]["title"]
    assert 0 < len(title) <= TITLE_LIMIT
    assert len(body) < 100_000  # a megabyte title does not become a megabyte feed


def test_hostile_links_are_dropped_not_rewritten() -> None:
    lead = entry_view(1, **HOSTILE["javascript links"])
    body = render_feed("atom", document([story_view(1, lead)]))
    entry = parse_xml(body).find(f"{ATOM}entry")
    hrefs = [link.get("href") for link in entry.iter(f"{ATOM}link")]
    assert hrefs == ["https://ok.example/a.mp3"]  # the one safe enclosure
    # A declared type that is not type/subtype is replaced, not repaired.
    assert entry.find(f"{ATOM}link").get("type") == "application/octet-stream"


# --- small pure helpers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Plain   title\n", "Plain title"),
        ("a <b>bold</b> move", "a bold move"),
        ("x < y and y > z", "x < y and y > z"),  # not tag-shaped: kept
        ("<!-- c --> kept", "kept"),
        ("\x00\x01", ""),
        (None, ""),
    ],
)
def test_plain_line(text: str | None, expected: str) -> None:
    assert plain_line(text, 100) == expected


def test_plain_line_cuts_at_a_word() -> None:
    assert plain_line("word " * 100, 20) == "word word word word…"
    assert plain_line("x" * 50, 20) == "x" * 19 + "…"


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://example.org/a?b=c#d", True),
        ("HTTP://EXAMPLE.ORG", True),
        ("http://[2001:db8::1]:8080/x", True),
        ("javascript:alert(1)", False),
        ("data:text/html,hi", False),
        ("//example.org/x", False),
        ("http://", False),
        ("https://exa mple.org/", False),
        ("https://example.org/\x00", False),
        ("ftp://example.org/", False),
        ("", False),
        (None, False),
    ],
)
def test_http_url(url: str | None, safe: bool) -> None:
    assert http_url(url) == (url if safe else None)


_XML_CHAR = re.compile("[\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]*")


@given(st.text(max_size=300), st.integers(min_value=2, max_value=200))
def test_plain_line_is_always_safe(text: str, limit: int) -> None:
    line = plain_line(text, limit)
    assert len(line) <= limit
    assert _XML_CHAR.fullmatch(line)
    assert not re.search(r"</?[A-Za-z!?][^<>]*>", line)
    assert line == line.strip()
    assert _XML_CHAR.fullmatch(xml_safe(text))


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    title=st.text(max_size=200),
    html=st.text(max_size=200),
    author=st.none() | st.text(max_size=50),
    feed_title=st.text(max_size=50),
    link=st.none() | st.text(max_size=50),
)
def test_any_text_gives_valid_outputs(
    title: str, html: str, author: str | None, feed_title: str, link: str | None
) -> None:
    lead = entry_view(
        1,
        title=title,
        content_html=html,
        summary_html=html,
        summary_text=title,
        author=author,
        feed_title=feed_title,
        link=link,
    )
    other = entry_view(2, feed_title=feed_title, link=link, title=title)
    page = document([story_view(1, lead, other)])
    for fmt in FORMATS:
        body = render_feed(fmt, page)
        root = parse_xml(body) if fmt != "json" else check_json(body)
        assert root is not None
        if fmt != "json":
            assert feedparser.parse(body).bozo == 0


# --- cursors and paging ----------------------------------------------------------------------


@given(
    st.datetimes(
        min_value=datetime(1970, 1, 1), max_value=datetime(9999, 1, 1), timezones=st.just(UTC)
    ),
    st.integers(min_value=0, max_value=2**62),
)
def test_cursor_round_trip(at: datetime, story_id: int) -> None:
    cursor = StoryCursor(at, story_id)
    token = encode_page_token(cursor)
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert decode_page_token(token) == cursor


@pytest.mark.parametrize(
    "token",
    [
        "",
        "!!!",
        "a" * 65,
        "bm90IGEgY3Vyc29y",
        "MTc5NjA0ODAwMDAwMDAwMDo5=",
        "MTc5NjA0ODAwMDAwMDAwMDo5a",
    ],
)
def test_invalid_cursors(token: str) -> None:
    with pytest.raises(InvalidCursorError):
        decode_page_token(token)


def fake_fetch(stories: list[StoryView]) -> Callable[[StoryCursor | None, int], StoryPage]:
    """list_stories over a list (newest first), keyset-paged like storage."""
    ordered = sorted(stories, key=lambda s: (s.sort_at, s.id), reverse=True)

    def fetch(before: StoryCursor | None, limit: int) -> StoryPage:
        older = [
            s
            for s in ordered
            if before is None or (s.sort_at, s.id) < (before.sort_at, before.story_id)
        ]
        page = older[:limit]
        more = len(older) > limit
        cursor = StoryCursor(page[-1].sort_at, page[-1].id) if more and page else None
        return StoryPage(tuple(page), cursor)

    return fetch


def walk(
    output: Output, fetch: Callable[[StoryCursor | None, int], StoryPage], page_size: int, **kw: Any
) -> list[list[int]]:
    pages, cursor = [], None
    for _ in range(10_000):
        page = collect_page(output, fetch, page_size=page_size, before=cursor, **kw)
        pages.append([story.id for story in page.stories])
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor
    raise AssertionError("paging never ended")


@settings(max_examples=60, deadline=None)
@given(
    marks=st.lists(st.booleans(), max_size=60),
    same_time=st.booleans(),
    page_size=st.integers(min_value=1, max_value=12),
    max_scanned=st.integers(min_value=1, max_value=40),
)
def test_paging_walks_every_matching_story_once(
    marks: list[bool], same_time: bool, page_size: int, max_scanned: int
) -> None:
    stories = [
        simple_story(n + 1, 0 if same_time else n // 3, title="Pyongyang" if m else "Other")
        for n, m in enumerate(marks)
    ]
    fetch = fake_fetch(stories)
    newest_first = [s.id for s in sorted(stories, key=lambda s: (s.sort_at, s.id), reverse=True)]
    plain = walk(ALL, fetch, page_size)
    assert [i for page in plain for i in page] == newest_first
    assert all(len(page) == page_size for page in plain[:-1])
    filtered = replace(ALL, include=("Pyongyang",))
    pages = walk(filtered, fetch, page_size, max_scanned=max_scanned)
    expected = [i for i in newest_first if marks[i - 1]]
    assert [i for page in pages for i in page] == expected
    assert all(len(page) <= page_size for page in pages)


def test_filtered_page_is_filled_from_several_batches() -> None:
    stories = [simple_story(n, n, title="Pyongyang" if n % 10 == 0 else "x") for n in range(1, 101)]
    calls: list[int] = []
    fetch = fake_fetch(stories)

    def counting(before: StoryCursor | None, limit: int) -> StoryPage:
        calls.append(limit)
        return fetch(before, limit)

    page = collect_page(replace(ALL, include=("Pyongyang",)), counting, page_size=5)
    assert [s.id for s in page.stories] == [10, 20, 30, 40, 50]
    assert page.next_cursor == StoryCursor(page.stories[-1].sort_at, 50)
    assert calls == [6, 12, 24, 48]  # batches grow while matches are rare


# --- OPML --------------------------------------------------------------------------------------


def test_opml_groups_subscriptions_by_section() -> None:
    config = Config(
        path="feeds.yaml",
        site=SITE,
        sections=CONFIG.sections,
        feeds=(
            FeedConfig("https://a.example/rss", title="Alpha", section="US News"),
            FeedConfig("https://b.example/atom", section="US News"),
            FeedConfig("https://c.example/feed", section="World"),
            FeedConfig("https://d.example/feed"),
            FeedConfig("file:///srv/feeds/local.xml", title="Local"),
        ),
    )
    stored = FeedState(
        **{
            **{name: None for name in FeedState.__dataclass_fields__},
            "id": 2,
            "url": "https://b.example/atom",
            "active": True,
            "error_count": 0,
            "gone": False,
            "feed_title": "Bravo </title>\x01",
            "site_url": "https://b.example/",
        }
    )
    root = parse_xml(render_opml(config, [stored]))
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "Newsroom: subscriptions"
    groups = {
        group.get("text"): [(o.get("text"), o.get("xmlUrl"), o.get("htmlUrl")) for o in group]
        for group in root.find("body")
    }
    assert groups == {
        "US News": [
            ("Alpha", "https://a.example/rss", None),
            ("Bravo", "https://b.example/atom", "https://b.example/"),
        ],
        "World": [("https://c.example/feed", "https://c.example/feed", None)],
        # A local file is a subscription too: listed by its path on this server.
        "Other feeds": [
            ("https://d.example/feed", "https://d.example/feed", None),
            ("Local", "/srv/feeds/local.xml", None),
        ],
    }
    assert all(o.get("type") == "rss" for o in root.iter("outline") if o.get("xmlUrl"))


def test_outputs_opml_lists_every_merged_feed() -> None:
    config = Config(
        path="feeds.yaml",
        site=SITE,
        sections=CONFIG.sections,
        outputs=(OutputConfig(name="korea-watch", title="Korea Watch"),),
    )
    root = parse_xml(render_outputs_opml(config, outputs_of(config).values()))
    assert root.findtext("head/title") == "Newsroom: merged feeds"
    listed = [(o.get("text"), o.get("xmlUrl"), o.get("htmlUrl")) for o in root.find("body")]
    base = SITE.base_url
    assert listed[0] == ("Newsroom", f"{base}/feeds/all.atom", f"{base}/")
    assert (f"{base}/feeds/korea-watch.atom") in [url for _, url, _ in listed]
    assert len(listed) == 2 + len(CONFIG.sections)
    assert all(url.startswith(f"{base}/feeds/") for _, url, _ in listed)
