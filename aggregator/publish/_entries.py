"""What every format shows of a story, made safe: the prepared entry and FeedDocument.

Stored HTML is already sanitized; what is still guarded against here is anything that
would break the XML or smuggle markup through a plain-text field: XML-illegal
characters are dropped everywhere, links and enclosures that are not http(s) are left
out, titles are capped, and tag-shaped text is removed from plain-text fields because
many feed readers render RSS titles as HTML.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlsplit

from aggregator.config import SiteConfig
from aggregator.publish._outputs import EPOCH, Output
from aggregator.types import StoryRef, StoryView

TITLE_LIMIT = 300  # characters of an entry title; the rest becomes "…"
NAME_LIMIT = 200  # characters of an author or feed name
SUMMARY_TEXT_LIMIT = 500  # characters of a JSON Feed plain-text summary
# The date in tag: URIs (RFC 4151). Part of every entry id ever published:
# changing it would make every subscriber see every story again.
TAG_DATE = "2026"


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


def output_url(
    site: SiteConfig, name: str, fmt: str, before: str | None = None, key: str | None = None
) -> str:
    """Return the absolute URL of an output in a format, of one page when ``before``,
    with a private output's feed ``key`` when given."""
    url = f"{site.base_url}/feeds/{name}.{fmt}"
    params = (("before", before), ("key", key))
    query = "&".join(f"{param}={quote(value, safe='')}" for param, value in params if value)
    return f"{url}?{query}" if query else url


# --- what every format shows of a story --------------------------------------------------


@dataclass(frozen=True)
class _Source:
    title: str
    feed_url: str | None  # http(s) only
    site_url: str | None  # http(s) only
    id: str
    # Where RSS's <source url> points: the feed, else its site, else (a local file
    # with neither) the source feed's page in this reader.
    rss_url: str


@dataclass(frozen=True)
class Entry:
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
def _source(site: SiteConfig, feed_id: int, title: str, url: str, site_url: str | None) -> _Source:
    feed, site_page = http_url(url), http_url(site_url)
    return _Source(
        title=plain_line(title, NAME_LIMIT) or "Untitled feed",
        feed_url=feed,
        site_url=site_page,
        # Local (file:) feeds get an id of ours rather than exposing a server path.
        id=feed or f"{_tag_base(site)}/source/{feed_id}",
        rss_url=feed or site_page or f"{site.base_url}/f/{feed_id}",
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


def prepare(site: SiteConfig, story: StoryView, labels: Mapping[str, str]) -> Entry:
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
    return Entry(
        id=story_id_uri(site, story.id),
        title=title or "Untitled",
        link=links[0] if links else None,
        published=published,
        updated=updated_of(story),
        author=plain_line(lead.author, NAME_LIMIT) or None,
        summary_html=summary,
        content_html=content,
        summary_text=plain_line(lead.summary_text, SUMMARY_TEXT_LIMIT),
        categories=tuple((slug, labels.get(slug, slug)) for slug in story.sections),
        enclosures=tuple(enclosures.values()),
        related=tuple(related.values()),
        others=others,
        source=_source(site, lead.feed_id, lead.feed_title, lead.feed_url, lead.feed_site_url),
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
    key: str | None = None  # a private output's feed key, kept in its own links

    def url(self, fmt: str, before: str | None = None) -> str:
        return output_url(self.site, self.output.name, fmt, before, self.key)

    @property
    def alternate_url(self) -> str:
        return self.site.base_url + self.output.reader_path

    @property
    def feed_id(self) -> str:
        return f"{_tag_base(self.site)}/feeds/{self.output.name}"

    @property
    def hub(self) -> str | None:
        # Only the newest page is a WebSub topic; older pages change rarely. A private
        # output is no topic: its address holds a user's key.
        if self.before is not None or self.output.private:
            return None
        return http_url(self.site.websub_hub)


def updated_of(story: StoryView | StoryRef) -> datetime:
    """The updated time a story's entry shows: its last change, not before it was
    published."""
    return max(story.changed_at, story.sort_at)


def feed_updated(stories: Iterable[StoryView | StoryRef]) -> datetime:
    """A page's updated time. From the content, so an unchanged page renders to the
    same bytes (and ETag)."""
    return max((updated_of(story) for story in stories), default=EPOCH)
