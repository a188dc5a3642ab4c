"""Checkers for what parse.py and sanitize.py hand on to pages and published feeds.

``assert_safe_html(html)`` raises AssertionError naming the first thing in ``html`` that
could run script, load a frame or restyle the page. ``assert_clean_feed(feed)`` checks
a parsed FeedData: no XML-illegal characters in any text, only http(s) URLs, aware dates.

The HTML checker tokenizes with the stdlib's html.parser, which reads attribute values
and character references the way a browser does for well-formed markup (the sanitizer's
output is always serialized by html5ever, so it is well-formed). It is a test oracle,
not a sanitizer.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta
from html.parser import HTMLParser

from aggregator.types import FeedData

FORBIDDEN_TAGS = frozenset(
    {
        *("script", "style", "link", "meta", "base", "template", "noscript"),
        *("iframe", "frame", "frameset", "object", "embed", "applet", "param", "portal"),
        *("svg", "math", "form", "input", "button", "textarea", "select", "option"),
        *("xmp", "plaintext", "noembed", "noframes", "isindex", "title", "head", "html", "body"),
    }
)
FORBIDDEN_ATTRIBUTES = frozenset(
    {"style", "srcdoc", "formaction", "action", "srcset", "id", "name", "class", "is"}
)
URL_ATTRIBUTES = frozenset(
    {
        *("href", "src", "poster", "cite", "action", "formaction", "data", "background"),
        *("xlink:href", "ping", "longdesc", "lowsrc", "dynsrc", "codebase", "manifest"),
        *("icon", "profile", "usemap", "itemtype", "archive", "classid"),
    }
)
SAFE_SCHEMES = ("http", "https", "mailto")
# What a browser ignores before the scheme: C0 controls and spaces at the start, tab
# and newlines anywhere.
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]")
_SCHEME = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*):")
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def assert_safe_html(html_text: str) -> None:
    """Raise AssertionError, saying what and where, if ``html_text`` is not inert."""
    checker = _SafetyChecker()
    checker.feed(html_text)
    checker.close()
    if checker.problems:
        excerpt = html_text if len(html_text) <= 300 else html_text[:300] + "..."
        raise AssertionError(f"{checker.problems[0]} in {excerpt!r}")


def url_is_safe(value: str, schemes: tuple[str, ...] = SAFE_SCHEMES) -> bool:
    """Return True when ``value`` (an attribute value, entities already decoded) is an
    absolute URL with one of ``schemes``, checked again after one more entity decoding."""
    for candidate in (value, html.unescape(value)):
        match = _SCHEME.match(_URL_NOISE.sub("", candidate))
        if not match or match.group(1).lower() not in schemes:
            return False
    return True


def assert_clean_feed(feed: FeedData) -> None:
    """Raise AssertionError, naming the field, if ``feed`` breaks parse.py's promises."""
    texts: list[tuple[str, str | None]] = [
        ("title", feed.title),
        ("subtitle", feed.subtitle),
        ("warning", feed.warning),
    ]
    urls: list[tuple[str, str | None]] = [("link", feed.link)]
    for index, entry in enumerate(feed.entries):
        where = f"entries[{index}]"
        texts += [(f"{where}.{name}", getattr(entry, name)) for name in _ENTRY_TEXTS]
        texts += [(f"{where}.tags", tag) for tag in entry.tags]
        urls.append((f"{where}.link", entry.link))
        urls += [(f"{where}.enclosures", enclosure.url) for enclosure in entry.enclosures]
        for name in ("published", "updated"):
            when = getattr(entry, name)
            assert when is None or when.utcoffset() == timedelta(0), f"{where}.{name}={when!r}"
    for name, text in texts:
        assert text is None or not XML_ILLEGAL.search(text), f"XML-illegal character in {name}"
    for name, url in urls:
        assert url is None or url_is_safe(url, ("http", "https")), f"{name}={url!r}"


_ENTRY_TEXTS = ("guid", "title", "summary_html", "content_html", "author")


class _SafetyChecker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"forbidden tag <{tag}>")
        for name, value in attrs:
            self._check_attribute(tag, name, value or "")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"forbidden end tag </{tag}>")

    def handle_comment(self, data: str) -> None:
        # Conditional comments (<!--[if IE]>) once ran script; a sanitizer drops them all.
        self.problems.append(f"comment <!--{data[:40]}-->")

    def handle_decl(self, decl: str) -> None:
        self.problems.append(f"declaration <!{decl[:40]}>")

    def handle_pi(self, data: str) -> None:
        self.problems.append(f"processing instruction <?{data[:40]}>")

    def unknown_decl(self, data: str) -> None:
        self.problems.append(f"declaration <![{data[:40]}]>")

    def _check_attribute(self, tag: str, name: str, value: str) -> None:
        where = f"<{tag} {name}={value[:80]!r}>"
        if name.startswith("on"):
            self.problems.append(f"event handler attribute {where}")
        elif name in FORBIDDEN_ATTRIBUTES or ":" in name:
            self.problems.append(f"forbidden attribute {where}")
        elif name in URL_ATTRIBUTES and not url_is_safe(value):
            self.problems.append(f"unsafe or relative URL {where}")
