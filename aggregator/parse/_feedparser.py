"""Feed bytes to FeedData: RSS, Atom and RDF through feedparser, JSON Feed by hand.

The only module that imports feedparser. Its HTML sanitizer and relative-URI
resolution are switched off (they dominate its run time and miss entity-encoded
``javascript:`` links); sanitize.py cleans HTML once, later. Nothing here makes HTML
safe: EntryData's HTML fields are raw, only stripped of XML-illegal characters.
Helpers: parse_prolog.py (DOCTYPE and prolog stripping), parse_json.py (JSON Feed)
and parse_fields.py (tolerant accessors); none of them imports feedparser.
"""

from __future__ import annotations

import codecs
import io
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser
import feedparser.encodings
import feedparser.mixin

from aggregator.errors import ParseError
from aggregator.parse._discover import looks_like_html
from aggregator.parse._fields import (
    as_list,
    describe,
    field,
    join_problems,
    non_negative_int,
    positive_int,
    string,
    text_to_html,
    unique_casefolded,
    unparseable,
)
from aggregator.parse._json import parse_json_feed
from aggregator.parse._prolog import declaration_added, strip_prolog
from aggregator.process import clean_line, html_to_text, safe_url, strip_xml_illegal
from aggregator.types import Enclosure, EntryData, FeedData

__all__ = ["parse_feed"]

NOT_A_FEED_BUT_A_PAGE = (
    "not a feed: this address is a web page (HTML), not RSS, Atom or JSON Feed; "
    "`aggregator add` with this address, or Add feed on the admin pages, finds the feed "
    "the page links to"
)
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml", "html", "xhtml"})
_UTF8_CONTENT_TYPE = "application/xml; charset=utf-8"
# What feedparser 6.0 raises on hostile input instead of flagging it "bozo" (found with
# the corpus and fuzzing): ValueError for character references outside Unicode
# (&#x110000;) and for surrogates (&#xD800;, a UnicodeEncodeError), OverflowError for
# huge ones, TypeError for a stray </width> or </height>, KeyError for a <gml:pos> outside
# <georss:where> or a <link> in a broken <textinput>. Only the feedparser call is guarded.
_FEEDPARSER_CRASHES = (ValueError, OverflowError, TypeError, LookupError)
_JSON_TYPES = frozenset({"application/feed+json", "application/json"})
_UPDATE_PERIODS = frozenset({"hourly", "daily", "weekly", "monthly", "yearly"})
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


# feedparser 6.0 deduplicates categories with a linear search of the list so far
# (_FeedParserMixin._add_tag: "if value not in tags"), so n categories in one item cost
# n squared: 100,000 took 266 s, and itunes:keywords packs them with commas. Tags past
# _MAX_TAGS in one item (or the feed itself) are ignored; feedparser is otherwise as is.
_MAX_TAGS = 100
_feedparser_add_tag = feedparser.mixin._FeedParserMixin._add_tag


def _add_tag_capped(parser: Any, term: Any, scheme: Any, label: Any) -> None:
    """feedparser's _add_tag, ignoring tags once the current item has _MAX_TAGS."""
    if len(parser._get_context().get("tags", ())) < _MAX_TAGS:
        _feedparser_add_tag(parser, term, scheme, label)


feedparser.mixin._FeedParserMixin._add_tag = _add_tag_capped


def parse_feed(body: bytes, *, url: str, headers: Mapping[str, str] | None = None) -> FeedData:
    """Return the feed in ``body``, fetched from ``url`` with response ``headers``.

    Relative links resolve against ``url``. Problems that did not stop parsing are
    summed up in ``FeedData.warning``.

    Raises ParseError when ``body`` is not a feed or cannot be parsed at all.
    """
    if not body.strip():
        raise ParseError(url, "not a feed: the document is empty")
    if looks_like_html(body):
        raise ParseError(url, NOT_A_FEED_BUT_A_PAGE)
    response_headers = _response_headers(headers, url)
    if _is_json(body, response_headers["content-type"]):
        return parse_json_feed(body, url)
    return _parse_xml_feed(body, url, response_headers)


