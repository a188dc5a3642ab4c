"""Full text: an entry's article page fetched through the poller's fetcher (its
address guard, size and time limits), its main text extracted and sanitized like
every entry's HTML."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from aggregator.errors import FetchCancelledError, FetchError, ParseError
from aggregator.fetch import Fetcher
from aggregator.parse import extract_article
from aggregator.process import html_to_text, sanitize_html

# New entries of full_text feeds whose article is fetched after one update of the
# feeds, at most: a feed publishing a hundred entries at once must not hold the poller
# up; the rest are fetched after the next polls.
FULL_TEXT_PER_UPDATE = 20


@dataclass(frozen=True)
class ArticleText:
    """The outcome of fetching one article page: its sanitized main text, or why not."""

    html: str | None
    error: str | None


def fetch_article_text(fetcher: Fetcher, link: str | None) -> ArticleText:
    """Fetch the web page at ``link`` and return its main text as sanitized HTML, or
    the reason there is none. Never raises for the page's fault; raises
    FetchCancelledError when the fetcher was cancelled (a stopping service): that is
    no verdict on the page."""
    if not link or _scheme(link) not in ("http", "https"):
        return ArticleText(None, "the entry has no web page to fetch")
    try:
        result = fetcher.fetch(link)
        content_type = result.headers.get("content-type", "").lower()
        if content_type and "html" not in content_type:
            return ArticleText(None, f"not a web page ({content_type.split(';')[0]})")
        extracted = extract_article(result.body or b"", result.final_url)
    except FetchCancelledError:
        raise
    except (FetchError, ParseError) as e:
        return ArticleText(None, str(e))
    html = sanitize_html(extracted, base_url=result.final_url)
    if not html_to_text(html).strip():
        return ArticleText(None, "the article has no text once cleaned")
    return ArticleText(html, None)


def _scheme(link: str) -> str | None:
    try:
        return urlsplit(link).scheme.lower()
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
