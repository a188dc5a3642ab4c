"""The in-process poller of ``aggregator serve``: a thin APScheduler job.

Every tick it claims the due feeds in the database (a lease, so two processes on
one database never fetch the same feed at once) and hands them to the same
pipeline as ``aggregator poll``. All schedule state lives in the database; the
job itself keeps none, so any process can pick up where another left off.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from aggregator.fetch import Fetcher, FetchLimits
from aggregator.models import Config
from aggregator.poll import PollSummary, poll_feeds
from aggregator.storage import Storage
from aggregator.update import FeedOutcome, Updater

log = logging.getLogger(__name__)

TICK_SECONDS = 15
MIN_LEASE_SECONDS = 600


class PollScheduler:
    """Polls due feeds in the background until ``shutdown``."""

    def __init__(self, config: Config, storage: Storage, *, tick_seconds: float = TICK_SECONDS):
        self.config = config
        self.storage = storage
        self.tick_seconds = tick_seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.last_poll_at: datetime | None = None
        self._stopping = threading.Event()
        self._fetcher = Fetcher(FetchLimits.from_polling(config.polling))
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={
                # One tick at a time: a tick still polling when the next is due
                # makes APScheduler skip that run, which loses nothing because
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
        """Sync the feed list from the config and start ticking (first tick at once)."""
        self.storage.sync_feeds(self.config.feeds, datetime.now(UTC))
        self._scheduler.add_job(
            self.tick,
            "interval",
            seconds=self.tick_seconds,
            id="poll-due-feeds",
            next_run_time=datetime.now(UTC),
        )
        self._scheduler.start()
        log.info("scheduler started as %s", self.owner)

    def tick(self) -> PollSummary:
        """Claim and poll due feeds, batch after batch, until none is due or we stop."""
        updater = Updater.from_config(self.config, self.storage, self._fetcher)
        batch_size = self.config.polling.workers * 2
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
                workers=self.config.polling.workers,
                per_host=self.config.polling.per_host,
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
        return summary

    def shutdown(self) -> None:
        """Stop: no new feed is started; polls in flight finish (each within its deadline)."""
        self._stopping.set()
        self._scheduler.shutdown(wait=True)
        self._fetcher.close()
        log.info("scheduler stopped")
