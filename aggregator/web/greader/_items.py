"""Items in the shapes of the Google Reader API: JSON items (``stream/contents``,
``stream/items/contents``) as FreshRSS and Miniflux serve them, and Google Reader's Atom
streams (``reader/atom/<stream id>``) as the original service served them and
newsboat's Google Reader backend reads them: one ``<entry>`` per item, with the
reader's state as ``<category scheme="http://www.google.com/reader/">`` whose
``label`` is ``read`` or ``fresh`` (unread), ``starred``, and the sections.

The Atom is written by hand with escaping (the published outputs use feedgen; this is
a small, fixed shape of another dialect).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from html import escape
from typing import Any

from aggregator.types import ReaderStory
from aggregator.web.present import web_link
from aggregator.web.sync_items import (
    item_html,
    long_item_id,
    microseconds,
    seconds,
    xml_text,
)

STATE_PREFIX = "user/-/state/com.google/"
LABEL_PREFIX = "user/-/label/"
READING_LIST = STATE_PREFIX + "reading-list"
STARRED_STREAM = STATE_PREFIX + "starred"
READ_STREAM = STATE_PREFIX + "read"
FRESH_STREAM = STATE_PREFIX + "fresh"
GOOGLE_SCHEME = "http://www.google.com/reader/"


def _x(value: str) -> str:
    """Text or attribute value, escaped for XML."""
    return escape(xml_text(value), quote=True)


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _category(term: str, label: str) -> str:
    return f'<category term="{_x(term)}" scheme="{GOOGLE_SCHEME}" label="{_x(label)}"/>'


def _entry(item: ReaderStory, labels: dict[str, str]) -> str:
    story, lead = item.story, item.story.lead
    categories = [_category(READING_LIST, "reading-list")]
    if item.unread:
        categories.append(_category(FRESH_STREAM, "fresh"))
    else:
        categories.append(_category(READ_STREAM, "read"))
    if item.starred:
        categories.append(_category(STARRED_STREAM, "starred"))
    for slug in story.sections:
        name = labels.get(slug, slug)
        categories.append(_category(LABEL_PREFIX + name, name))
    link = web_link(lead.link)
    site = web_link(lead.feed_site_url)
    parts = [
        f'<entry gr:crawl-timestamp-msec="{microseconds(lead.first_seen_at) // 1000}">',
        f'<id gr:original-id="{_x(lead.guid or lead.link or "")}">{long_item_id(story.id)}</id>',
        *categories,
        f'<title type="text">{_x(lead.title)}</title>',
        f"<published>{_time(story.sort_at)}</published>",
        f"<updated>{_time(max(story.changed_at, story.sort_at))}</updated>",
    ]
    if link:
        parts.append(f'<link rel="alternate" href="{_x(link)}" type="text/html"/>')
    parts.append(f'<content type="html">{_x(item_html(item))}</content>')
    if lead.author:
        parts.append(f"<author><name>{_x(lead.author)}</name></author>")
    for enclosure in lead.enclosures:
        kind = f' type="{_x(enclosure.type)}"' if enclosure.type else ""
        size = f' length="{enclosure.length}"' if enclosure.length else ""
        parts.append(f'<link rel="enclosure" href="{_x(enclosure.url)}"{kind}{size}/>')
    source_link = f'<link rel="alternate" href="{_x(site)}" type="text/html"/>' if site else ""
    parts.append(
        f'<source gr:stream-id="feed/{lead.feed_id}"><id>tag:google.com,2005:reader/feed/'
        f"{lead.feed_id}</id><title>{_x(lead.feed_title)}</title>{source_link}</source>"
    )
    parts.append("</entry>")
    return "".join(parts)


def render_atom(
    stream_id: str,
    title: str,
    items: Iterable[ReaderStory],
    *,
    labels: dict[str, str],
    continuation: str | None,
    updated: datetime,
    self_url: str,
) -> bytes:
    """One page of a stream as Google Reader's Atom."""
    head = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom"'
        ' xmlns:gr="http://www.google.com/schemas/reader/atom/"'
        ' xmlns:idx="urn:atom-extension:indexing" idx:index="no">',
        "<generator>aggregator</generator>",
        f"<id>tag:google.com,2005:reader/{_x(stream_id)}</id>",
        f"<title>{_x(title)}</title>",
        f'<link rel="self" href="{_x(self_url)}"/>',
        f"<updated>{_time(updated)}</updated>",
    ]
    if continuation:
        head.append(f"<gr:continuation>{_x(continuation)}</gr:continuation>")
    entries = [_entry(item, labels) for item in items]
    return "\n".join([*head, *entries, "</feed>", ""]).encode("utf-8")


def item_json(item: ReaderStory, labels: dict[str, str]) -> dict[str, Any]:
    story, lead = item.story, item.story.lead
    link = web_link(lead.link) or ""
    html = item_html(item)
    categories = [READING_LIST]
    categories.extend(LABEL_PREFIX + labels.get(slug, slug) for slug in story.sections)
    if not item.unread:
        categories.append(READ_STREAM)
    if item.starred:
        categories.append(STARRED_STREAM)
    return {
        "id": long_item_id(story.id),
        "crawlTimeMsec": str(microseconds(lead.first_seen_at) // 1000),
        "timestampUsec": str(microseconds(story.sort_at)),
        "published": seconds(story.sort_at),
        "updated": seconds(max(story.changed_at, story.sort_at)),
        "title": lead.title,
        "author": lead.author or "",
        "canonical": [{"href": link}] if link else [],
        "alternate": [{"href": link, "type": "text/html"}] if link else [],
        "summary": {"direction": "ltr", "content": html},
        "content": {"direction": "ltr", "content": html},
        "categories": categories,
        "origin": {
            "streamId": f"feed/{lead.feed_id}",
            "title": lead.feed_title,
            "htmlUrl": web_link(lead.feed_site_url) or "",
        },
        "enclosure": [
            {"href": e.url, "type": e.type or "", **({"length": e.length} if e.length else {})}
            for e in lead.enclosures
        ],
    }
