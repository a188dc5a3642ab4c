"""Identity of an item and exact-duplicate detection. Pure: no I/O.

- ``entry_identity``: what makes an entry "the same item" within one feed, so a
  changed title or body updates it in place instead of adding a new entry.
- ``canonical_url``: a normal form of an article URL, so the same article linked
  with tracking parameters, another scheme or a trailing slash is recognised.
- ``text_fingerprint``: a hash of the normalised words of an item, so a wire story
  republished verbatim under another URL is recognised as the same story.

Near-duplicates worded differently are a later concern; they will add other
story keys beside these two (see ``story_keys``).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import quote, unquote, unquote_plus, urlsplit, urlunsplit

from aggregator.process._sanitize import html_to_text
from aggregator.types import EntryData

# Query parameters that only say where a click came from. Removing them never
# changes which article a URL points to.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "yclid",
        "twclid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "rb_clickid",
        "s_cid",
        "vero_conv",
        "vero_id",
        "wt.mc_id",
        "ref_src",
        "cmpid",
        "ncid",
        "sr_share",
        "outputtype",  # Arc publishing's ?outputType=amp
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "ga_", "hsa_")
DEFAULT_PORTS = {"http": 80, "https": 443}
# Characters that never need percent-encoding in a path (RFC 3986 unreserved plus
# sub-delims, ':' and '@'); decoding escapes of these does not change the resource.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
MIN_FINGERPRINT_CHARS = 200  # shorter texts are too generic to call verbatim copies


def _is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


def _is_noise_param(pair: str) -> bool:
    name, _, value = pair.partition("=")
    name = unquote_plus(name)
    # ?amp, ?amp=1, ?amp=true ask for the AMP rendering of the same article.
    return _is_tracking(name) or (name.lower() == "amp" and value.lower() in ("", "1", "true"))


def _strip_amp_host(host: str) -> str:
    # amp.example.com serves the AMP rendering of example.com's articles. Keep at
    # least two labels ("amp.com" is a site of its own). A loop, so the result is
    # a fixed point and canonical_url stays idempotent.
    while host.startswith("amp.") and host.count(".") >= 2:
        host = host[len("amp.") :]
    return host


def _strip_amp_path(path: str) -> str:
    # The AMP forms publishers use for the same article: /amp/ at the start
    # (/amp/2026/11/story), /amp at the end (/2026/11/story/amp) and an .amp.html
    # page (story.amp.html). Repeated until nothing changes, for idempotence.
    while True:
        before = path
        path = path.rstrip("/")
        if path.endswith("/amp"):
            path = path[: -len("/amp")]
        if path.startswith("/amp/"):
            path = path[len("/amp") :]
        if path.endswith(".amp.html"):
            path = path[: -len(".amp.html")] + ".html"
        if path == before:
            return path


def _normalise_path(path: str) -> str:
    # Re-quote so equivalent spellings ("%7e" vs "~", "%2f" kept) compare equal.
    safe = _PATH_SAFE.replace("/", "")
    segments = [
        quote(unquote(seg, errors="surrogateescape"), safe=safe, errors="surrogateescape")
        for seg in path.split("/")
    ]
    # An AMP page is the same article as its canonical page.
    return _strip_amp_path("/".join(segments)).rstrip("/")


def canonical_url(url: str) -> str:
    """Return the canonical form of an http(s) URL; other strings come back stripped.

    Lower-case scheme and host, http folded into https, default port dropped,
    fragment dropped, tracking parameters dropped, remaining query sorted, trailing
    slash dropped, and the AMP forms of an article folded into its page: an
    ``amp.`` host, ``/amp/`` path prefix, ``/amp`` suffix, ``.amp.html`` page,
    ``?amp``/``?amp=1`` and ``?outputType=amp``. Idempotent.
    """
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return url
    host = _strip_amp_host(parts.hostname.lower().rstrip("."))
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is not None and port != DEFAULT_PORTS[scheme]:
        # A non-default port is another service: keep it, and the scheme with it.
        host = f"{host}:{port}"
    else:
        scheme = "https"  # the same page over http and https
    if parts.username is not None:
        userinfo = parts.username + (f":{parts.password}" if parts.password is not None else "")
        host = f"{userinfo}@{host}"
    # Parameters are kept exactly as written (only dropped or reordered), so the
    # server sees the same values it would have seen.
    kept = [pair for pair in parts.query.split("&") if pair and not _is_noise_param(pair)]
    query = "&".join(sorted(kept))
    return urlunsplit((scheme, host, _normalise_path(parts.path), query, ""))


def _hash(*parts: str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
    return digest.hexdigest()


def entry_identity(entry: EntryData) -> str:
    """Return the key of an entry within its feed: GUID, else canonical link, else a hash.

    The same identity seen again with a changed title or body is an update of the
    same entry, not a new one.
    """
    if entry.guid and entry.guid.strip():
        return "guid:" + entry.guid.strip()
    if entry.link:
        return "url:" + canonical_url(entry.link)
    published = entry.published.isoformat() if entry.published else ""
    return "hash:" + _hash(entry.title.strip(), published)


def normalise_words(text: str) -> str:
    """Lower-case words of a text, accents, punctuation and spacing folded."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.findall(r"\w+", folded))


def text_fingerprint(title: str, body_html: str) -> str | None:
    """Return a hash of an item's words, or None when the body is too short to be telling.

    Two items with the same fingerprint carry the same text (a wire story
    republished verbatim), whatever their markup or URLs.
    """
    body = normalise_words(html_to_text(body_html))
    if len(body) < MIN_FINGERPRINT_CHARS:
        return None
    return _hash(normalise_words(title), body)


def content_hash(entry: EntryData) -> str:
    """Hash of everything shown of an entry; a change means the entry was updated."""
    return _hash(
        entry.title,
        entry.link or "",
        entry.summary_html,
        entry.content_html,
        entry.author or "",
        entry.published.isoformat() if entry.published else "",
        entry.updated.isoformat() if entry.updated else "",
        "\x1e".join(entry.tags),
        "\x1e".join(f"{e.url} {e.type} {e.length}" for e in entry.enclosures),
    )


def story_keys(entry: EntryData) -> tuple[str, ...]:
    """Keys under which an entry joins a story shared with other feeds' entries."""
    keys: list[str] = []
    if entry.link:
        keys.append("url:" + canonical_url(entry.link))
    fingerprint = text_fingerprint(entry.title, entry.content_html or entry.summary_html)
    if fingerprint:
        keys.append("text:" + fingerprint)
    return tuple(keys)
