"""The merged feeds over HTTP: /feeds/<name>.atom|.rss|.json, /feeds.opml (the source
feeds) and /outputs.opml (the merged feeds themselves).

Outputs are public, except those marked private in feeds.yaml: they answer only with
a user's feed key (``?key=``), which their pages keep in their own links.

Pages are built by Aggregator.render_output (entries rendered once per change, kept in
memory here and stored in the database). A rendered page of an output is kept
until a poll changes one of the sections it shows (their ``section_versions``
stamp differs). A request whose validators
match the kept rendering is answered 304 without reading stories or rendering
anything; the section versions themselves are read at most once a second
(``FEEDS_VERSIONS_TTL`` in the Flask config), so most 304s touch no database.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Iterator, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Blueprint, Flask, Response, abort, current_app, request
from werkzeug.http import http_date, parse_date

from aggregator.config import Config
from aggregator.core import CONTENT_TYPES, Aggregator
from aggregator.errors import InvalidCursorError
from aggregator.web import aggregator

blueprint = Blueprint("outputs", __name__)

CACHE_EXTENSION_KEY = "aggregator.feeds"
CACHE_SIZE = 256  # renderings kept (output x format x page)
RENDERINGS_SIZE = 5000  # rendered entries kept; a few KB each
MAX_AGE_CAP = 3600  # seconds; subscribers should not wait longer than this for news
# Seconds a read of the section versions is trusted. A poll's changes show up this
# much later at most, next to the minutes of max-age the responses allow anyway.
VERSIONS_TTL = 1.0
VERSIONS_TTL_CONFIG = "FEEDS_VERSIONS_TTL"
PRIVATE_MESSAGE = (
    "This feed is private: subscribe with the address on your Settings page of the "
    "reader (it holds your feed key).\n"
)


@dataclass
class RenderedPage:
    """One rendered page of an output, with its validators."""

    stamp: tuple[int, ...]  # the section versions it was built from
    body: bytes
    digest: str  # hash of body; the ETag is this, quoted (plus "-gz" when gzipped)
    last_modified: datetime | None
    gzipped: bytes | None = None  # made on first demand, then reused

    def gzip_body(self) -> bytes:
        if self.gzipped is None:
            # mtime=0: the same body always compresses to the same bytes.
            self.gzipped = gzip.compress(self.body, compresslevel=6, mtime=0)
        return self.gzipped


# Output name, format, page token, and a private output's feed key (its pages link to
# themselves with it).
CacheKey = tuple[str, str, str | None, str | None]
Versions = dict[str, tuple[int, datetime]]


class RenderingCache(MutableMapping[Hashable, bytes]):
    """publish.Renderings shared by the request threads: bounded, least recently used
    dropped first."""

    def __init__(self, size: int = RENDERINGS_SIZE) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, bytes] = OrderedDict()

    def __getitem__(self, key: Hashable) -> bytes:
        with self._lock:
            value = self._items[key]
            self._items.move_to_end(key)
            return value

    def __setitem__(self, key: Hashable, value: bytes) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def __delitem__(self, key: Hashable) -> None:
        with self._lock:
            del self._items[key]

    def __iter__(self) -> Iterator[Hashable]:
        with self._lock:
            return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


class FeedCache:
    """Renderings by (output, format, page), least recently used dropped first, and
    the rendered entries they are made of (shared by every output and page).

    Everything rendered is dropped when the aggregator's config changes.
    """

    def __init__(self, size: int = CACHE_SIZE, versions_ttl: float = VERSIONS_TTL) -> None:
        self.size = size
        self.versions_ttl = versions_ttl
        self.builds = 0  # renderings made, for tests and benchmarks
        self.rendered_entries = 0  # entries rendered for them (not found kept or stored)
        self._lock = threading.Lock()
        self._renderings: OrderedDict[CacheKey, RenderedPage] = OrderedDict()
        self._versions: dict[tuple[str, ...], tuple[float, Versions]] = {}
        self.renderings = RenderingCache()
        self._config: Config | None = None

    def follow(self, config: Config) -> None:
        """Forget what was rendered under another config (titles, sections, outputs)."""
        with self._lock:
            if config is not self._config:
                self._config = config
                self._renderings.clear()
                self.renderings.clear()

    def section_versions(self, source: Aggregator, keys: tuple[str, ...]) -> Versions:
        """Return the section versions of ``keys``, read again at most every versions_ttl s."""
        now = time.monotonic()
        with self._lock:
            kept = self._versions.get(keys)
        if kept is not None and now - kept[0] < self.versions_ttl:
            return kept[1]
        versions = source.output_versions(keys)
        with self._lock:
            self._versions[keys] = (now, versions)
        return versions

    def get(self, key: CacheKey) -> RenderedPage | None:
        with self._lock:
            rendering = self._renderings.get(key)
            if rendering is not None:
                self._renderings.move_to_end(key)
            return rendering

    def put(self, key: CacheKey, rendering: RenderedPage) -> None:
        with self._lock:
            self.builds += 1
            self._renderings[key] = rendering
            self._renderings.move_to_end(key)
            while len(self._renderings) > self.size:
                self._renderings.popitem(last=False)

    def clear(self) -> None:
        """Forget every rendering, rendered entry and read of the section versions."""
        with self._lock:
            self._renderings.clear()
            self._versions.clear()
        self.renderings.clear()


def feed_cache(app: Flask | None = None) -> FeedCache:
    """The FeedCache of an app (default: the current one)."""
    cache = (app or current_app).extensions[CACHE_EXTENSION_KEY]
    assert isinstance(cache, FeedCache)
    return cache


# --- views -------------------------------------------------------------------------------


@blueprint.get("/feeds/<name>.<any(atom, rss, json):fmt>")
def merged_feed(name: str, fmt: str) -> Response:
    """One page of an output: 200, 304, 404 for an unknown output, 400 for a bad token."""
    source = aggregator()
    config = source.config
    cache = feed_cache()
    cache.follow(config)
    output = source.outputs().get(name)
    if output is None:
        abort(404)
    key = None
    if output.private:
        key = request.args.get("key") or ""
        if source.feed_token_user(key) is None:
            return Response(PRIVATE_MESSAGE, 403, mimetype="text/plain")
    token = request.args.get("before") or None
    versions = cache.section_versions(source, output.version_keys)
    # The config object is replaced on every reload of feeds.yaml: a new one (new
    # titles, sections or outputs) invalidates the kept renderings.
    stamp = (id(config), *(versions[k][0] if k in versions else 0 for k in output.version_keys))
    cache_key = (name, fmt, token, key)
    rendering = cache.get(cache_key)
    built = None
    if rendering is None or rendering.stamp != stamp:
        changed_at = max(
            (versions[k][1] for k in output.version_keys if k in versions), default=None
        )
        built = source.render_output(
            name, fmt, before=token, renderings=cache.renderings, save=False, key=key
        )
        cache.rendered_entries += built.rendered
        rendering = _rendering(built.body, stamp, changed_at, rendering)
        cache.put(cache_key, rendering)
    response = _respond(rendering, CONTENT_TYPES[fmt], _max_age(config), private=output.private)
    if built is not None and built.new_renderings:
        # Stored once the response is sent: the subscriber does not wait for the write.
        response.call_on_close(
            functools.partial(source.save_renderings, fmt, built.context, built.new_renderings)
        )
    hub = config.site.websub_hub
    if hub and token is None and not output.private:
        # WebSub discovery (W3C WebSub §4): the hub and the topic URL.
        self_url = source.output_url(name, fmt)
        response.headers["Link"] = f'<{hub}>; rel="hub", <{self_url}>; rel="self"'
    return response


@blueprint.get("/feeds.opml")
def subscriptions() -> Response:
    """The subscription list as OPML (small: built on every request, still 304-able)."""
    source = aggregator()
    rendering = _rendering(source.render_opml(), (), None, None)
    return _respond(rendering, CONTENT_TYPES["opml"], _max_age(source.config))


@blueprint.get("/outputs.opml")
def outputs_opml() -> Response:
    """The merged feeds as OPML, to subscribe to all of them at once."""
    source = aggregator()
    rendering = _rendering(source.render_outputs_opml(), (), None, None)
    return _respond(rendering, CONTENT_TYPES["opml"], _max_age(source.config))


@blueprint.errorhandler(InvalidCursorError)
def invalid_cursor(error: InvalidCursorError) -> Response:
    return Response(
        f"{error.message}: use the next links the feed gives\n", 400, mimetype="text/plain"
    )


# --- building ----------------------------------------------------------------------------


def _rendering(
    body: bytes,
    stamp: tuple[int, ...],
    changed_at: datetime | None,
    previous: RenderedPage | None,
) -> RenderedPage:
    digest = hashlib.blake2b(body, digest_size=16).hexdigest()
    if previous is not None and previous.digest == digest:
        # A poll touched the sections but not this page: same bytes, same validators.
        return RenderedPage(stamp, previous.body, digest, previous.last_modified, previous.gzipped)
    now = datetime.now(UTC)
    # Never in the future (RFC 9110 §8.8.2.1), and whole seconds as HTTP dates are.
    last_modified = min(changed_at or now, now).replace(microsecond=0)
    return RenderedPage(stamp, body, digest, last_modified)


# --- HTTP --------------------------------------------------------------------------------


def _max_age(config: Config) -> int:
    return max(1, min(config.polling.interval_seconds, MAX_AGE_CAP))


def _respond(
    rendering: RenderedPage, content_type: str, max_age: int, *, private: bool = False
) -> Response:
    """The 200 or 304 response for a rendering, honouring the request's validators
    and Accept-Encoding; a private output's is not kept by shared caches."""
    gzipped = request.accept_encodings.quality("gzip") > 0
    etag = f'"{rendering.digest}-gz"' if gzipped else f'"{rendering.digest}"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"{'private' if private else 'public'}, max-age={max_age}",
        "Vary": "Accept-Encoding",
    }
    if rendering.last_modified is not None:
        headers["Last-Modified"] = http_date(rendering.last_modified)
    if _not_modified(rendering):
        return Response(status=304, headers=headers)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
        body = rendering.gzip_body()
    else:
        body = rendering.body
    return Response(body, 200, headers, content_type=f"{content_type}; charset=utf-8")


def _not_modified(rendering: RenderedPage) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        # Weak comparison (RFC 9110 §13.1.2); either coding of this body matches.
        current = {rendering.digest, f"{rendering.digest}-gz"}
        for tag in if_none_match.split(","):
            tag = tag.strip().removeprefix("W/").strip('"')
            if tag == "*" or tag in current:
                return True
        return False
    # If-Modified-Since counts only without If-None-Match (RFC 9110 §13.1.3).
    since = parse_date(request.headers.get("If-Modified-Since"))
    return (
        since is not None
        and rendering.last_modified is not None
        and rendering.last_modified <= since
    )


def init_app(app: Flask) -> None:
    """Register the feeds blueprint and give the app its FeedCache."""
    versions_ttl = float(app.config.get(VERSIONS_TTL_CONFIG, VERSIONS_TTL))
    app.extensions[CACHE_EXTENSION_KEY] = FeedCache(versions_ttl=versions_ttl)
    app.register_blueprint(blueprint)
