"""The merged feeds: Atom and RSS 2.0 (via feedgen), JSON Feed 1.1 and OPML 2.0.

Pure: stories (StoryView), an output description and the site config in, bytes
out. The only importer of feedgen. Paging is keyset-based: a page ends with an
opaque ``before`` token naming the last story shown, and the next page holds the
stories strictly older than it (RFC 5005 §3 ``rel="next"``; JSON Feed ``next_url``).

Stored HTML is already sanitized; what this module still guards against is
anything that would break the XML or smuggle markup through a plain-text field:
XML-illegal characters are dropped everywhere, links and enclosures that are not
http(s) are left out, titles are capped, and tag-shaped text is removed from
plain-text fields because many feed readers render RSS titles as HTML.
"""

from __future__ import annotations

import base64
import binascii
import functools
import html
import json
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Hashable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem
from lxml import etree  # type: ignore[import-untyped]  # feedgen's XML library

from aggregator import __version__
from aggregator.errors import AggregatorError
from aggregator.models import (
    Config,
    FeedState,
    SiteConfig,
    StoryCursor,
    StoryPage,
    StoryView,
)

FORMATS = ("atom", "rss", "json")
CONTENT_TYPES = {
    "atom": "application/atom+xml",
    "rss": "application/rss+xml",
    "json": "application/feed+json",
    "opml": "text/x-opml",
}
# The section_versions key of "everything" (storage.entries.ALL_SECTIONS); kept
# here as a literal so this pure module does not import the storage package.
ALL_KEY = "*"
ALL_OUTPUT = "all"

TITLE_LIMIT = 300  # characters of an entry title; the rest becomes "…"
NAME_LIMIT = 200  # characters of an author or feed name
SUMMARY_TEXT_LIMIT = 500  # characters of a JSON Feed plain-text summary
# The date in tag: URIs (RFC 4151). Part of every entry id ever published:
# changing it would make every subscriber see every story again.
TAG_DATE = "2026"
# A filtered output looks at no more stories than this per page; a page cut short
# still links to the next one, so walking the pages still finds every match.
MAX_SCANNED_PER_PAGE = 5000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_GENERATOR = "aggregator"
_JSONFEED_VERSION = "https://jsonfeed.org/version/1.1"
_ATOM_NS = "http://www.w3.org/2005/Atom"
_DC_NS = "http://purl.org/dc/elements/1.1/"
# The namespaces feedgen and _FeedExtras declare on an RSS document's root.
_RSS_NAMESPACES = {
    "atom": _ATOM_NS,
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": _DC_NS,
}
_EXTENSION = "aggregator"  # the attribute feedgen gives our extension objects


class InvalidCursorError(AggregatorError):
    """A ``before`` token that this module did not produce."""

    default_message = "invalid page token"


# --- outputs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    """One merged feed: everything, one section, or a custom output from feeds.yaml."""

    name: str  # the URL name: /feeds/<name>.atom
    title: str
    subtitle: str
    sections: tuple[str, ...] = ()  # category slugs; () means every section
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    reader_path: str = "/"  # the reader page showing the same stories

    @property
    def version_keys(self) -> tuple[str, ...]:
        """The section_versions keys whose change may change this output."""
        return self.sections or (ALL_KEY,)

    @property
    def is_filtered(self) -> bool:
        return bool(self.include or self.exclude)


def outputs_of(config: Config) -> dict[str, Output]:
    """Return every published output of a config by name: "all", each category, each
    custom output (config validation keeps these names distinct)."""
    site = config.site.title
    outputs = {
        ALL_OUTPUT: Output(
            name=ALL_OUTPUT, title=site, subtitle=f"Every story on {site}, newest first"
        )
    }
    for category in config.categories:
        outputs[category.slug] = Output(
            name=category.slug,
            title=f"{site}: {category.name}",
            subtitle=f"{category.name} stories on {site}, newest first",
            sections=(category.slug,),
            reader_path=f"/c/{category.slug}",
        )
    slug_of = {category.name: category.slug for category in config.categories}
    for custom in config.outputs:
        outputs[custom.name] = Output(
            name=custom.name,
            title=f"{site}: {custom.title}",
            subtitle=custom.description or f"{custom.title} on {site}, newest first",
            sections=tuple(slug_of[name] for name in custom.categories if name in slug_of),
            include=custom.include,
            exclude=custom.exclude,
        )
    return outputs


