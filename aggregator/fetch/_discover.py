"""Where a site keeps its feed when its pages do not say: the usual addresses."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

# Tried in this order, at the root of the site, when a page links no feed.
FEED_GUESSES = ("/feed", "/rss", "/atom.xml", "/feed.json", "/feed.xml", "/rss.xml", "/index.xml")


def feed_guesses(page_url: str) -> list[str]:
    """The usual feed addresses of the site of ``page_url`` (http(s) only)."""
    parts = urlsplit(page_url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return []
    return [urlunsplit((parts.scheme, parts.netloc, path, "", "")) for path in FEED_GUESSES]
