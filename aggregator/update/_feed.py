"""One poll of one feed: fetch → parse → process (sanitize, dedup, categorize) → store.

Holds no global state: everything it needs comes in an ``Updater``.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

from aggregator.config import Config
from aggregator.errors import (
    AggregatorError,
    FeedGoneError,
    FetchCancelledError,
    HTTPStatusError,
)
from aggregator.fetch import FetchResult
from aggregator.parse import parse_feed
from aggregator.process import (
    SectionRules,
    canonical_url,
    content_hash,
    entry_identity,
    html_to_text,
    match_text,
    sanitize_html,
    story_keys,
)
from aggregator.storage import FeedFailure, FeedUpdate, ProcessedEntry, Storage
from aggregator.types import EntryData, FeedData, FeedState
from aggregator.update._schedule import (
    Bounds,
    PublisherHints,
    RedirectState,
    cache_hints_from_headers,
    next_check_after_error,
    next_check_after_success,
    observe_redirect,
)
from aggregator.update._writer import DirectWriter, PollWriter

log = logging.getLogger(__name__)

SUMMARY_TEXT_CHARS = 1000
DEFAULT_BOUNDS = Bounds()
RATE_WINDOW = timedelta(days=14)  # how far back a feed's publishing rate is measured
# cancelled: the fetch was abandoned because the service is stopping; nothing was
# recorded and the feed stays due.
Status = Literal["ok", "not_modified", "failed", "cancelled"]


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

    storage: Storage  # read from by the pollers (schedule, stored hashes)
    fetcher: FetchesFeeds
    rules: SectionRules  # to tell an entry's section tags from its plain tags
    default_interval_seconds: int
    # Where polls are written: the process's writer thread, or storage directly.
    writer: PollWriter

    bounds: Bounds = DEFAULT_BOUNDS
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @classmethod
    def from_config(
        cls,
        config: Config,
        storage: Storage,
        fetcher: FetchesFeeds,
        *,
        clock: Callable[[], datetime] | None = None,
        writer: PollWriter | None = None,
    ) -> Updater:
        """The collaborators of a config's polls; ``clock`` tells each poll its time.

        Without a ``writer``, polls are written by the calling thread, their stories
        decided by exact keys alone (tests of the parts before storage).
        """
        return cls(
            clock=clock or (lambda: datetime.now(UTC)),
            storage=storage,
            fetcher=fetcher,
            rules=SectionRules(config.sections),
            writer=writer or DirectWriter(storage),
            default_interval_seconds=config.polling.interval_seconds,
            bounds=Bounds(config.polling.min_interval_seconds, config.polling.max_interval_seconds),
        )

    def interval_for(self, feed: FeedState) -> int:
        return feed.interval_seconds or self.default_interval_seconds

    def update_feed(self, feed: FeedState, now: datetime | None = None) -> FeedOutcome:
        """Poll one feed and store what changed. Never raises for the feed's own faults.

        Fetch and parse errors are recorded on the feed (with their reason and the
        next retry time) and returned as a failed outcome.
        """
        now = now or self.clock()
        started = time.monotonic()
        try:
            return self._update(feed, now, started)
        except FetchCancelledError:
            return self._outcome(feed, "cancelled")
        except AggregatorError as e:
            return self._record_failure(feed, now, e, _elapsed_ms(started))

    def _next_check(
        self, feed: FeedState, now: datetime, result: FetchResult, feed_hints: dict[str, Any] | None
    ) -> datetime:
        max_age, expires_at = cache_hints_from_headers(result.headers)
        stored = feed_hints or {}
        hints = PublisherHints(
            max_age_seconds=max_age,
            expires_at=expires_at,
            ttl_minutes=stored.get("ttl_minutes"),
            skip_hours=tuple(stored.get("skip_hours") or ()),
            skip_days=tuple(stored.get("skip_days") or ()),
            update_period=stored.get("update_period"),
            update_frequency=stored.get("update_frequency"),
        )
        recent = self.storage.count_entries_since(feed.id, now - RATE_WINDOW)
        return next_check_after_success(
            now,
            self.interval_for(feed),
            hints=hints,
            bounds=self.bounds,
            entries_in_window=recent,
            window=RATE_WINDOW,
        )

    def _update(self, feed: FeedState, now: datetime, started: float) -> FeedOutcome:
        result = self.fetcher.fetch(
            feed.effective_url, etag=feed.etag, last_modified=feed.last_modified
        )
        redirect = _observe_redirect(feed, result)
        unchanged = result.not_modified or (
            result.body is not None and _body_hash(result.body) == feed.body_hash
        )
        if not unchanged:
            try:
                return self._store(feed, now, started, result, redirect)
            except AggregatorError as e:  # the server answered; what it sent is no feed
                return self._record_failure(
                    feed, now, e, _elapsed_ms(started), http_status=result.status
                )
        # 304, or byte-identical to the last body (servers without validators): nothing
        # to parse.
        self.writer.record_not_modified(
            feed.id,
            fetched_at=now,
            next_check_at=self._next_check(feed, now, result, feed.publisher_hints),
            status=result.status,
            duration_ms=_elapsed_ms(started),
            redirect_target=redirect.target,
            redirect_count=redirect.count,
            fetch_url=redirect.target if redirect.confirmed else None,
        )
        return self._outcome(feed, "not_modified", http_status=result.status)

    def _store(
        self,
        feed: FeedState,
        now: datetime,
        started: float,
        result: FetchResult,
        redirect: RedirectState,
    ) -> FeedOutcome:
        """Parse a new body, process its new and changed entries and store them."""
        assert result.body is not None
        parsed = parse_feed(result.body, url=result.final_url, headers=result.headers)
        feed_hints = _feed_hints(parsed)
        stored = self.writer.store(
            FeedUpdate(
                feed_id=feed.id,
                fetched_at=now,
                status=result.status,
                etag=result.etag,
                last_modified=result.last_modified,
                body_hash=_body_hash(result.body),
                feed_title=parsed.title,
                site_url=parsed.link,
                subtitle=parsed.subtitle,
                permanent_redirect_url=result.permanent_redirect_url,
                next_check_at=self._next_check(feed, now, result, feed_hints),
                entries=self.process_entries(feed, parsed),
                duration_ms=_elapsed_ms(started),
                body_bytes=len(result.body),
                publisher_hints=feed_hints,
                redirect_target=redirect.target,
                redirect_count=redirect.count,
                fetch_url=redirect.target if redirect.confirmed else None,
            )
        )
        if parsed.warning:
            log.info(
                "%s: parsed with a warning: %s",
                feed.url,
                parsed.warning,
                extra={"feed_url": feed.url},
            )
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
        new_identities = [identity for identity in by_identity if identity not in stored_hashes]
        # Entries removed by retention stay removed while the feed still lists them.
        for identity in self.storage.pruned_identities(feed.id, new_identities):
            del by_identity[identity]
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
        summary_plain = html_to_text(summary_html) if summary_html else ""
        content_plain = html_to_text(content_html) if content_html else ""
        return ProcessedEntry(
            identity=identity,
            content_hash=entry_hash,
            guid=entry.guid,
            link=entry.link,
            canonical_url=canonical_url(entry.link) if entry.link else None,
            title=entry.title,
            summary_html=summary_html,
            content_html=content_html,
            summary_text=(summary_plain or content_plain)[:SUMMARY_TEXT_CHARS],
            author=entry.author,
            # Many feeds (Atom without <published>, RSS 1.0 dc:date) only say when an
            # item was updated: that is then the best publication date there is.
            published=entry.published or entry.updated,
            updated=entry.updated,
            tags=self.rules.leftover_tags(entry.tags),
            enclosures=entry.enclosures,
            story_keys=story_keys(entry),
            source_tags=entry.tags,
            match_text=match_text(summary_plain, content_plain),
        )

    def _record_failure(
        self,
        feed: FeedState,
        now: datetime,
        error: AggregatorError,
        duration_ms: int,
        *,
        http_status: int | None = None,
    ) -> FeedOutcome:
        status = error.status if isinstance(error, HTTPStatusError) else http_status
        retry_after = error.retry_after_seconds if isinstance(error, HTTPStatusError) else None
        gone = isinstance(error, FeedGoneError)
        reason = error.message
        if gone:
            reason = f"{reason}: the feed is gone; remove it from feeds.yaml"
        log.warning("%s: %s", feed.url, reason, extra={"feed_url": feed.url, "status": status})
        self.writer.record_failure(
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
                duration_ms=duration_ms,
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


def _observe_redirect(feed: FeedState, result: FetchResult) -> RedirectState:
    """The feed's permanent-redirect state after this fetch (logged once confirmed)."""
    redirect = observe_redirect(
        RedirectState(feed.redirect_target, feed.redirect_count), result.permanent_redirect_url
    )
    if redirect.confirmed and redirect.target != feed.fetch_url:
        log.warning(
            "%s: moved permanently to %s (seen %d times): fetching the new address from "
            "now on; update feeds.yaml",
            feed.url,
            redirect.target,
            redirect.count,
            extra={"feed_url": feed.url},
        )
    return redirect


def _body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _feed_hints(parsed: FeedData) -> dict[str, Any]:
    """What a feed document says about itself, as stored on the feed: its polling
    hints, and its icon (fetched later, off the poll: see Aggregator.refresh_icons)."""
    return {
        "icon": parsed.icon,
        "ttl_minutes": parsed.ttl_minutes,
        "skip_hours": list(parsed.skip_hours),
        "skip_days": list(parsed.skip_days),
        "update_period": parsed.update_period,
        "update_frequency": parsed.update_frequency,
    }