def version_keys_of(config: Config) -> tuple[str, ...]:
    """Return every section_versions key some output of the config depends on."""
    keys = {key for output in outputs_of(config).values() for key in output.version_keys}
    return tuple(sorted(keys))


def changed_outputs(
    config: Config,
    before: Mapping[str, tuple[int, datetime]],
    after: Mapping[str, tuple[int, datetime]],
) -> list[Output]:
    """Return the outputs whose section versions differ between two snapshots."""
    changed = {key for key in set(before) | set(after) if before.get(key) != after.get(key)}
    return [
        output
        for output in outputs_of(config).values()
        if changed.intersection(output.version_keys)
    ]


@functools.lru_cache(maxsize=256)
def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    """Whole-word, case-insensitive matcher of any phrase; spacing inside a phrase is loose."""
    if not phrases:
        return None
    alternatives = sorted(
        (r"\s+".join(re.escape(word) for word in phrase.split()) for phrase in phrases),
        key=len,
        reverse=True,
    )
    return re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)", re.IGNORECASE)


def story_matches(output: Output, story: StoryView) -> bool:
    """Return whether a story belongs in a filtered output.

    The text looked at is the title and summary of every report of the story: it
    must contain one of the ``include`` phrases (when there are any) and none of
    the ``exclude`` phrases.
    """
    text = "\n".join(
        f"{entry.title}\n{entry.summary_text}" for entry in (story.lead, *story.others)
    )
    include = _phrase_pattern(output.include)
    if include is not None and not include.search(text):
        return False
    exclude = _phrase_pattern(output.exclude)
    return exclude is None or not exclude.search(text)


# --- paging ------------------------------------------------------------------------------

FetchStories = Callable[[StoryCursor | None, int], StoryPage]


@dataclass(frozen=True)
class Page:
    """The stories of one page of an output, and where the next page starts."""

    stories: tuple[StoryView, ...]
    next_cursor: StoryCursor | None  # None on the last page


def collect_page(
    output: Output,
    fetch: FetchStories,
    *,
    page_size: int,
    before: StoryCursor | None = None,
    max_scanned: int = MAX_SCANNED_PER_PAGE,
) -> Page:
    """Return one page of an output, asking ``fetch(cursor, limit)`` for stories.

    ``fetch`` returns stories newest first, already limited to the output's
    sections. For a filtered output, batches are fetched until the page is full;
    a story is never on two pages and no matching story is skipped. After
    ``max_scanned`` stories the page is returned short, linking to the rest.
    """
    if not output.is_filtered:
        found = fetch(before, page_size)
        return Page(found.stories, found.next_cursor)
    kept: list[StoryView] = []
    cursor, scanned, batch = before, 0, page_size + 1
    while True:
        found = fetch(cursor, batch)
        for story in found.stories:
            if story_matches(output, story):
                kept.append(story)
                if len(kept) > page_size:
                    last = kept[page_size - 1]
                    return Page(tuple(kept[:page_size]), StoryCursor(last.sort_at, last.id))
        scanned += len(found.stories)
        if found.next_cursor is None:
            return Page(tuple(kept), None)
        cursor = found.next_cursor
        if scanned >= max_scanned:
            return Page(tuple(kept), cursor)
        batch = min(batch * 2, 1000)  # a rare phrase needs long reads; grow them


def encode_cursor(cursor: StoryCursor) -> str:
    """Return the opaque ``before`` token of a page boundary (URL-safe)."""
    delta = cursor.sort_at - _EPOCH
    micros = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
    raw = f"{micros}:{cursor.story_id}".encode("ascii")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CURSOR_RE = re.compile(r"(-?[0-9]{1,19}):([0-9]{1,19})")


def decode_cursor(token: str) -> StoryCursor:
    """Return the page boundary a token names. Raises InvalidCursorError."""
    if not _TOKEN_RE.fullmatch(token):
        raise InvalidCursorError()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursorError() from None
    match = _CURSOR_RE.fullmatch(raw)
    if match is None:
        raise InvalidCursorError()
    try:
        cursor = StoryCursor(_EPOCH + timedelta(microseconds=int(match[1])), int(match[2]))
    except OverflowError:
        raise InvalidCursorError() from None
    # One token per boundary, so cached pages are not duplicated under other spellings.
    if encode_cursor(cursor) != token:
        raise InvalidCursorError()
    return cursor