def _response_headers(headers: Mapping[str, str] | None, url: str) -> dict[str, str]:
    """Return the headers feedparser should see: lower-cased, with base and content type."""
    result = {str(name).lower(): str(value) for name, value in (headers or {}).items()}
    # feedparser resolves relative links against Content-Location.
    result["content-location"] = url
    media_type, _, parameters = result.get("content-type", "").partition(";")
    media_type = media_type.strip().lower()
    is_text_xml = media_type == "text/xml" or (
        media_type.startswith("text/") and media_type.endswith("+xml")
    )
    if not media_type or (is_text_xml and "charset" not in parameters.lower()):
        # No header (a local file) or text/xml without charset: let the BOM and XML
        # declaration decide, default UTF-8. RFC 7303 dropped RFC 3023's us-ascii default
        # for text/xml, which feedparser still applies.
        result["content-type"] = "application/xml" + (";" + parameters if parameters else "")
    else:
        result["content-type"] = media_type + (";" + parameters if parameters else "")
    return result


def _is_json(body: bytes, content_type: str) -> bool:
    """Return True when ``body`` should be read as JSON rather than XML."""
    first = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if first in (b"{", b"<"):
        return first == b"{"
    return content_type.partition(";")[0] in _JSON_TYPES


# --- XML: RSS, Atom, RDF -------------------------------------------------------


def _parse_xml_feed(body: bytes, url: str, headers: dict[str, str]) -> FeedData:
    """Return the feed in an XML ``body``; raises ParseError."""
    decoded, encoding_problem = _to_utf8(body, headers, url)
    if decoded is None:
        document, feed_headers, line_offset = strip_prolog(body), headers, 0
    else:
        document = strip_prolog(decoded)
        feed_headers = {**headers, "content-type": _UTF8_CONTENT_TYPE}
        line_offset = 1 if declaration_added(body) else 0
    parsed = _run_feedparser(document, feed_headers, url)
    parse_problem = describe(field(parsed, "bozo_exception"), line_offset)
    warning = join_problems([encoding_problem, parse_problem])
    return _feed_from_parsed(parsed, url, document, warning)


def _to_utf8(body: bytes, headers: dict[str, str], url: str) -> tuple[bytes | None, str | None]:
    """Return ``body`` decoded as feedparser would and re-encoded as UTF-8, and the problem.

    feedparser's own decoder is used so that the prolog we clean is exactly the text it
    will parse, whatever the encoding (UTF-16, EBCDIC, UTF-7...). The bytes are None
    when no encoding worked; the problem is None when there was none.

    Raises ParseError if the decoder fails outright.
    """
    result: dict[str, Any] = {}
    sniffed_headers = _with_bom_charset(headers, body)
    try:
        converted = feedparser.encodings.convert_to_utf8(sniffed_headers, body, result)
    except _FEEDPARSER_CRASHES as e:
        raise unparseable(url, e) from e
    problem = describe(result.get("bozo_exception"))
    return (converted if result.get("encoding") else None), problem


