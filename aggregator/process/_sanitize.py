"""HTML allowlist sanitizing (nh3), URL scheme checks and HTML-to-text. Knows nothing of feeds.

How nh3 0.3 (ammonia) behaves, pinned by test_nh3_behaviour_the_sanitizer_relies_on:

* Attribute values reach ``attribute_filter`` with entities already decoded
  (``?a=1&amp;b=2`` arrives as ``?a=1&b=2``) and are re-escaped on output.
* nh3 checks ``url_schemes`` on href/src (and a few others) *before* calling the
  filter, and does not re-check what the filter returns: our filter is the last word
  on every URL attribute, so it re-checks the scheme itself (``safe_url``).
* nh3 passes relative URLs through untouched (``url_relative`` defaults to
  "pass_through"); the filter resolves them against ``base_url``.
* ``srcset`` is not treated as a URL attribute by nh3, so it is not allowed at all.
* ``link_rel`` is added to every ``<a>``, and the filter is called for it too.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection
from urllib.parse import urljoin, urlsplit

import nh3

from aggregator.process._text import clean_line, strip_xml_illegal

WEB_SCHEMES = ("http", "https")
_LINK_SCHEMES = ("http", "https", "mailto")

# Tags that make sense in an article body. No forms, frames, embedded documents, SVG,
# MathML, scripts or styles: each is a known way to run script or restyle the page.
_ALLOWED_TAGS = frozenset(
    {
        *("p", "br", "hr", "div", "span", "a", "img", "figure", "figcaption"),
        *("em", "strong", "b", "i", "u", "s", "small", "sub", "sup", "mark", "del", "ins"),
        *("blockquote", "q", "cite", "code", "pre", "kbd", "samp", "var", "abbr", "dfn"),
        *("time", "wbr", "details", "summary"),
        *("ul", "ol", "li", "dl", "dt", "dd"),
        *("h1", "h2", "h3", "h4", "h5", "h6"),
        *("table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "colgroup", "col"),
        *("audio", "video", "source"),
    }
)

# No style, class, id or name (page restyling and DOM clobbering), no on* handlers.
_ALLOWED_ATTRIBUTES: dict[str, set[str]] = {
    "*": {"title", "lang", "dir"},
    "a": {"href", "hreflang"},
    "img": {"src", "alt", "width", "height"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
    "time": {"datetime"},
    "ol": {"start", "reversed"},
    "li": {"value"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "audio": {"src"},
    "video": {"src", "poster", "width", "height"},
    "source": {"src", "type"},
}

# Media never autoplays and never preloads; the reader gets controls instead.
_FORCED_ATTRIBUTES = {
    "audio": {"controls": "", "preload": "none"},
    "video": {"controls": "", "preload": "none"},
}

# Dropped together with everything inside them, not just unwrapped: their text is
# code or widget chrome, never article prose.
_DROP_WITH_CONTENT = frozenset(
    {
        *("script", "style", "template", "noscript", "xmp", "plaintext"),
        *("iframe", "frame", "frameset", "noframes", "noembed", "object", "embed", "applet"),
        *("svg", "math", "textarea", "select", "title"),
    }
)

_URL_ATTRIBUTES = frozenset({"href", "src", "poster", "cite"})
_DIMENSION_ATTRIBUTES = frozenset({"width", "height"})
_DIMENSION = re.compile(r"\d{1,5}%?")
_LINK_REL = "noopener noreferrer"

# Block-level tags kept by html_to_text only so that their boundaries become spaces.
_TEXT_BREAK_TAGS = frozenset(
    {
        *("p", "br", "hr", "div", "li", "dt", "dd", "tr", "td", "th", "caption"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "figcaption"),
    }
)
_TAG = re.compile(r"<[^>]*>")

# html5ever, inside nh3, walks the stack of open elements for most start tags, so deep
# nesting costs quadratic time: 100,000 nested <div>s (600 KB) took 26 s. Start tags
# beyond this depth are dropped before nh3 sees them; browsers flatten at 512.
_MAX_DEPTH = 256
_TAG_TOKEN = re.compile(r"<(/?)([A-Za-z][^\s/<>]*)[^<>]{0,1000}>")
# Void elements, and elements a following sibling closes: neither deepens the stack.
_NOT_NESTING = frozenset(
    {
        *("area", "base", "br", "col", "embed", "hr", "img", "input", "keygen", "link"),
        *("meta", "param", "source", "track", "wbr", "p", "li", "dt", "dd", "option"),
        *("optgroup", "tr", "td", "th", "tbody", "thead", "tfoot", "caption", "colgroup"),
        *("rb", "rt", "rp", "rtc"),
    }
)

# The URL standard removes tab and newlines anywhere and strips C0 controls and spaces
# at both ends; browsers do so before looking at the scheme ("java\tscript:").
_URL_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def sanitize_html(html_text: str, *, base_url: str | None = None) -> str:
    """Return ``html_text`` reduced to the allowlist, safe to embed in a page.

    Relative URLs are resolved against ``base_url`` (an absolute http(s) URL); without
    one they are dropped. Only http, https and mailto URLs survive.
    """
    if not html_text or html_text.isspace():
        return ""
    base = safe_url(base_url)

    def filter_attribute(tag: str, attribute: str, value: str) -> str | None:
        if attribute in _URL_ATTRIBUTES:
            schemes = _LINK_SCHEMES if attribute == "href" else WEB_SCHEMES
            return safe_url(value, base_url=base, schemes=schemes)
        if attribute in _DIMENSION_ATTRIBUTES:
            return value if _DIMENSION.fullmatch(value.strip()) else None
        return value

    cleaned = nh3.clean(
        _limit_nesting(strip_xml_illegal(html_text)),
        tags=_ALLOWED_TAGS,
        clean_content_tags=_DROP_WITH_CONTENT,
        attributes=_ALLOWED_ATTRIBUTES,
        attribute_filter=filter_attribute,
        strip_comments=True,
        link_rel=_LINK_REL,
        set_tag_attribute_values=_FORCED_ATTRIBUTES,
        url_schemes=set(_LINK_SCHEMES),
    )
    cleaned = strip_xml_illegal(cleaned)
    # Whitespace left over from dropped markup would not survive a second pass.
    return "" if cleaned.isspace() else cleaned


def html_to_text(html_text: str) -> str:
    """Return the text of an HTML fragment: tags stripped, entities decoded, one line.

    Block boundaries become spaces (``<p>a</p><p>b</p>`` gives ``"a b"``); the content
    of scripts, styles and similar is dropped.
    """
    if not html_text or html_text.isspace():
        return ""
    # nh3 parses like a browser and serializes with every "<" in text escaped, so the
    # only "<" left in its output start the break tags we kept, and _TAG is exact.
    skeleton = nh3.clean(
        _limit_nesting(strip_xml_illegal(html_text)),
        tags=_TEXT_BREAK_TAGS,
        clean_content_tags=_DROP_WITH_CONTENT,
        attributes={},
        strip_comments=True,
        link_rel=None,
    )
    return clean_line(html.unescape(_TAG.sub(" ", skeleton)))


def _limit_nesting(html_text: str) -> str:
    """Return ``html_text`` without the start tags that would nest deeper than _MAX_DEPTH.

    A rough tag count, not a parser: it only bounds nh3's work, and nh3 still sanitizes
    whatever comes out (dropping a tag can never make markup more dangerous than
    what nh3 already handles).
    """
    if html_text.count("<") <= _MAX_DEPTH:
        return html_text
    open_tags: list[str] = []
    kept: list[str] = []
    position = 0
    for match in _TAG_TOKEN.finditer(html_text):
        closing, name = match.group(1), match.group(2).lower()
        if name in _NOT_NESTING:
            continue
        if closing:
            if name in open_tags:
                del open_tags[len(open_tags) - 1 - open_tags[::-1].index(name) :]
        elif len(open_tags) < _MAX_DEPTH:
            open_tags.append(name)
        else:
            kept.append(html_text[position : match.start()])
            position = match.end()
    if not kept:
        return html_text
    kept.append(html_text[position:])
    return "".join(kept)


def safe_url(
    url: str | None,
    *,
    base_url: str | None = None,
    schemes: Collection[str] = WEB_SCHEMES,
) -> str | None:
    """Return ``url`` made absolute against ``base_url`` if its scheme is allowed, else None.

    Control characters and surrounding whitespace are removed first, and the scheme is
    checked both as written and with HTML entities decoded, so ``&#106;avascript:``
    and ``java\\tscript:`` are refused. A protocol-relative URL (``//host/path``)
    without a base becomes https. http(s) URLs must have a host.
    """
    if url is None:
        return None
    candidate = _strip_url_noise(url)
    if not candidate:
        return None
    decoded_scheme = _scheme(_strip_url_noise(html.unescape(candidate)))
    if decoded_scheme is not None and decoded_scheme not in schemes:
        return None
    absolute = _make_absolute(candidate, _web_base(base_url))
    if absolute is None:
        return None
    return absolute if _is_allowed_absolute(absolute, schemes) else None


def _strip_url_noise(url: str) -> str:
    """Return ``url`` without control characters and surrounding whitespace."""
    return _URL_CONTROL.sub("", strip_xml_illegal(url)).strip()


def _scheme(url: str) -> str | None:
    """Return the lower-cased scheme of ``url``, or None for a relative reference."""
    try:
        scheme = urlsplit(url).scheme
    except ValueError:
        # Unparseable (a bad IPv6 literal...): treat as having an unknown scheme.
        return "invalid"
    return scheme.lower() or None


def _web_base(base_url: str | None) -> str | None:
    """Return ``base_url`` if it is a usable absolute http(s) URL, else None."""
    if not base_url:
        return None
    base = _strip_url_noise(base_url)
    return base if _is_allowed_absolute(base, WEB_SCHEMES) else None


def _make_absolute(url: str, base: str | None) -> str | None:
    """Return ``url`` resolved against ``base``; None when relative with no base."""
    if _scheme(url) is not None:
        return url
    if base is not None:
        try:
            return urljoin(base, url)
        except ValueError:
            return None
    if url.startswith("//"):
        return "https:" + url
    return None


def _is_allowed_absolute(url: str, schemes: Collection[str]) -> bool:
    """Return True when ``url`` has an allowed scheme (and a host, for http/https)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        return False
    return bool(host) if scheme in WEB_SCHEMES else True