# --- safe values -------------------------------------------------------------------------

# Everything XML 1.0 forbids (C0 controls but tab/LF/CR, lone surrogates, U+FFFE/FFFF);
# lxml refuses to serialize them and UTF-8 cannot encode lone surrogates.
_XML_ILLEGAL = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TAG_SHAPED = re.compile(r"</?[A-Za-z!?][^<>]*>")  # what an HTML parser takes for a tag
_WHITESPACE = re.compile(r"\s+")
# Anything plain_line would change: markup, XML-illegal characters, whitespace other
# than single inner spaces.
_NEEDS_CLEANING = re.compile("[<\x00-\x1f\ud800-\udfff\ufffe\uffff]" + r"|\s\s|[^\S ]|^\s|\s$")


def xml_safe(text: str) -> str:
    """Return text without the characters XML 1.0 does not allow."""
    return _XML_ILLEGAL.sub("", text)


def plain_line(text: str | None, limit: int) -> str:
    """Return plain text as one safe line of at most ``limit`` characters (ending "…"
    when cut): XML-illegal characters and tag-shaped sequences removed."""
    if not text:
        return ""
    if len(text) <= limit and not _NEEDS_CLEANING.search(text):
        return text  # the usual case: one scan instead of four
    # Cutting first keeps a megabyte title from costing a megabyte of regex work.
    line = _WHITESPACE.sub(" ", _TAG_SHAPED.sub("", xml_safe(text[: limit * 4]))).strip()
    if len(line) <= limit:
        return line
    cut = line[: limit - 1]
    space = cut.rfind(" ")
    if line[limit - 1] != " " and space > limit // 2:
        cut = cut[:space]  # end at a whole word, unless that loses too much
    return cut.rstrip() + "…"


# http(s)://, optional user info, a host name or [IPv6], optional port, then anything
# but whitespace.
_HTTP_URL = re.compile(
    r"https?://(?:[^\s/?#@]*@)?(?:[^\s/?#@:\[\]]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
    r"(?:[/?#]\S*)?",
    re.IGNORECASE,
)


@functools.lru_cache(maxsize=8192)  # feed and site URLs repeat on every page
def http_url(url: str | None) -> str | None:
    """Return url when it is an absolute http(s) URL safe to put in a feed, else None."""
    if not url or len(url) > 4096 or not _HTTP_URL.fullmatch(url) or _XML_ILLEGAL.search(url):
        return None
    return url


def _tag_base(site: SiteConfig) -> str:
    return _tag_base_of(site.base_url)