def _run_feedparser(document: bytes, headers: dict[str, str], url: str) -> Any:
    """Return feedparser's result for ``document``; raises ParseError if it crashes."""
    try:
        return feedparser.parse(
            io.BytesIO(document),  # never the bytes themselves: feedparser would open a path
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    except _FEEDPARSER_CRASHES as e:
        raise unparseable(url, e) from e


_BOMS = (
    (codecs.BOM_UTF32_BE, "utf-32be"),
    (codecs.BOM_UTF32_LE, "utf-32le"),  # before UTF-16 LE: it starts with the same bytes
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16be"),
    (codecs.BOM_UTF16_LE, "utf-16le"),
)


def _with_bom_charset(headers: dict[str, str], body: bytes) -> dict[str, str]:
    """Return ``headers`` with the charset a byte order mark at the start of ``body`` names.

    A BOM is authoritative (XML 1.0 appendix F, RFC 7303). feedparser 6.0 tries the
    header charset, then UTF-8, before the BOM, and UTF-16 text without its BOM is
    valid UTF-8 (NULs between ASCII letters): a UTF-16 feed without an encoding
    declaration would be read as garbage.
    """
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            media_type = headers["content-type"].partition(";")[0]
            return {**headers, "content-type": f"{media_type}; charset={encoding}"}
    return headers


def _feed_from_parsed(parsed: object, url: str, document: bytes, warning: str | None) -> FeedData:
    """Return FeedData for feedparser's result; raises ParseError when it found no feed."""
    feed = field(parsed, "feed")
    title = _plain_text(feed, "title")
    entries = tuple(_entry(raw, url) for raw in as_list(field(parsed, "entries")))
    if not entries and not title:
        if warning:
            raise ParseError(url, f"not a feed: {warning}")
        if not field(parsed, "version"):
            raise ParseError(url, "not a feed: no RSS, Atom or RDF document element")
    skip_hours, skip_days = _skip_hours_and_days(document)
    return FeedData(
        url=url,
        title=title or None,
        link=safe_url(string(field(feed, "link")), base_url=url),
        subtitle=_plain_text(feed, "subtitle") or None,
        ttl_minutes=positive_int(field(feed, "ttl")),
        skip_hours=skip_hours,
        skip_days=skip_days,
        update_period=_update_period(field(feed, "sy_updateperiod")),
        update_frequency=positive_int(field(feed, "sy_updatefrequency")),
        entries=entries,
        warning=warning,
        icon=_feed_icon(feed, url),
    )


def _feed_icon(feed: object, url: str) -> str | None:
    """The feed's own picture: Atom's icon, else its logo, else RSS's image."""
    image = field(feed, "image")
    candidates = [field(feed, "icon"), field(feed, "logo"), field(image, "href") if image else None]
    for candidate in candidates:
        found = safe_url(string(candidate) or None, base_url=url)
        if found:
            return found
    return None


def _entry(entry: object, feed_url: str) -> EntryData:
    """Return EntryData for one of feedparser's entries (any shape: keys may be missing)."""
    summary_html = _summary_html(entry)
    content_html = _content_html(entry)
    return EntryData(
        guid=clean_line(string(field(entry, "id"))) or None,
        link=_entry_link(entry, feed_url),
        title=_plain_text(entry, "title"),
        summary_html=summary_html,
        content_html="" if content_html.strip() == summary_html.strip() else content_html,
        author=clean_line(string(field(entry, "author"))) or None,
        published=_utc_datetime(field(entry, "published_parsed")),
        updated=_utc_datetime(field(entry, "updated_parsed")),
        tags=_tags(entry),
        enclosures=_enclosures(entry, feed_url),
    )


def _plain_text(container: object, key: str) -> str:
    """Return ``container[key]`` as one line of plain text, stripping tags if it is HTML."""
    value = string(field(container, key))
    content_type = string(field(field(container, f"{key}_detail"), "type"))
    return html_to_text(value) if content_type in _HTML_TYPES else clean_line(value)


def _summary_html(entry: object) -> str:
    """Return the entry's summary as HTML, or "" when it has none of its own."""
    detail = field(entry, "summary_detail")
    if detail is None:
        # feedparser fills a missing summary with a copy of the content, and gives
        # that copy no summary_detail: the entry really has no summary.
        return ""
    summary = string(field(entry, "summary"))
    return _as_html(summary, string(field(detail, "type")) or "text/html")


def _content_html(entry: object) -> str:
    """Return the entry's best content (HTML over plain text) as HTML, or ""."""
    contents = as_list(field(entry, "content"))
    ranked = sorted(contents, key=lambda c: string(field(c, "type")) not in _HTML_TYPES)
    for content in ranked:
        converted = _as_html(string(field(content, "value")), string(field(content, "type")))
        if converted:
            return converted
    return ""


def _as_html(value: str, content_type: str) -> str:
    """Return ``value`` as HTML: HTML as is, text and XML escaped, other types dropped."""
    if content_type in _HTML_TYPES:
        return strip_xml_illegal(value)
    if content_type.startswith("text/") or content_type.endswith("xml"):
        return text_to_html(value)
    return ""


def _entry_link(entry: object, feed_url: str) -> str | None:
    """Return the entry's first http(s) link (its link, then rel=alternate links)."""
    candidates = [field(entry, "link")] + [
        field(link, "href")
        for link in as_list(field(entry, "links"))
        if field(link, "rel") in (None, "alternate")
    ]
    for candidate in candidates:
        link = safe_url(string(candidate) or None, base_url=feed_url)
        if link:
            return link
    return None


def _enclosures(entry: object, feed_url: str) -> tuple[Enclosure, ...]:
    """Return the entry's rel=enclosure links with http(s) URLs, first of each URL kept.

    Relative URLs resolve against the feed URL (feedparser has already applied xml:base).
    """
    found: dict[str, Enclosure] = {}
    for link in as_list(field(entry, "links")):
        if field(link, "rel") != "enclosure":
            continue
        enclosure_url = safe_url(string(field(link, "href")) or None, base_url=feed_url)
        if enclosure_url and enclosure_url not in found:
            found[enclosure_url] = Enclosure(
                url=enclosure_url,
                type=clean_line(string(field(link, "type"))) or None,
                length=non_negative_int(field(link, "length")),
            )
    return tuple(found.values())


def _tags(entry: object) -> tuple[str, ...]:
    """Return the entry's category terms (labels when a term is empty), deduplicated."""
    names = (
        clean_line(string(field(tag, "term"))) or clean_line(string(field(tag, "label")))
        for tag in as_list(field(entry, "tags"))
    )
    return unique_casefolded(names)


def _utc_datetime(value: object) -> datetime | None:
    """Return feedparser's UTC struct_time as an aware datetime; None if absent or impossible."""
    if not isinstance(value, time.struct_time):
        return None
    try:
        # A leap second (tm_sec 60) is real but datetime cannot hold it.
        return datetime(*value[:5], min(value.tm_sec, 59), tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


# --- scheduling hints ------------------------------------------------------------

_FIRST_ITEM = re.compile(rb"<(?:[\w.-]+:)?(?:item|entry)[\s/>]")
_SKIP_BLOCK = {
    "hours": re.compile(rb"<(?:[\w.-]+:)?skipHours\s*>", re.IGNORECASE),
    "days": re.compile(rb"<(?:[\w.-]+:)?skipDays\s*>", re.IGNORECASE),
}
_SKIP_VALUE = {
    "hours": re.compile(rb"<(?:[\w.-]+:)?hour\s*>\s*(\d{1,2})\s*<", re.IGNORECASE),
    "days": re.compile(rb"<(?:[\w.-]+:)?day\s*>\s*([A-Za-z]{3,9})\s*<", re.IGNORECASE),
}
_SKIP_CLOSE = re.compile(rb"</(?:[\w.-]+:)?skip", re.IGNORECASE)
_SKIP_BLOCK_LIMIT = 4096


def _skip_hours_and_days(document: bytes) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Return RSS <skipHours> (0-23) and <skipDays> (capitalized English names).

    feedparser keeps only the last <hour> and <day>, so they are read from the UTF-8
    document: the channel part before the first item, or after the last one.
    """
    first_item = _FIRST_ITEM.search(document)
    head = document[: first_item.start()] if first_item else document
    last_item_end = document.rfind(b"</item>")
    tail = document[last_item_end:] if first_item and last_item_end >= 0 else b""
    hours = {int(value) % 24 for value in _skip_values(head, tail, "hours")}  # 24 means 0
    days = {value.decode().capitalize() for value in _skip_values(head, tail, "days")}
    return tuple(sorted(hours)), tuple(day for day in _DAYS if day in days)


def _skip_values(head: bytes, tail: bytes, kind: str) -> list[bytes]:
    """Return the raw values inside the first skipHours/skipDays block of head or tail."""
    for region in (head, tail):
        block = _SKIP_BLOCK[kind].search(region)
        if block:
            text = region[block.end() : block.end() + _SKIP_BLOCK_LIMIT]
            close = _SKIP_CLOSE.search(text)
            values = _SKIP_VALUE[kind].findall(text, 0, close.start() if close else len(text))
            return [v for v in values if kind != "hours" or int(v) <= 24]
    return []


def _update_period(value: object) -> str | None:
    """Return sy:updatePeriod lower-cased when it is one of the five defined periods."""
    period = string(value).strip().lower()
    return period if period in _UPDATE_PERIODS else None
