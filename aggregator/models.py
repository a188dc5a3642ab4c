"""Plain data passed between modules: frozen dataclasses of our own.

Library objects (feedparser dicts, SQLAlchemy rows, pydantic models, urllib3
responses) never cross a module boundary; these do.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# --- configuration (built by config.py) ---------------------------------------


@dataclass(frozen=True)
class SiteConfig:
    title: str = "Newsroom"
    base_url: str = "http://localhost:8000"
    icon: str | None = None  # absolute http(s) URL of a square icon for the merged feeds
    websub_hub: str | None = None  # absolute http(s) URL of a WebSub hub to ping


@dataclass(frozen=True)
class StorageConfig:
    # Always an absolute SQLAlchemy URL once loaded (relative sqlite paths are
    # resolved against the config file's folder).
    url: str = "sqlite:///aggregator.db"
    retention_seconds: int | None = 90 * 86400  # None keeps entries forever


@dataclass(frozen=True)
class PollingConfig:
    interval_seconds: int = 30 * 60
    allow_private_networks: bool = False
    workers: int = 16
    per_host: int = 2
    timeout_seconds: float = 30.0  # total deadline per fetch
    connect_timeout_seconds: float = 10.0
    max_body_bytes: int = 15 * 1024 * 1024
    min_interval_seconds: int = 5 * 60  # no feed is polled more often, whatever it asks
    max_interval_seconds: int = 24 * 3600  # nor less often, unless it failed or is gone
    host_spacing_seconds: float = 1.0  # between two requests to one host
    error_threshold: int = 3  # consecutive errors before a feed is flagged


@dataclass(frozen=True)
class CategoryConfig:
    name: str
    slug: str
    aliases: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeedConfig:
    # For http(s) feeds: the URL as written. For local files: a file:// URL with
    # an absolute path (resolved against the config file's folder).
    url: str
    title: str | None = None
    category: str | None = None  # a category *name* defined in categories
    interval_seconds: int | None = None
    line: int | None = None  # line in feeds.yaml, for messages


@dataclass(frozen=True)
class PublishConfig:
    page_size: int = 50  # entries per page of a merged feed


@dataclass(frozen=True)
class OutputConfig:
    """A custom merged feed, published at /feeds/<name>.atom|.rss|.json."""

    name: str  # URL slug, unique among outputs and category slugs, never "all"
    title: str
    description: str | None = None
    categories: tuple[str, ...] = ()  # category *names*; () means every section
    include: tuple[str, ...] = ()  # phrases; a story must mention one (none: no filter)
    exclude: tuple[str, ...] = ()  # phrases; a story mentioning any is left out
    line: int | None = None  # line in feeds.yaml, for messages


@dataclass(frozen=True)
class Config:
    path: str  # the feeds.yaml this came from
    site: SiteConfig = field(default_factory=SiteConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    polling: PollingConfig = field(default_factory=PollingConfig)
    categories: tuple[CategoryConfig, ...] = ()
    feeds: tuple[FeedConfig, ...] = ()
    publish: PublishConfig = field(default_factory=PublishConfig)
    outputs: tuple[OutputConfig, ...] = ()


# --- fetching (built by fetch.py) ----------------------------------------------


@dataclass(frozen=True)
class FetchResult:
    """A successful fetch: 200 with a body, or 304 Not Modified (body is None)."""

    url: str  # the URL asked for
    final_url: str  # after redirects
    status: int  # 200 or 304
    body: bytes | None
    headers: dict[str, str]  # lower-cased header names of the final response
    etag: str | None = None
    last_modified: str | None = None
    # Target of the last permanent (301/308) redirect in the chain, if any.
    permanent_redirect_url: str | None = None
    elapsed_seconds: float = 0.0

    @property
    def not_modified(self) -> bool:
        return self.status == 304


# --- parsing (built by parse.py) -----------------------------------------------


@dataclass(frozen=True)
class Enclosure:
    url: str  # http(s) only
    type: str | None = None
    length: int | None = None


@dataclass(frozen=True)
class EntryData:
    """One item as the feed gave it. HTML fields are NOT yet sanitized."""

    guid: str | None
    link: str | None  # absolute http(s) or None
    title: str  # plain text (tags stripped, entities decoded)
    summary_html: str  # HTML (plain text summaries are escaped into HTML)
    content_html: str  # HTML; "" when the feed has no full content
    author: str | None = None
    published: datetime | None = None  # timezone-aware UTC
    updated: datetime | None = None  # timezone-aware UTC
    tags: tuple[str, ...] = ()
    enclosures: tuple[Enclosure, ...] = ()


@dataclass(frozen=True)
class FeedData:
    """A parsed feed. Text fields are plain text, free of XML-illegal characters."""

    url: str  # where it was fetched from (final URL)
    title: str | None
    link: str | None  # the site's home page
    subtitle: str | None = None
    ttl_minutes: int | None = None
    skip_hours: tuple[int, ...] = ()
    skip_days: tuple[str, ...] = ()
    update_period: str | None = None  # sy:updatePeriod
    update_frequency: int | None = None  # sy:updateFrequency
    entries: tuple[EntryData, ...] = ()
    # Problems that did not stop parsing (feedparser's "bozo" reason).
    warning: str | None = None


# --- storage (read by update.py, the reader and the publisher) ----------------


@dataclass(frozen=True)
class FeedState:
    """A feed as stored: its config and its polling state."""

    id: int
    url: str
    config_title: str | None
    category: str | None  # default section name
    interval_seconds: int | None
    active: bool
    feed_title: str | None
    site_url: str | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    permanent_redirect_url: str | None
    last_fetched_at: datetime | None
    last_success_at: datetime | None
    last_status: int | None
    last_error: str | None
    error_count: int
    gone: bool
    retry_after_until: datetime | None
    next_check_at: datetime | None
    # Where to fetch from: a permanent redirect seen 3 times in a row, else url.
    fetch_url: str | None = None
    redirect_target: str | None = None  # last permanent redirect target seen...
    redirect_count: int = 0  # ...this many times in a row
    publisher_hints: dict[str, Any] | None = None  # ttl, skipHours, ... as last seen

    @property
    def title(self) -> str:
        return self.config_title or self.feed_title or self.url

    @property
    def effective_url(self) -> str:
        return self.fetch_url or self.url


@dataclass(frozen=True)
class ProcessedEntry:
    """An entry ready to store: sanitized, categorized, with its story keys."""

    identity: str
    content_hash: str
    guid: str | None
    link: str | None
    canonical_url: str | None
    title: str
    summary_html: str  # sanitized
    content_html: str  # sanitized
    summary_text: str  # plain text of the summary (or content), for search and snippets
    author: str | None
    published: datetime | None
    updated: datetime | None
    tags: tuple[str, ...]  # tags that named no section
    enclosures: tuple[Enclosure, ...]
    sections: tuple[str, ...]  # category slugs
    story_keys: tuple[str, ...]
    source_tags: tuple[str, ...] = ()  # every tag the item carried


@dataclass(frozen=True)
class FeedUpdate:
    """Everything one successful poll of one feed writes, in one transaction."""

    feed_id: int
    fetched_at: datetime
    status: int
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    feed_title: str | None
    site_url: str | None
    subtitle: str | None
    permanent_redirect_url: str | None
    next_check_at: datetime
    entries: tuple[ProcessedEntry, ...] = ()
    duration_ms: int | None = None
    body_bytes: int | None = None
    publisher_hints: dict[str, Any] | None = None
    redirect_target: str | None = None
    redirect_count: int = 0
    fetch_url: str | None = None  # set when a permanent redirect is confirmed


@dataclass(frozen=True)
class FeedFailure:
    """What a failed poll records on its feed."""

    feed_id: int
    fetched_at: datetime
    error: str
    next_check_at: datetime
    status: int | None = None
    gone: bool = False
    retry_after_until: datetime | None = None
    permanent_redirect_url: str | None = None
    duration_ms: int | None = None


@dataclass(frozen=True)
class FetchAttempt:
    """One poll of a feed, as kept in its history."""

    attempted_at: datetime
    outcome: str  # ok, not_modified, failed
    http_status: int | None
    duration_ms: int | None
    bytes: int | None
    new_entries: int
    updated_entries: int
    error: str | None


@dataclass(frozen=True)
class StoreResult:
    new: int = 0
    updated: int = 0


# --- reading (built by storage, shown by the reader and the publisher) ---------


@dataclass(frozen=True)
class EntryView:
    """A stored entry with its feed, as the reader and the publisher show it."""

    id: int
    story_id: int
    feed_id: int
    feed_title: str
    feed_url: str
    feed_site_url: str | None
    guid: str | None
    link: str | None
    title: str
    summary_html: str  # sanitized
    content_html: str  # sanitized
    summary_text: str
    author: str | None
    published: datetime | None
    updated: datetime | None  # the source's own updated date
    first_seen_at: datetime
    changed_at: datetime
    sort_at: datetime
    tags: tuple[str, ...]
    enclosures: tuple[Enclosure, ...]
    sections: tuple[str, ...]  # category slugs


@dataclass(frozen=True)
class StoryView:
    """A story: its first report (lead) and the other feeds' reports of it."""

    id: int
    sort_at: datetime
    changed_at: datetime
    lead: EntryView
    others: tuple[EntryView, ...]  # "also reported by", oldest first
    sections: tuple[str, ...]

    @property
    def stamp(self) -> str:
        """story_stamp of this story: changes whenever what a feed shows of it may."""
        return story_stamp(
            self.id,
            self.sort_at,
            self.changed_at,
            self.sections,
            (
                (e.id, e.feed_id, e.feed_title, e.feed_url, e.feed_site_url)
                for e in (self.lead, *self.others)
            ),
        )