@functools.lru_cache(maxsize=16)
def _tag_base_of(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"tag:{(parts.hostname or 'localhost').lower()},{TAG_DATE}:{parts.path.rstrip('/')}"


def story_id_uri(site: SiteConfig, story_id: int) -> str:
    """Return the permanent id of a story's entry (a tag: URI from the site and story id)."""
    return f"{_tag_base(site)}/story/{story_id}"


def feed_url(site: SiteConfig, name: str, fmt: str, before: str | None = None) -> str:
    """Return the absolute URL of an output in a format, of one page when ``before``."""
    url = f"{site.base_url}/feeds/{name}.{fmt}"
    return f"{url}?before={before}" if before else url


# --- what every format shows of a story --------------------------------------------------


@dataclass(frozen=True)
class _Source:
    title: str
    feed_url: str | None  # http(s) only
    site_url: str | None  # http(s) only
    id: str


@dataclass(frozen=True)
class _Entry:
    id: str
    title: str
    link: str | None
    published: datetime
    updated: datetime
    author: str | None
    summary_html: str | None
    content_html: str
    summary_text: str
    categories: tuple[tuple[str, str], ...]  # (slug, label)
    enclosures: tuple[tuple[str, str, int | None], ...]  # (url, type, length)
    related: tuple[tuple[str, str], ...]  # (url, feed title): distinct links of others
    others: tuple[tuple[str, str | None], ...]  # (feed title, link) of every other report
    source: _Source


@functools.lru_cache(maxsize=1024)  # one per feed, shared by its stories
def _source(tag_base: str, feed_id: int, title: str, url: str, site_url: str | None) -> _Source:
    feed = http_url(url)
    return _Source(
        title=plain_line(title, NAME_LIMIT) or "Untitled feed",
        feed_url=feed,
        site_url=http_url(site_url),
        # Local (file:) feeds get an id of ours rather than exposing a server path.
        id=feed or f"{tag_base}/source/{feed_id}",
    )


_MIME_TYPE = re.compile(r"[A-Za-z0-9][\w!#$&^.+-]*/[A-Za-z0-9][\w!#$&^.+-]*")


def _mime_type(kind: str | None) -> str:
    """The type/subtype of a declared media type, or application/octet-stream."""
    bare = (kind or "").split(";", 1)[0].strip()
    return bare.lower() if _MIME_TYPE.fullmatch(bare) else "application/octet-stream"


def _also_reported(others: Sequence[tuple[str, str | None]]) -> str:
    reports = [
        f'<a href="{html.escape(link)}">{html.escape(name)}</a>' if link else html.escape(name)
        for name, link in others
    ]
    return f"<p>Also reported by: {', '.join(reports)}.</p>"


def _prepare(site: SiteConfig, story: StoryView, labels: Mapping[str, str]) -> _Entry:
    lead = story.lead
    reports = (lead, *story.others)
    links = [url for url in (http_url(entry.link) for entry in reports) if url]
    content = xml_safe(lead.content_html or lead.summary_html)
    summary = xml_safe(lead.summary_html) if lead.content_html and lead.summary_html else None
    others = tuple(
        (plain_line(other.feed_title, NAME_LIMIT) or "another feed", http_url(other.link))
        for other in story.others
    )
    if others:
        content += _also_reported(others)
    title = plain_line(lead.title, TITLE_LIMIT) or plain_line(lead.summary_text, 80)
    enclosures: dict[str, tuple[str, str, int | None]] = {}
    for entry in reports:
        for enclosure in entry.enclosures:
            url = http_url(enclosure.url)
            if url and url not in enclosures:
                kind = _mime_type(enclosure.type)
                length = enclosure.length if enclosure.length and enclosure.length > 0 else None
                enclosures[url] = (url, kind, length)
    related: dict[str, tuple[str, str]] = {}
    for other in story.others:
        url = http_url(other.link)
        if url and url != (links[0] if links else None):
            related.setdefault(url, (url, plain_line(other.feed_title, NAME_LIMIT)))
    # sort_at is the publication time, or the first sighting when that was missing
    # or implausibly in the future.
    published = story.sort_at
    return _Entry(
        id=story_id_uri(site, story.id),
        title=title or "Untitled",
        link=links[0] if links else None,
        published=published,
        updated=_story_updated(story),
        author=plain_line(lead.author, NAME_LIMIT) or None,
        summary_html=summary,
        content_html=content,
        summary_text=plain_line(lead.summary_text, SUMMARY_TEXT_LIMIT),
        categories=tuple((slug, labels.get(slug, slug)) for slug in story.sections),
        enclosures=tuple(enclosures.values()),
        related=tuple(related.values()),
        others=others,
        source=_source(
            _tag_base(site), lead.feed_id, lead.feed_title, lead.feed_url, lead.feed_site_url
        ),
    )


@dataclass(frozen=True)
class FeedDocument:
    """Everything a rendering of one page of one output needs."""

    output: Output
    site: SiteConfig
    stories: tuple[StoryView, ...]
    section_labels: Mapping[str, str]  # category slug -> name
    before: str | None = None  # this page's token; None for the newest page
    next_before: str | None = None  # the next page's token; None on the last page

    def url(self, fmt: str, before: str | None = None) -> str:
        return feed_url(self.site, self.output.name, fmt, before)

    @property
    def alternate_url(self) -> str:
        return self.site.base_url + self.output.reader_path

    @property
    def feed_id(self) -> str:
        return f"{_tag_base(self.site)}/feeds/{self.output.name}"

    @property
    def hub(self) -> str | None:
        # Only the newest page is a WebSub topic; older pages change rarely.
        return http_url(self.site.websub_hub) if self.before is None else None

    def entries(self) -> list[_Entry]:
        return [_prepare(self.site, story, self.section_labels) for story in self.stories]


def section_labels(config: Config) -> dict[str, str]:
    """Return category slug -> category name, for entry categories."""
    return {category.slug: category.name for category in config.categories}


# Rendered Atom entries and RSS items by what they were rendered from (see render_feed).
Fragments = MutableMapping[Hashable, bytes]


def render_feed(fmt: str, document: FeedDocument, fragments: Fragments | None = None) -> bytes:
    """Return the document in a format of FORMATS ("atom", "rss" or "json") as UTF-8.

    ``fragments`` (optional, e.g. a bounded cache kept between calls) memoizes each
    story's rendered Atom entry or RSS item: rebuilding a page after a poll then
    renders only the stories that changed. The bytes are the same either way.
    Raises ValueError for an unknown format.
    """
    if fmt == "json":
        return _render_json(document)
    if fmt not in ("atom", "rss"):
        raise ValueError(f"unknown feed format {fmt!r}")
    return _render_xml(fmt, document, {} if fragments is None else fragments)


def _story_updated(story: StoryView) -> datetime:
    return max(story.changed_at, story.sort_at)


def _updated(stories: Sequence[StoryView]) -> datetime:
    # From the content, so an unchanged page renders to the same bytes (and ETag).
    return max((_story_updated(story) for story in stories), default=_EPOCH)


# --- Atom and RSS (feedgen) --------------------------------------------------------------


class _FeedExtras:
    """feedgen feed extension: the RSS channel's atom:link hub/next/first and dc prefix."""

    def __init__(self) -> None:
        self.links: list[tuple[str, str]] = []  # (rel, href), RSS only
        self.namespaces: dict[str, str] = {}

    def extend_ns(self) -> dict[str, str]:
        return self.namespaces

    def extend_atom(self, feed: Any) -> Any:
        return feed

    def extend_rss(self, feed: Any) -> Any:
        channel = feed.find("channel")
        for rel, href in self.links:
            xml_elem(f"{{{_ATOM_NS}}}link", channel, rel=rel, href=href)
        return feed


class _EntryExtras:
    """feedgen entry extension: what feedgen cannot say of an entry.

    Atom: the entry's links (feedgen 1.0 drops the rel, type, title and length of
    entry links) and a full ``<source>`` (id, title, self and alternate links).
    RSS: the author as dc:creator (RSS's own <author> must be an e-mail address).
    """

    def __init__(self) -> None:
        self.entry: _Entry | None = None

    def extend_ns(self) -> dict[str, str]:
        return {}

    def extend_atom(self, element: Any) -> Any:
        if self.entry is None:
            return element
        entry = self.entry
        if entry.link:
            xml_elem("link", element, rel="alternate", href=entry.link)
        for url, name in entry.related:
            link = xml_elem("link", element, rel="related", href=url)
            if name:
                link.set("title", name)
        for url, kind, length in entry.enclosures:
            link = xml_elem("link", element, rel="enclosure", href=url, type=kind)
            if length:
                link.set("length", str(length))
        source = entry.source
        container = xml_elem("source", element)
        xml_elem("id", container).text = source.id
        xml_elem("title", container).text = source.title
        if source.feed_url:
            xml_elem("link", container, rel="self", href=source.feed_url)
        if source.site_url:
            xml_elem("link", container, rel="alternate", href=source.site_url)
        return element

    def extend_rss(self, element: Any) -> Any:
        if self.entry is not None and self.entry.author:
            xml_elem(f"{{{_DC_NS}}}creator", element).text = self.entry.author
        return element


def _render_xml(fmt: str, document: FeedDocument, fragments: Fragments) -> bytes:
    """The document as Atom or RSS: feedgen's feed without entries, with each story's
    entry (rendered by feedgen on its own, or taken from ``fragments``) put in."""
    context = (fmt, document.site, tuple(sorted(document.section_labels.items())))
    items = _ItemRenderer(fmt, document)
    pieces = []
    for story in document.stories:
        # Everything an entry shows comes from its StoryView and the context; the id
        # and changed_at keep the key readable, the hash covers the rest.
        key = (context, story.id, story.changed_at, hash(story))
        piece = fragments.get(key)
        if piece is None:
            piece = fragments[key] = items.render(story)
        pieces.append(piece)
    head = _feed_head(document, fmt)
    if fmt == "atom":
        # Entries without their own author are covered by the feed's (RFC 4287 §4.1.1).
        head.author({"name": plain_line(document.site.title, NAME_LIMIT) or "aggregator"})
        empty: bytes = head.atom_str(pretty=False)
        split = empty.rindex(b"</feed>")
    else:
        icon = http_url(document.site.icon)
        if icon:
            head.image(url=icon, title=head.title(), link=document.alternate_url)
        empty = head.rss_str(pretty=False)
        split = empty.rindex(b"</channel>")
    return b"".join([empty[:split], *pieces, empty[split:]])


class _ItemRenderer:
    """Renders one story at a time as an Atom <entry> or RSS <item> with feedgen."""

    def __init__(self, fmt: str, document: FeedDocument) -> None:
        self.fmt = fmt
        self.document = document
        self.scheme = f"{document.site.base_url}/c/"  # of the entries' categories
        # RSS items name namespaces the <rss> element declares; serialized inside
        # one, they use its prefixes (content:, dc:) instead of inventing ns0:.
        self.channel = xml_elem("channel", xml_elem("rss", nsmap=_RSS_NAMESPACES))

    def render(self, story: StoryView) -> bytes:
        entry = _prepare(self.document.site, story, self.document.section_labels)
        item = FeedEntry()
        item.register_extension(_EXTENSION, _EntryExtras)
        _fill_entry(item, entry, self.fmt, self.scheme)
        if self.fmt == "atom":
            return bytes(etree.tostring(item.atom_entry()))
        element = item.rss_entry()
        self.channel.append(element)
        serialized = bytes(etree.tostring(element))
        self.channel.remove(element)
        # The namespace declarations repeated on the item's start tag are the
        # document's own: drop them (an RSS <item> has no attributes).
        assert serialized.startswith(b"<item")
        return b"<item>" + serialized[serialized.index(b">") + 1 :]


def _feed_head(document: FeedDocument, fmt: str) -> Any:
    """A feedgen FeedGenerator with the feed's metadata and links, without entries."""
    site, output = document.site, document.output
    generator = FeedGenerator()
    generator.register_extension(_EXTENSION, _FeedExtras, _EntryExtras)
    generator.id(document.feed_id)
    generator.title(plain_line(output.title, TITLE_LIMIT) or "Untitled")
    generator.subtitle(plain_line(output.subtitle, TITLE_LIMIT) or output.name)
    generator.updated(_updated(document.stories))
    generator.generator(_GENERATOR, version=__version__)
    icon = http_url(site.icon)
    if icon:
        generator.icon(icon)
    links = [
        {"href": document.url(fmt, document.before), "rel": "self", "type": CONTENT_TYPES[fmt]}
    ]
    if document.hub:
        links.append({"href": document.hub, "rel": "hub"})
    if document.next_before:
        links.append({"href": document.url(fmt, document.next_before), "rel": "next"})
    if document.before:
        links.append({"href": document.url(fmt), "rel": "first"})
    # feedgen takes the RSS channel <link> from the last link given.
    links.append({"href": document.alternate_url, "rel": "alternate", "type": "text/html"})
    generator.link(links)
    if fmt == "rss":
        extras = getattr(generator, _EXTENSION)
        extras.namespaces = {"dc": _DC_NS}
        extras.links = [
            (link["rel"], link["href"]) for link in links if link["rel"] in ("hub", "next", "first")
        ]
    return generator


def _fill_entry(item: Any, entry: _Entry, fmt: str, scheme: str) -> None:
    """Set a feedgen FeedEntry's fields from a prepared entry."""
    getattr(item, _EXTENSION).entry = entry
    item.id(entry.id)
    item.title(entry.title)
    item.published(entry.published)
    item.updated(entry.updated)
    item.content(entry.content_html, type="html")
    if entry.summary_html:
        item.summary(entry.summary_html, type="html")
    if fmt == "rss":
        # RSS has one link and one enclosure per item (feedgen keeps the last);
        # Atom's links are written by _EntryExtras.
        rss_links = [{"href": entry.link, "rel": "alternate"}] if entry.link else []
        rss_links += [
            {"href": url, "rel": "enclosure", "type": kind, "length": str(length or "")}
            for url, kind, length in entry.enclosures[:1]
        ]
        if rss_links:
            item.link(rss_links)
        if entry.source.feed_url:
            item.source(url=entry.source.feed_url, title=entry.source.title)
    if entry.categories:
        item.category(
            [{"term": slug, "label": label, "scheme": scheme} for slug, label in entry.categories]
        )
    if entry.author:
        item.author({"name": entry.author})


# --- JSON Feed 1.1 -----------------------------------------------------------------------


def _json_item(entry: _Entry) -> dict[str, Any]:
    item: dict[str, Any] = {"id": entry.id}
    if entry.link:
        item["url"] = entry.link
    item["title"] = entry.title
    item["content_html"] = entry.content_html
    if entry.summary_text:
        item["summary"] = entry.summary_text
    item["date_published"] = entry.published.isoformat()
    item["date_modified"] = entry.updated.isoformat()
    if entry.author:
        item["authors"] = [{"name": entry.author}]
    if entry.categories:
        item["tags"] = [label for _slug, label in entry.categories]
    if entry.enclosures:
        item["attachments"] = [
            {"url": url, "mime_type": kind} | ({"size_in_bytes": length} if length else {})
            for url, kind, length in entry.enclosures
        ]
    source = entry.source
    extension: dict[str, Any] = {
        "source": {"title": source.title, "id": source.id}
        | ({"feed_url": source.feed_url} if source.feed_url else {})
        | ({"home_page_url": source.site_url} if source.site_url else {})
    }
    if entry.others:
        extension["also_reported_by"] = [
            {"feed_title": name} | ({"url": link} if link else {}) for name, link in entry.others
        ]
    item["_aggregator"] = extension
    return item


def _render_json(document: FeedDocument) -> bytes:
    site, output = document.site, document.output
    feed: dict[str, Any] = {
        "version": _JSONFEED_VERSION,
        "title": plain_line(output.title, TITLE_LIMIT) or "Untitled",
        "home_page_url": document.alternate_url,
        "feed_url": document.url("json", document.before),
        "description": plain_line(output.subtitle, TITLE_LIMIT),
        "authors": [{"name": plain_line(site.title, NAME_LIMIT) or "aggregator"}],
    }
    icon = http_url(site.icon)
    if icon:
        feed["icon"] = feed["favicon"] = icon
    if document.next_before:
        feed["next_url"] = document.url("json", document.next_before)
    if document.hub:
        feed["hubs"] = [{"type": "WebSub", "url": document.hub}]
    feed["items"] = [_json_item(entry) for entry in document.entries()]
    return json.dumps(feed, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- OPML 2.0 ----------------------------------------------------------------------------


def render_opml(config: Config, feeds: Sequence[FeedState] = ()) -> bytes:
    """Return the subscription list as OPML 2.0, grouped by each feed's section.

    ``feeds`` (the stored feeds) supply titles and home pages the config lacks.
    Local (file:) feeds are left out: their paths mean nothing to a subscriber.
    """
    stored = {feed.url: feed for feed in feeds}
    groups: dict[str, list[ElementTree.Element]] = {c.name: [] for c in config.categories}
    ungrouped: list[ElementTree.Element] = []
    for feed in config.feeds:
        url = http_url(feed.url)
        if url is None:
            continue
        state = stored.get(feed.url)
        title = plain_line(feed.title or (state.feed_title if state else None), NAME_LIMIT)
        outline = ElementTree.Element(
            "outline", type="rss", text=title or url, title=title or url, xmlUrl=url
        )
        site_url = http_url(state.site_url) if state else None
        if site_url:
            outline.set("htmlUrl", site_url)
        groups.get(feed.category or "", ungrouped).append(outline)
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    title = plain_line(config.site.title, TITLE_LIMIT)
    ElementTree.SubElement(head, "title").text = f"{title}: subscriptions"
    ElementTree.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = ElementTree.SubElement(root, "body")
    for name, outlines in [*groups.items(), ("Other feeds", ungrouped)]:
        if outlines:
            group = ElementTree.SubElement(body, "outline", text=name, title=name)
            group.extend(outlines)
    tree: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return tree
