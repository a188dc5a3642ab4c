"""The merged feeds: Atom and RSS 2.0 (via feedgen), JSON Feed 1.1 and OPML 2.0.

Pure: stories (StoryView), an output description and the site config in, bytes
out. The public face of the publish_* modules, which split the work:
publish_outputs.py (outputs, filters, paging and its tokens), publish_entries.py
(what every format shows of a story, made safe), publish_feedgen.py (Atom and RSS,
the only importer of feedgen) and publish_json.py (JSON Feed). OPML is here.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence

from aggregator.models import Config, FeedState
from aggregator.publish_entries import (
    NAME_LIMIT,
    SUMMARY_TEXT_LIMIT,
    TAG_DATE,
    TITLE_LIMIT,
    FeedDocument,
    feed_url,
    http_url,
    plain_line,
    section_labels,
    story_id_uri,
    xml_safe,
)
from aggregator.publish_feedgen import Fragments, _render_xml
from aggregator.publish_json import _render_json
from aggregator.publish_outputs import (
    ALL_KEY,
    ALL_OUTPUT,
    CONTENT_TYPES,
    FORMATS,
    MAX_SCANNED_PER_PAGE,
    FetchStories,
    InvalidCursorError,
    Output,
    Page,
    changed_outputs,
    collect_page,
    decode_cursor,
    encode_cursor,
    outputs_of,
    story_matches,
    version_keys_of,
)

# Everything other modules import from here, including what now lives in the
# publish_* helper modules: aggregator.publish stays the one public import path.
__all__ = [
    "ALL_KEY",
    "ALL_OUTPUT",
    "CONTENT_TYPES",
    "FORMATS",
    "MAX_SCANNED_PER_PAGE",
    "NAME_LIMIT",
    "SUMMARY_TEXT_LIMIT",
    "TAG_DATE",
    "TITLE_LIMIT",
    "FeedDocument",
    "FetchStories",
    "Fragments",
    "InvalidCursorError",
    "Output",
    "Page",
    "changed_outputs",
    "collect_page",
    "decode_cursor",
    "encode_cursor",
    "feed_url",
    "http_url",
    "outputs_of",
    "plain_line",
    "render_feed",
    "render_opml",
    "section_labels",
    "story_id_uri",
    "story_matches",
    "version_keys_of",
    "xml_safe",
]


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
