"""What storage is given to write: one poll's entries and outcome."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aggregator.types import Enclosure


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
class StoreResult:
    new: int = 0
    updated: int = 0
