"""The background jobs of ``aggregator serve``, on APScheduler (its one importer).

Thin callers of the front object, like the CLI:

- poll: every tick, ``Aggregator.update_feeds`` with a lease (processes sharing a
  database never fetch one feed at once). Schedule state lives in the database; the
  job keeps none, so any process can pick up where another left off.
- watch: ``Aggregator.reload_config`` every few seconds: a valid edit of feeds.yaml is
  put in force (new feeds are due at once, so a poll starts right away), an invalid
  one is reported while the last good config stays. A refresh asked for on the admin
  pages starts a poll right away too.
- prune: ``Aggregator.prune`` hourly.
- icons: ``Aggregator.refresh_icons`` hourly (a few minutes after the start): source
  feeds' site icons, looked for again after a week, never on a poll's path.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler

if TYPE_CHECKING:
    from aggregator.core import Aggregator
    from aggregator.update import PollSummary

log = logging.getLogger(__name__)

TICK_SECONDS = 15
WATCH_SECONDS = 2
PRUNE_SECONDS = 3600
ICON_SECONDS = 3600
ICON_DELAY_SECONDS = 120  # after the start: the first poll goes first


class BackgroundJobs:
    """Runs the poll, watch and prune jobs of an aggregator in background threads
    until ``shutdown``. With ``polling=False`` only the config is watched."""

    def __init__(
        self,
        aggregator: Aggregator,
        *,
        tick_seconds: float = TICK_SECONDS,
        watch_seconds: float = WATCH_SECONDS,
        polling: bool = True,
    ) -> None:
        self.aggregator = aggregator
        self.tick_seconds = tick_seconds
        self.watch_seconds = watch_seconds
        self.polling = polling
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # Only the polling process files stored entries again after a section change
        # (also when the admin pages saved the edit).
        aggregator.refile_on_reload = polling
        self._stopping = threading.Event()
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

    def start(self) -> None:
        """Sync the source feeds from the config and start the jobs (first poll at once)."""
        self.aggregator.sync_feeds()
        # APScheduler runs jobs by the machine's clock, whatever the aggregator's.
        now = datetime.now(UTC)
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
            self._scheduler.add_job(
                self.refresh_icons,
                "interval",
                seconds=ICON_SECONDS,
                id="icons",
                next_run_time=now + timedelta(seconds=ICON_DELAY_SECONDS),
            )
        self._scheduler.start()
        log.info("background jobs started as %s", self.owner)

    def check_config(self) -> bool:
        """Apply an edit of feeds.yaml, if any; return whether one was applied.

        Only the polling process files stored entries again after a section change:
        a ``--no-poll`` process leaves that to it.
        """
        applied = self.aggregator.reload_config(refile=self.polling)
        requested = self.aggregator.take_poll_request()
        if (applied or requested) and self.polling and not self._stopping.is_set():
            # New feeds (and refreshed ones) are due at once: poll without waiting for
            # the next tick.
            self._scheduler.modify_job("poll-due-feeds", next_run_time=datetime.now(UTC))
        return applied

    def tick(self) -> PollSummary:
        """Claim and poll due feeds, batch after batch, until none is due or we stop."""
        return self.aggregator.update_feeds(
            lease_owner=self.owner, should_stop=self._stopping.is_set
        )

    def prune(self) -> int:
        """Remove entries older than the retention period; return how many."""
        return self.aggregator.prune()

    def refresh_icons(self) -> int:
        """Look for the site icons of feeds that have none, or an old one."""
        if self._stopping.is_set():
            return 0
        return self.aggregator.refresh_icons()

    def shutdown(self) -> None:
        """Stop within moments: no new feed is started, fetches in flight are abandoned
        (their feeds stay due, their leases are given back; the poll logs how many),
        writes in progress finish."""
        self._stopping.set()
        self.aggregator.cancel_fetches()
        self._scheduler.shutdown(wait=True)
        log.info("background jobs stopped")
