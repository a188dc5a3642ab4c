"""Identity, canonical URLs and verbatim-copy fingerprints."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregator.process import (
    canonical_url,
    content_hash,
    entry_identity,
    story_keys,
    text_fingerprint,
)
from aggregator.types import EntryData


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM/a/b", "https://example.com/a/b"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),
        ("http://example.com:8080/a/", "http://example.com:8080/a"),
        ("https://example.com/a#section-2", "https://example.com/a"),
        ("https://example.com/a/", "https://example.com/a"),
        ("https://example.com/", "https://example.com"),
        ("https://example.com/a?utm_source=rss&utm_medium=feed", "https://example.com/a"),
        ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
        (
            "https://example.com/a?fbclid=x&gclid=y&mc_cid=1&mc_eid=2&id=7",
            "https://example.com/a?id=7",
        ),
        ("https://example.com/2026/11/story/amp", "https://example.com/2026/11/story"),
        ("https://example.com/2026/11/story/amp/", "https://example.com/2026/11/story"),
        ("https://example.com/?p=58395", "https://example.com?p=58395"),
        ("https://example.com/%7Euser/a%2Fb", "https://example.com/~user/a%2Fb"),
        ("https://example.com./a", "https://example.com/a"),
        ("mailto:someone@example.com", "mailto:someone@example.com"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_newsroom_style_variants_fold_to_one_url() -> None:
    variants = [
        "https://lakeshore-tribune.example/2026/11/05/uss-caldwell-reyes-deploys",
        "https://lakeshore-tribune.example/2026/11/05/uss-caldwell-reyes-deploys?utm_source=rss&utm_medium=feed",
        "http://lakeshore-tribune.example/2026/11/05/uss-caldwell-reyes-deploys/",
        "https://LAKESHORE-TRIBUNE.example/2026/11/05/uss-caldwell-reyes-deploys/amp",
    ]
    assert len({canonical_url(url) for url in variants}) == 1


@pytest.mark.parametrize(
    "url",
    [
        "https://news.example/2026/11/09/border-crossing-reopens/amp",
        "https://news.example/2026/11/09/border-crossing-reopens/amp/",
        "https://news.example/amp/2026/11/09/border-crossing-reopens",
        "https://amp.news.example/2026/11/09/border-crossing-reopens",
        "https://news.example/2026/11/09/border-crossing-reopens?amp",
        "https://news.example/2026/11/09/border-crossing-reopens?amp=1",
        "https://news.example/2026/11/09/border-crossing-reopens?amp=true",
        "https://news.example/2026/11/09/border-crossing-reopens?outputType=amp",
        "http://amp.news.example/amp/2026/11/09/border-crossing-reopens/amp/?utm_source=x",
    ],
)
def test_amp_forms_fold_into_the_article_page(url: str) -> None:
    assert canonical_url(url) == "https://news.example/2026/11/09/border-crossing-reopens"


def test_amp_html_page_folds_into_the_html_page() -> None:
    assert canonical_url("https://paper.example/world/quake.amp.html") == (
        "https://paper.example/world/quake.html"
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://amp.dev/documentation",  # a site named amp, not an AMP host
        "https://news.example/ampersand/story",
        "https://news.example/story/amplifier",
        "https://news.example/story?amp=0",
        "https://news.example/story.amphtml",
    ],
)
def test_words_that_merely_contain_amp_are_kept(url: str) -> None:
    assert canonical_url(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://amp.amp.news.example/amp/amp/a/amp/amp",
        "https://news.example/a.amp.amp.html",
        "https://news.example/amp/",
    ],
)
def test_repeated_amp_forms_are_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


_segment = st.text(alphabet="abcXYZ09-._~%20/", min_size=0, max_size=12)
_param = st.sampled_from(["id", "p", "utm_source", "utm_campaign", "fbclid", "q", "page", "amp"])
_urls = st.builds(
    lambda scheme, host, port, path, params, fragment: (
        f"{scheme}://{host}{port}/{path}"
        + ("?" + "&".join(f"{k}={v}" for k, v in params) if params else "")
        + (f"#{fragment}" if fragment else "")
    ),
    st.sampled_from(["http", "https", "HTTP", "HtTpS"]),
    st.sampled_from(["example.com", "News.Example.ORG", "127.0.0.1", "[::1]"]),
    st.sampled_from(["", ":80", ":443", ":8080"]),
    _segment,
    st.lists(st.tuples(_param, st.text(alphabet="abc123", max_size=4)), max_size=4),
    st.text(alphabet="abc", max_size=3),
)


@given(_urls)
def test_canonical_url_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert canonical_url(once) == once


@given(_urls)
def test_canonical_url_keeps_what_the_url_points_to(url: str) -> None:
    """Host, non-default port, path words and non-tracking parameters all survive."""
    original = urlsplit(url)
    canonical = urlsplit(canonical_url(url))
    assert canonical.hostname == original.hostname.lower()
    if original.port not in (None, 80, 443):
        assert canonical.port == original.port
    kept = sorted(
        pair
        for pair in original.query.split("&")
        if pair and not pair.startswith(("utm_", "fbclid=")) and pair not in ("amp=", "amp=1")
    )
    assert sorted(p for p in canonical.query.split("&") if p) == kept
    assert canonical.fragment == ""
    original_words = [w for w in original.path.split("/") if w]
    canonical_words = [w for w in canonical.path.split("/") if w]
    # Only an /amp suffix may go; every other segment stays, in order.
    if original_words and original_words[-1] == "amp" and canonical_words != original_words:
        original_words = original_words[:-1]
    assert len(canonical_words) == len(original_words)


def _entry(**overrides: object) -> EntryData:
    values: dict[str, object] = {
        "guid": None,
        "link": None,
        "title": "Title",
        "summary_html": "",
        "content_html": "",
    }
    values.update(overrides)
    return EntryData(**values)  # type: ignore[arg-type]


def test_identity_prefers_guid_then_link_then_hash() -> None:
    assert entry_identity(_entry(guid=" 18592 ", link="https://x.example/a")) == "guid:18592"
    assert entry_identity(_entry(link="https://x.example/a?utm_source=rss")) == (
        "url:https://x.example/a"
    )
    first = entry_identity(_entry(title="A", published=datetime(2026, 11, 2, tzinfo=UTC)))
    again = entry_identity(_entry(title="A", published=datetime(2026, 11, 2, tzinfo=UTC)))
    other = entry_identity(_entry(title="A", published=datetime(2026, 11, 3, tzinfo=UTC)))
    assert first.startswith("hash:")
    assert first == again != other


def test_content_hash_changes_with_title_or_body_only() -> None:
    base = _entry(guid="1", title="Soldier killed", content_html="<p>text</p>")
    assert content_hash(base) == content_hash(
        _entry(guid="1", title="Soldier killed", content_html="<p>text</p>")
    )
    assert content_hash(base) != content_hash(
        _entry(guid="1", title="Army identifies soldier", content_html="<p>text</p>")
    )
    assert content_hash(base) != content_hash(
        _entry(guid="1", title="Soldier killed", content_html="<p>more</p>")
    )


WIRE_TEXT = (
    "<p>" + "The Marine Corps said an MV-22 Osprey made a precautionary landing. " * 5 + "</p>"
)


def test_verbatim_copy_has_same_fingerprint_whatever_the_markup() -> None:
    wire = text_fingerprint("Osprey lands in field", WIRE_TEXT)
    copy = text_fingerprint("Osprey lands in field", WIRE_TEXT.replace("<p>", "<div class='x'>"))
    assert wire is not None and wire == copy
    assert text_fingerprint("Osprey lands in a field", WIRE_TEXT) != wire


def test_short_texts_have_no_fingerprint() -> None:
    assert text_fingerprint("Weather", "<p>Sunny.</p>") is None


def test_story_keys_from_url_and_text() -> None:
    keys = story_keys(_entry(link="http://x.example/a/", title="T", content_html=WIRE_TEXT))
    assert keys[0] == "url:https://x.example/a"
    assert keys[1].startswith("text:")
