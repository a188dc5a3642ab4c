"""An article page's main text: the one trafilatura importer.

Navigation, advertising, comments and the rest of a page's furniture are left out;
what comes back is the article's HTML (paragraphs, headings, lists, links and images),
not yet sanitized: the caller sanitizes it like every entry's HTML.
"""

from __future__ import annotations

from aggregator.errors import ParseError

# Less than this much text is a cookie wall or a teaser, not the article.
MIN_ARTICLE_CHARS = 200


def extract_article(body: bytes, url: str) -> str:
    """Return the main text of the HTML page ``body`` fetched from ``url`` as HTML
    (relative links resolved against ``url``; unsanitized).

    Raises ParseError when the page has no article text worth keeping.
    """
    # Imported here: it takes a third of a second, which every command would pay.
    import trafilatura

    try:
        extracted = trafilatura.extract(
            body,
            url=url,
            output_format="html",
            include_comments=False,
            include_tables=True,
            include_images=True,
            include_links=True,
            favor_precision=True,
        )
    except (ValueError, TypeError, LookupError) as e:  # its parser on hostile input
        raise ParseError(url, f"article: cannot read the page: {e}") from e
    if not extracted:
        raise ParseError(url, "article: the page has no main text")
    text = trafilatura.html2txt(extracted)
    if len(text.strip()) < MIN_ARTICLE_CHARS:
        raise ParseError(url, "article: the page has too little text to be the article")
    return extracted
