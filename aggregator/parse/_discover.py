"""Feed autodiscovery on a web page: the feeds its ``<link rel="alternate">`` elements
name, and whether a body is a web page at all. Pure: bytes in, URLs out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

# The media types a page's alternate links use for feeds (RSS, Atom, JSON Feed, RDF).
FEED_LINK_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/json",
        "application/rdf+xml",
        "application/xml",
        "text/xml",
    }
)
MAX_LINKS = 20
_HTML_START = re.compile(
    rb"\A(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*(?:<!doctype\s+html|<html[\s>])",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True)
class FeedLink:
    """A feed a page links to: its absolute URL, the title the page gives it (may be
    empty) and the media type it announces."""

    url: str
    title: str
    type: str


def looks_like_html(body: bytes) -> bool:
    """Whether ``body`` is a web page (starts with a doctype or ``<html>``), not a feed."""
    return _HTML_START.match(body[:4096]) is not None


def find_feed_links(body: bytes, page_url: str) -> list[FeedLink]:
    """The feeds a web page announces with ``<link rel="alternate" type="...">``, in
    the page's order, without repeats; absolute http(s) URLs only (resolved against
    the page's ``<base href>`` or ``page_url``). At most MAX_LINKS."""
    finder = _LinkFinder(page_url)
    finder.feed(_decode(body))
    finder.close()
    return finder.links


def _decode(body: bytes) -> str:
    match = re.search(rb"<meta[^>]+charset=[\"']?([\w-]+)", body[:4096], re.IGNORECASE)
    encoding = match.group(1).decode("ascii") if match else "utf-8"
    try:
        return body.decode(encoding, errors="replace")
    except LookupError:  # an encoding Python does not know
        return body.decode("utf-8", errors="replace")


class _LinkFinder(HTMLParser):
    def __init__(self, page_url: str) -> None:
        super().__init__(convert_charrefs=True)
        self.base_url = page_url
        self.links: list[FeedLink] = []
        self._seen: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): (value or "").strip() for name, value in attrs}
        if tag == "base" and values.get("href"):
            self.base_url = urljoin(self.base_url, values["href"])
        if tag != "link" or len(self.links) >= MAX_LINKS:
            return
        rels = values.get("rel", "").lower().split()
        media_type = values.get("type", "").lower().split(";")[0].strip()
        if "alternate" not in rels or media_type not in FEED_LINK_TYPES:
            return
        href = values.get("href")
        if not href:
            return
        url = urljoin(self.base_url, href)
        if urlsplit(url).scheme.lower() not in ("http", "https") or url in self._seen:
            return
        self._seen.add(url)
        title = " ".join(values.get("title", "").split())
        self.links.append(FeedLink(url=url, title=title, type=media_type))

    handle_startendtag = handle_starttag
