"""One poll of one feed: fetch → parse → process (sanitize, dedup, categorize) → store.

Holds no global state: everything it needs comes in an ``Updater``.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from aggregator.categorize import Categorizer
from aggregator.dedup import canonical_url, content_hash, entry_identity, story_keys
from aggregator.errors import AggregatorError, FeedGoneError, HTTPStatusError
from aggregator.models import (
    Config,
    EntryData,
    FeedData,
    FeedFailure,
    FeedState,
    FeedUpdate,
    FetchResult,
    ProcessedEntry,
)
from aggregator.parse import parse_feed
from aggregator.sanitize import html_to_text, sanitize_html
from aggregator.schedule import next_check_after_error, next_check_after_success
from aggregator.storage import Storage

log = logging.getLogger(__name__)

SUMMARY_TEXT_CHARS = 1000
Status = Literal["ok", "not_modified", "failed"]


class FetchesFeeds(Protocol):
    def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult: ...


@dataclass(frozen=True)
class FeedOutcome:
    """What one poll of one feed did, for the summary and the logs."""

    feed_id: int
    url: str
    title: str
    status: Status
    new: int = 0
    updated: int = 0
    http_status: int | None = None
    error: str | None = None
    warning: str | None = None


@dataclass(frozen=True)
class Updater:
    """The collaborators of a poll, built once per config."""

    storage: Storage
    fetcher: FetchesFeeds
    categorizer: Categorizer
    section_slugs: dict[str, str]  # category name -> slug
    default_interval_seconds: int

    @classmethod
    def from_config(cls, config: Config, storage: Storage, fetcher: FetchesFeeds) -> Updater:
        return cls(
            storage=storage,
            fetcher=fetcher,
            categorizer=Categorizer(config.categories),
            section_slugs={category.name: category.slug for category in config.categories},
            default_interval_seconds=config.polling.interval_seconds,
        )

    def interval_for(self, feed: FeedState) -> int:
        return feed.interval_seconds or self.default_interval_seconds

    def update_feed(self, feed: FeedState, now: datetime | None = None) -> FeedOutcome:
        """Poll one feed and store what changed. Never raises for the feed's own faults.

        Fetch and parse errors are recorded on the feed (with their reason and the
        next retry time) and returned as a failed outcome.
        """
        now = now or datetime.now(UTC)
        try:
            return self._update(feed, now)
        except AggregatorError as e:
            return self._record_failure(feed, now, e)

    def _update(self, feed: FeedState, now: datetime) -> FeedOutcome:
        result = self.fetcher.fetch(feed.url, etag=feed.etag, last_modified=feed.last_modified)
        next_check_at = next_check_after_success(now, self.interval_for(feed))
        if result.not_modified:
            self.storage.record_not_modified(feed.id, fetched_at=now, next_check_at=next_check_at)
            return self._outcome(feed, "not_modified", http_status=304)
        assert result.body is not None
        body_hash = hashlib.sha256(result.body).hexdigest()
        if body_hash == feed.body_hash:
            # Byte-identical to the last body: nothing to parse (servers without ETag).
            self.storage.record_not_modified(
                feed.id, fetched_at=now, next_check_at=next_check_at, status=result.status
            )
            return self._outcome(feed, "not_modified", http_status=result.status)
        parsed = parse_feed(result.body, url=result.final_url, headers=result.headers)
        processed = self.process_entries(feed, parsed)
        stored = self.storage.store_feed_update(
            FeedUpdate(
                feed_id=feed.id,
                fetched_at=now,
                status=result.status,
                etag=result.etag,
                last_modified=result.last_modified,
                body_hash=body_hash,
                feed_title=parsed.title,
                site_url=parsed.link,
                subtitle=parsed.subtitle,
                permanent_redirect_url=result.permanent_redirect_url,
                next_check_at=next_check_at,
                entries=processed,
            )
        )
        if parsed.warning:
            log.info("%s: parsed with a warning: %s", feed.url, parsed.warning)
        return self._outcome(
            feed,
            "ok",
            title=feed.config_title or parsed.title or feed.url,
            http_status=result.status,
            new=stored.new,
            updated=stored.updated,
            warning=parsed.warning,
        )

    def process_entries(self, feed: FeedState, parsed: FeedData) -> tuple[ProcessedEntry, ...]:
        """Return the feed's new and changed entries, sanitized and categorized.

        Entries stored before with the same content are skipped before any
        sanitizing: on a typical poll that is almost all of them.
        """
        by_identity: dict[str, EntryData] = {}
        for entry in parsed.entries:
            by_identity.setdefault(entry_identity(entry), entry)
        stored_hashes = self.storage.get_entry_hashes(feed.id, list(by_identity))
        processed = []
        for identity, entry in by_identity.items():
            entry_hash = content_hash(entry)
            if stored_hashes.get(identity) == entry_hash:
                continue
            processed.append(self._process(feed, parsed, identity, entry_hash, entry))
        return tuple(processed)

    def _process(
        self, feed: FeedState, parsed: FeedData, identity: str, entry_hash: str, entry: EntryData
    ) -> ProcessedEntry:
        base_url = entry.link or parsed.url
        summary_html = sanitize_html(entry.summary_html, base_url=base_url)
        content_html = sanitize_html(entry.content_html, base_url=base_url)
        summary_text = html_to_text(summary_html or content_html)[:SUMMARY_TEXT_CHARS]
        categorization = self.categorizer.categorize(
            title=entry.title,
            summary_text=summary_text,
            tags=entry.tags,
            feed_category=feed.category,
        )
        return ProcessedEntry(
            identity=identity,
            content_hash=entry_hash,
            guid=entry.guid,
            link=entry.link,
            canonical_url=canonical_url(entry.link) if entry.link else None,
            title=entry.title,
            summary_html=summary_html,
            content_html=content_html,
            summary_text=summary_text,
            author=entry.author,
            published=entry.published,
            updated=entry.updated,
            tags=categorization.tags,
            enclosures=entry.enclosures,
            sections=tuple(self.section_slugs[name] for name in categorization.sections),
            story_keys=story_keys(entry),
        )

    def _record_failure(
        self, feed: FeedState, now: datetime, error: AggregatorError
    ) -> FeedOutcome:
        status = error.status if isinstance(error, HTTPStatusError) else None
        retry_after = error.retry_after_seconds if isinstance(error, HTTPStatusError) else None
        gone = isinstance(error, FeedGoneError)
        reason = error.message
        if gone:
            reason = f"{reason}: the feed is gone; remove it from feeds.yaml"
        log.warning("%s: %s", feed.url, reason)
        self.storage.record_failure(
            FeedFailure(
                feed_id=feed.id,
                fetched_at=now,
                error=reason,
                status=status,
                gone=gone,
                retry_after_until=(
                    now + timedelta(seconds=retry_after) if retry_after is not None else None
                ),
                next_check_at=next_check_after_error(
                    now,
                    self.interval_for(feed),
                    feed.error_count + 1,
                    retry_after_seconds=retry_after,
                ),
            )
        )
        return self._outcome(feed, "failed", http_status=status, error=reason)

    @staticmethod
    def _outcome(
        feed: FeedState,
        status: Status,
        *,
        title: str | None = None,
        http_status: int | None = None,
        new: int = 0,
        updated: int = 0,
        error: str | None = None,
        warning: str | None = None,
    ) -> FeedOutcome:
        return FeedOutcome(
            feed_id=feed.id,
            url=feed.url,
            title=title or feed.title,
            status=status,
            new=new,
            updated=updated,
            http_status=http_status,
            error=error,
            warning=warning,
        )
