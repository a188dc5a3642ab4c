"""JSON Feed 1.1 documents."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

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
from aggregator.types import StoryView

_JSONFEED_VERSION = "https://jsonfeed.org/version/1.1"


# --- JSON Feed 1.1 -----------------------------------------------------------------------


def _json_item(entry: Entry) -> dict[str, Any]:
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


def json_entry(site: SiteConfig, labels: Mapping[str, str], story: StoryView) -> bytes:
    """One story as a JSON Feed item (UTF-8 JSON text)."""
    item = _json_item(prepare(site, story, labels))
    return json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def assemble_json(document: FeedDocument, pieces: Sequence[bytes]) -> bytes:
    """The document as JSON Feed, with the items (each made by json_entry) put in."""
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
    feed["items"] = []  # last, so the items go in before the closing "]}"
    empty = json.dumps(feed, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert empty.endswith(b"[]}")
    return b"".join([empty[:-2], b",".join(pieces), empty[-2:]])
