"""JSON Feed 1.0 and 1.1 documents to FeedData, by hand (no feedparser)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from aggregator.errors import ParseError
from aggregator.parse._fields import (
    as_list,
    field,
    non_negative_int,
    string,
    text_to_html,
    unique_casefolded,
    unparseable,
)
from aggregator.process import clean_line, safe_url, strip_xml_illegal
from aggregator.types import Enclosure, EntryData, FeedData

_JSON_FEED_VERSION = re.compile(r"https?://jsonfeed\.org/version/")


def parse_json_feed(body: bytes, url: str) -> FeedData:
    """Return the JSON Feed in ``body``; raises ParseError when it is not one."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as e:
        # ValueError covers JSONDecodeError, UnicodeDecodeError and over-long integers.
        raise unparseable(url, e) from e
    if not isinstance(document, dict) or not _JSON_FEED_VERSION.match(
        string(document.get("version"))
    ):
        raise ParseError(url, "not a feed: JSON without a jsonfeed.org version")
    feed_author = _json_authors(document)
    return FeedData(
        url=url,
        title=clean_line(string(document.get("title"))) or None,
        link=safe_url(string(document.get("home_page_url")) or None, base_url=url),
        subtitle=clean_line(string(document.get("description"))) or None,
        icon=safe_url(string(document.get("favicon")) or None, base_url=url)
        or safe_url(string(document.get("icon")) or None, base_url=url),
        entries=tuple(
            _json_entry(item, url, feed_author)
            for item in as_list(document.get("items"))
            if isinstance(item, dict)
        ),
    )


def _json_entry(item: dict[str, Any], feed_url: str, feed_author: str | None) -> EntryData:
    """Return EntryData for one JSON Feed item (missing or odd-typed keys tolerated)."""
    item_id = item.get("id")
    if isinstance(item_id, int | float) and not isinstance(item_id, bool):
        item_id = str(item_id)  # JSON Feed 1.0 allowed numbers; 1.1 says coerce
    content_html = strip_xml_illegal(string(item.get("content_html")))
    if not content_html:
        content_html = text_to_html(string(item.get("content_text")))
    summary_html = text_to_html(string(item.get("summary")))
    link = safe_url(string(item.get("url")) or None, base_url=feed_url)
    return EntryData(
        guid=clean_line(string(item_id)) or None,
        link=link or safe_url(string(item.get("external_url")) or None, base_url=feed_url),
        title=clean_line(string(item.get("title"))),
        summary_html=summary_html,
        content_html="" if content_html == summary_html else content_html,
        author=_json_authors(item) or feed_author,
        published=_json_datetime(item.get("date_published")),
        updated=_json_datetime(item.get("date_modified")),
        tags=unique_casefolded(clean_line(string(tag)) for tag in as_list(item.get("tags"))),
        enclosures=_json_attachments(item, feed_url),
    )


def _json_authors(container: dict[str, Any]) -> str | None:
    """Return the names of ``authors`` (1.1) or ``author`` (1.0), comma-separated, or None."""
    authors = as_list(container.get("authors")) or [container.get("author")]
    names = [clean_line(string(field(author, "name"))) for author in authors]
    return ", ".join(name for name in names if name) or None


def _json_attachments(item: dict[str, Any], feed_url: str) -> tuple[Enclosure, ...]:
    """Return the item's attachments with http(s) URLs as enclosures."""
    found: dict[str, Enclosure] = {}
    for attachment in as_list(item.get("attachments")):
        attachment_url = safe_url(string(field(attachment, "url")) or None, base_url=feed_url)
        if attachment_url and attachment_url not in found:
            found[attachment_url] = Enclosure(
                url=attachment_url,
                type=clean_line(string(field(attachment, "mime_type"))) or None,
                length=non_negative_int(field(attachment, "size_in_bytes")),
            )
    return tuple(found.values())


def _json_datetime(value: object) -> datetime | None:
    """Return an RFC 3339 date as an aware UTC datetime (naive means UTC); None if invalid."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        return None
