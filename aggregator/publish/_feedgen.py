"""Atom and RSS 2.0 documents, rendered with feedgen (the only importer of feedgen)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem
from feedgen.version import version_str
from lxml import etree  # type: ignore[import-untyped]  # feedgen's XML library

from aggregator import __version__
from aggregator.config import SiteConfig
from aggregator.publish._entries import (
    NAME_LIMIT,
    TITLE_LIMIT,
    Entry,
    FeedDocument,
    http_url,
    plain_line,
    prepare,
)
from aggregator.publish._outputs import CONTENT_TYPES
from aggregator.types import StoryView

_GENERATOR = "aggregator"
FEEDGEN_VERSION: str = version_str  # part of publish.entry_context
_ATOM_NS = "http://www.w3.org/2005/Atom"
_DC_NS = "http://purl.org/dc/elements/1.1/"
# The namespaces feedgen and _FeedExtras declare on an RSS document's root.
_RSS_NAMESPACES = {
    "atom": _ATOM_NS,
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": _DC_NS,
}
_EXTENSION = "aggregator"  # the attribute feedgen gives our extension objects


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
        self.entry: Entry | None = None

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


def assemble_xml(
    fmt: str, document: FeedDocument, pieces: Sequence[bytes], updated: datetime
) -> bytes:
    """The document as Atom or RSS: feedgen's feed without entries, with the entries
    (each rendered by ItemRenderer) put in."""
    head = _feed_head(document, fmt, updated)
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


class ItemRenderer:
    """Renders one story at a time as an Atom <entry> or RSS <item> with feedgen."""

    def __init__(self, fmt: str, site: SiteConfig, labels: Mapping[str, str]) -> None:
        if fmt not in ("atom", "rss"):
            raise ValueError(f"unknown feed format {fmt!r}")
        self.fmt = fmt
        self.site = site
        self.labels = labels
        self.scheme = f"{site.base_url}/c/"  # of the entries' categories
        # RSS items name namespaces the <rss> element declares; serialized inside
        # one, they use its prefixes (content:, dc:) instead of inventing ns0:.
        self.channel = xml_elem("channel", xml_elem("rss", nsmap=_RSS_NAMESPACES))

    def __call__(self, story: StoryView) -> bytes:
        entry = prepare(self.site, story, self.labels)
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


def _feed_head(document: FeedDocument, fmt: str, updated: datetime) -> Any:
    """A feedgen FeedGenerator with the feed's metadata and links, without entries."""
    site, output = document.site, document.output
    generator = FeedGenerator()
    generator.register_extension(_EXTENSION, _FeedExtras, _EntryExtras)
    generator.id(document.feed_id)
    generator.title(plain_line(output.title, TITLE_LIMIT) or "Untitled")
    generator.subtitle(plain_line(output.subtitle, TITLE_LIMIT) or output.name)
    generator.updated(updated)
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


def _fill_entry(item: Any, entry: Entry, fmt: str, scheme: str) -> None:
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
        # Every item says where it came from, local files too (RSS 2.0 needs a url).
        item.source(url=entry.source.rss_url, title=entry.source.title)
    if entry.categories:
        item.category(
            [{"term": slug, "label": label, "scheme": scheme} for slug, label in entry.categories]
        )
    if entry.author:
        item.author({"name": entry.author})
