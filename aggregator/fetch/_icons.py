"""A source feed's site icon: the feed's own image or icon, else the icon its site's
home page links (``<link rel="icon">``), else the site's ``/favicon.ico``.

Every request goes through the Fetcher given, so through its SSRF guard, deadline and
size limits. Only small raster images are kept (PNG, GIF, JPEG, ICO, WebP, told by
their first bytes, not by what the server says): an SVG served from our origin could
carry script.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Protocol
from urllib.parse import urljoin, urlsplit, urlunsplit

from aggregator.errors import AggregatorError
from aggregator.fetch._fetcher import FetchResult

log = logging.getLogger(__name__)

MAX_ICON_BYTES = 256 * 1024
MAX_PAGE_BYTES = 1024 * 1024  # of the home page, read for its <link rel=icon>
# First bytes of the formats kept, and their content types.
SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x00\x00\x01\x00", "image/x-icon"),
)


class FetchesUrls(Protocol):
    def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult: ...


@dataclass(frozen=True)
class Icon:
    url: str
    content_type: str
    body: bytes


def image_type(body: bytes) -> str | None:
    """Return the content type of a PNG, GIF, JPEG, ICO or WebP image; None otherwise."""
    for signature, content_type in SIGNATURES:
        if body.startswith(signature):
            return content_type
    if body[:4] == b"RIFF" and body[8:12] == b"WEBP":
        return "image/webp"
    return None


class _IconLinks(HTMLParser):
    """Collects the href of every <link rel="icon"> (and "shortcut icon",
    "apple-touch-icon") in a page's head."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.icons: list[str] = []
        self.touch_icons: list[str] = []  # large: the last resort

    @property
    def hrefs(self) -> list[str]:
        return self.icons + self.touch_icons

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "link":
            return
        found = dict(attrs)
        rel = (found.get("rel") or "").lower().split()
        href = found.get("href")
        if href and "icon" in rel:
            self.icons.append(href)
        elif href and "apple-touch-icon" in rel:
            self.touch_icons.append(href)


def icon_links(page: bytes, page_url: str) -> list[str]:
    """Return the absolute http(s) URLs of the icons a page links, best first."""
    parser = _IconLinks()
    try:
        parser.feed(page[:MAX_PAGE_BYTES].decode("utf-8", errors="replace"))
        parser.close()
    except AssertionError:  # html.parser gives up on some broken markup
        pass
    urls = []
    for href in parser.hrefs:
        url = urljoin(page_url, href.strip())
        if urlsplit(url).scheme in ("http", "https") and url not in urls:
            urls.append(url)
    return urls


def _site_root(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return urlunsplit((parts.scheme, parts.netloc, "/", "", ""))


def _image(fetcher: FetchesUrls, url: str) -> Icon | None:
    try:
        result = fetcher.fetch(url)
    except AggregatorError as e:
        log.debug("icon %s: %s", url, e)
        return None
    body = result.body
    if not body or len(body) > MAX_ICON_BYTES:
        return None
    content_type = image_type(body)
    return Icon(result.final_url, content_type, body) if content_type else None


def find_icon(fetcher: FetchesUrls, *, feed_icon: str | None, site_url: str | None) -> Icon | None:
    """Return the icon of a source feed, or None when there is none to be had.

    Never raises for what the network or the site does."""
    if feed_icon:
        found = _image(fetcher, feed_icon)
        if found:
            return found
    root = _site_root(site_url or "")
    if root is None:
        return None
    try:
        page = fetcher.fetch(site_url or root)
    except AggregatorError as e:
        log.debug("icon: home page %s: %s", site_url, e)
        page = None
    if page is not None and page.body:
        for url in icon_links(page.body, page.final_url)[:3]:
            found = _image(fetcher, url)
            if found:
                return found
    return _image(fetcher, urljoin(root, "/favicon.ico"))
