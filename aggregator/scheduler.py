"""The background jobs of ``aggregator serve``, on APScheduler.

- poll: every tick, claim the due feeds in the database (a lease, so two processes
  on one database never fetch the same feed at once) and hand them to the same
  pipeline as ``aggregator poll``. Schedule state lives in the database; the job
  keeps none, so any process can pick up where another left off.
- watch: notice edits to feeds.yaml within seconds; apply valid ones (new feeds
  are due at once, removed ones stop, re-categorize on category changes) and
  keep the last good config on invalid ones.
- prune: remove entries older than ``storage.retention``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from aggregator import feed_pages, websub
from aggregator.fetch import Fetcher, FetchLimits
from aggregator.models import Config
from aggregator.poll import PollSummary, poll_feeds
from aggregator.reload import ConfigWatcher
from aggregator.storage import Storage
from aggregator.update import FeedOutcome, Updater, prune_expired, refile_entries

log = logging.getLogger(__name__)

TICK_SECONDS = 15
WATCH_SECONDS = 2
PRUNE_SECONDS = 3600
MIN_LEASE_SECONDS = 600


class PollScheduler:
    """Runs the poll, watch and prune jobs in background threads until ``shutdown``."""

    def __init__(
        self,
        config: Config,
        storage: Storage,
        *,
        tick_seconds: float = TICK_SECONDS,
        watch_seconds: float = WATCH_SECONDS,
        polling: bool = True,
        on_config: Callable[[Config, str | None], None] | None = None,
    ) -> None:
        self.config = config
        self.storage = storage
        self.tick_seconds = tick_seconds
        self.watch_seconds = watch_seconds
        self.polling = polling
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.last_poll_at: datetime | None = None
        self._on_config = on_config
        self._stopping = threading.Event()
        self._fetcher = Fetcher(FetchLimits.from_polling(config.polling))
        self._watcher = ConfigWatcher(config, self.apply_config)
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={
                # One run of a job at a time: a tick still polling when the next is
                # due makes APScheduler skip that run, which loses nothing because
                # due feeds stay due in the database until a tick claims them.
                "max_instances": 1,
                # Runs that piled up (a suspended laptop) collapse into one...
                "coalesce": True,
                # ...and a late run is still run, however late.
                "misfire_grace_time": None,
            },
        )

    @property
    def lease_seconds(self) -> float:
        # Long enough for a batch to finish even when its feeds share a host and
        # queue behind the per-host limit; a crashed poller's lease then expires.
        return max(MIN_LEASE_SECONDS, self.config.polling.timeout_seconds * 8)

    def start(self) -> None:
        """Sync the feed list from the config and start the jobs (first poll at once)."""
        now = datetime.now(UTC)
        self.storage.sync_feeds(self.config.feeds, now)
        self._scheduler.add_job(
            self.check_config, "interval", seconds=self.watch_seconds, id="watch-config"
        )
        if self.polling:
            self._scheduler.add_job(
                self.tick,
                "interval",
                seconds=self.tick_seconds,
                id="poll-due-feeds",
                next_run_time=now,
            )
            self._scheduler.add_job(
                self.prune, "interval", seconds=PRUNE_SECONDS, id="prune", next_run_time=now
            )
        self._scheduler.start()
        log.info("scheduler started as %s", self.owner)

    def apply_config(self, config: Config) -> None:
        """Put a new config in force (called by the watcher after a valid edit)."""
        old = self.config
        self.config = config
        now = datetime.now(UTC)
        self.storage.sync_feeds(config.feeds, now)
        if config.polling != old.polling:
            old_fetcher, self._fetcher = (
                self._fetcher,
                Fetcher(FetchLimits.from_polling(config.polling)),
            )
            old_fetcher.close()
        old_filing = (old.categories, {feed.url: feed.category for feed in old.feeds})
        new_filing = (config.categories, {feed.url: feed.category for feed in config.feeds})
        if self.polling and old_filing != new_filing:
            changed = refile_entries(config, self.storage, now)
            log.info("categories changed: %d stored entries re-filed", changed)
        self._notify()
        # New feeds are due at once: poll without waiting for the next tick.
        if self.polling and not self._stopping.is_set():
            self._scheduler.modify_job("poll-due-feeds", next_run_time=datetime.now(UTC))

    def _notify(self) -> None:
        if self._on_config:
            self._on_config(self.config, self._watcher.error)

    def check_config(self) -> bool:
        """Check feeds.yaml now (the watch job does this every few seconds)."""
        applied = self._watcher.check()
        if not applied:
            self._notify()
        return applied

    @property
    def config_error(self) -> str | None:
        return self._watcher.error

    def tick(self) -> PollSummary:
        """Claim and poll due feeds, batch after batch, until none is due or we stop."""
        config = self.config
        updater = Updater.from_config(config, self.storage, self._fetcher)
        batch_size = config.polling.workers * 2
        versions_before = feed_pages.versions_snapshot(self.storage, config)
        outcomes: list[FeedOutcome] = []
        while not self._stopping.is_set():
            claimed = self.storage.claim_due_feeds(
                datetime.now(UTC),
                owner=self.owner,
                lease_seconds=self.lease_seconds,
                limit=batch_size,
            )
            if not claimed:
                break
            summary = poll_feeds(
                claimed,
                updater,
                workers=config.polling.workers,
                per_host=config.polling.per_host,
                host_spacing=config.polling.host_spacing_seconds,
                should_stop=self._stopping.is_set,
            )
            outcomes.extend(summary.outcomes)
            unstarted = {feed.id for feed in claimed} - {o.feed_id for o in summary.outcomes}
            if unstarted:
                self.storage.release_leases(sorted(unstarted), owner=self.owner)
        self.last_poll_at = datetime.now(UTC)
        summary = PollSummary(tuple(outcomes))
        if outcomes:
            log.info(
                "polled %d feeds: %d ok, %d not modified, %d failed; %d new, %d updated",
                len(outcomes),
                summary.count("ok"),
                summary.count("not_modified"),
                summary.count("failed"),
                summary.new,
                summary.updated,
            )
            feed_pages.prerender_changed(self.storage, config, versions_before)
            websub.ping_changes(config, self.storage, versions_before)
        return summary

    def prune(self) -> int:
        """Remove entries older than the retention period; return how many."""
        return prune_expired(self.config, self.storage, datetime.now(UTC))

    def shutdown(self) -> None:
        """Stop: no new feed is started; polls in flight finish (each within its deadline)."""
        self._stopping.set()
        self._scheduler.shutdown(wait=True)
        self._fetcher.close()
        log.info("scheduler stopped")