# One report of a story as story_stamp sees it: entry id, feed id, the feed's title
# (as shown), URL and site URL.
ReportStamp = tuple[int, int, str, str, str | None]


def story_stamp(
    story_id: int,
    sort_at: datetime,
    changed_at: datetime,
    sections: tuple[str, ...],
    reports: Iterable[ReportStamp],
) -> str:
    """A digest of everything a published entry is made from, lead report first.

    The entries' own text is covered by the story's ``changed_at``, which storage
    moves with every change of any of its entries; the feeds' names and addresses,
    the story's sections and which reports it has are in the digest themselves.
    Stored renderings of a story are reused while its stamp is unchanged. Stable
    across processes.
    """
    parts = (story_id, sort_at.timestamp(), changed_at.timestamp(), sections, *reports)
    return hashlib.blake2b(repr(parts).encode("utf-8"), digest_size=16).hexdigest()


@dataclass(frozen=True)
class StoryCursor:
    """Keyset position: stories strictly older than this one come next."""

    sort_at: datetime
    story_id: int


@dataclass(frozen=True)
class StoryPage:
    stories: tuple[StoryView, ...]
    next_cursor: StoryCursor | None  # None on the last page


@dataclass(frozen=True)
class StoryRef:
    """What a merged-feed page needs of a story whose entry may be rendered already."""

    id: int
    sort_at: datetime
    changed_at: datetime
    stamp: str  # story_stamp
    # (stamp, body) of the story's stored rendering, when asked for and there is one
    # (it is stale when its stamp differs from ``stamp``).
    stored: tuple[str, bytes] | None = None


@dataclass(frozen=True)
class StoryRefPage:
    refs: tuple[StoryRef, ...]
    next_cursor: StoryCursor | None  # None on the last page
