"""The merged feeds: Atom and RSS 2.0 (via feedgen), JSON Feed 1.1 and OPML 2.0.

Pure: stories (StoryView), an output description and the site config in, bytes
out. The public face of the publish package, which split the work:
publish_outputs.py (outputs, filters, paging and its tokens), publish_entries.py
(what every format shows of a story, made safe), publish_feedgen.py (Atom and RSS,
the only importer of feedgen) and publish_json.py (JSON Feed). OPML is here.
"""

from __future__ import annotations

import functools
import hashlib
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Hashable, Iterable, Mapping, MutableMapping, Sequence
from datetime import datetime
from urllib.parse import unquote, urlsplit

from aggregator import __version__
from aggregator.config import Config, SiteConfig
from aggregator.publish._entries import (
    NAME_LIMIT,
    TITLE_LIMIT,
    FeedDocument,
    feed_updated,
    http_url,
    output_url,
    plain_line,
)
from aggregator.publish._feedgen import FEEDGEN_VERSION, ItemRenderer, assemble_xml
from aggregator.publish._json import assemble_json, json_entry
from aggregator.publish._outputs import Output
from aggregator.types import FeedState, StoryView

# Bump when a change to the publish package changes how an entry renders: stored
# renderings made by the old code are then made again.
RENDER_VERSION = 2  # 2: RSS <source> for local files too
# Rendered entries by (entry_context, story id, story stamp) (see render_feed).
Renderings = MutableMapping[Hashable, bytes]


def render_feed(fmt: str, document: FeedDocument, renderings: Renderings | None = None) -> bytes:
    """Return the document in a format of FORMATS ("atom", "rss" or "json") as UTF-8.

    ``renderings`` (optional, e.g. a bounded cache kept between calls) memoizes each
    story's rendered entry by (entry_context, story id, story stamp): rebuilding a
    page after a poll then renders only the stories that changed. The bytes are the
    same either way. Raises ValueError for an unknown format.
    """
    render = entry_renderer(fmt, document.site, document.section_labels)
    context = entry_context(fmt, document.site, document.section_labels)
    cache: Renderings = {} if renderings is None else renderings
    entries = []
    for story in document.stories:
        key = (context, story.id, story.stamp)
        rendering = cache.get(key)
        if rendering is None:
            rendering = cache[key] = render(story)
        entries.append(rendering)
    return assemble_feed(fmt, document, entries, feed_updated(document.stories))


def entry_renderer(
    fmt: str, site: SiteConfig, labels: Mapping[str, str]
) -> Callable[[StoryView], bytes]:
    """Return a function rendering one story as an entry of a format: an Atom
    <entry>, an RSS <item> or a JSON Feed item, for assemble_feed.

    What it renders depends on the story and on entry_context(fmt, site, labels)
    alone, never on the output or page the entry is shown on.
    """
    if fmt == "json":
        return functools.partial(json_entry, site, labels)
    return ItemRenderer(fmt, site, labels)


def entry_context(fmt: str, site: SiteConfig, labels: Mapping[str, str]) -> str:
    """A digest of what an entry's rendering depends on besides its story: the format,
    the site, the section names and the versions of this renderer and of feedgen.
    Stable across processes, so stored renderings are reused by the next one."""
    parts = (RENDER_VERSION, __version__, FEEDGEN_VERSION, fmt, site, sorted(labels.items()))
    return hashlib.blake2b(repr(parts).encode("utf-8"), digest_size=16).hexdigest()


def assemble_feed(
    fmt: str, document: FeedDocument, entries: Sequence[bytes], updated: datetime
) -> bytes:
    """Return a page of an output: ``document``'s feed-level parts around ``entries``,
    the page's entries made by entry_renderer, newest first (``document.stories``
    is not looked at). ``updated`` is the feed's updated time."""
    if fmt == "json":
        return assemble_json(document, entries)
    if fmt not in ("atom", "rss"):
        raise ValueError(f"unknown feed format {fmt!r}")
    return assemble_xml(fmt, document, entries, updated)


# --- OPML 2.0 ----------------------------------------------------------------------------


def render_opml(config: Config, feeds: Sequence[FeedState] = ()) -> bytes:
    """Return the subscription list as OPML 2.0: every source feed of the config, grouped
    by its section (those without one under "Other feeds").

    ``feeds`` (the stored feeds) supply titles and home pages the config lacks. A local
    (file:) feed is listed by its path on this server, which only a reader on this
    machine can use, but it is a subscription all the same.
    """
    stored = {feed.url: feed for feed in feeds}
    groups: dict[str, list[ElementTree.Element]] = {c.name: [] for c in config.sections}
    ungrouped: list[ElementTree.Element] = []
    for feed in config.feeds:
        url = http_url(feed.url) or _local_path(feed.url)
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
        groups.get(feed.section or "", ungrouped).append(outline)
    outlines = []
    for name, members in [*groups.items(), ("Other feeds", ungrouped)]:
        if members:
            group = ElementTree.Element("outline", text=name, title=name)
            group.extend(members)
            outlines.append(group)
    return _opml_document(f"{plain_line(config.site.title, TITLE_LIMIT)}: subscriptions", outlines)


def render_outputs_opml(config: Config, outputs: Iterable[Output]) -> bytes:
    """Return the merged feeds (outputs) as OPML 2.0, to subscribe to all of them at
    once: each by its Atom URL, with its page in the reader."""
    outlines = []
    for output in outputs:
        title = plain_line(output.title, NAME_LIMIT) or output.name
        outlines.append(
            ElementTree.Element(
                "outline",
                type="rss",
                text=title,
                title=title,
                description=plain_line(output.subtitle, TITLE_LIMIT),
                xmlUrl=output_url(config.site, output.name, "atom"),
                htmlUrl=f"{config.site.base_url}{output.reader_path}",
            )
        )
    return _opml_document(f"{plain_line(config.site.title, TITLE_LIMIT)}: merged feeds", outlines)


def _opml_document(title: str, outlines: list[ElementTree.Element]) -> bytes:
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = title
    ElementTree.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = ElementTree.SubElement(root, "body")
    body.extend(outlines)
    ElementTree.indent(root, space="  ")
    tree: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return tree + b"\n"


def _local_path(url: str) -> str | None:
    """The path of a file: URL, as plain text safe in XML, or None."""
    parts = urlsplit(url)
    if parts.scheme != "file":
        return None
    return plain_line(unquote(parts.path), 4096) or None
