"""Use cases of the source feeds: the config in force, updating, filing again,
retention, feed health, and what operators read (/healthz, /metrics)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from typing import Any

from aggregator.config import Config
from aggregator.core._fulltext import FullTextUseCases
from aggregator.errors import AggregatorError
from aggregator.fetch import Fetcher, FetchLimits, Icon, find_icon, local_file_validator
from aggregator.publish import ping_changes, prerender_changed, prune_renderings, versions_snapshot
from aggregator.types import FeedHealth, FeedState, FeedStatus, FetchAttempt
from aggregator.update import (
    DirectWriter,
    FeedHealthCollector,
    FeedOutcome,
    PollSummary,
    StoryMatcher,
    Updater,
    feed_status,
    filing_digest,
    poll_feeds,
    render_metrics,
    story_filer,
)

log = logging.getLogger("aggregator.core")

MIN_LEASE_SECONDS = 600
ICON_MAX_AGE = timedelta(days=7)  # a feed's icon is looked for again after this
ICONS_PER_RUN = 50
# Icons are looked for a few at once, and a run gives up after ICONS_BUDGET seconds
# (lookups cut short are not recorded: those feeds are looked at next time), so a
# cron `aggregator poll` never waits long for slow or unreachable sites.
ICON_WORKERS = 8
ICONS_BUDGET = 5.0
FILING_SETTING = "filing-rules"  # settings row: the digest of the rules stories were filed by


class FeedsUseCases(FullTextUseCases):
    def reload_config(self, *, refile: bool = True) -> bool:
        """Read the config file again if it changed; put a valid edit in force (see
        ``apply_config``) and keep the last good config on an invalid one (see
        ``config_error``). Returns whether a new config was applied."""
        new_config = self._watcher.check()
        if new_config is None:
            return False
        self.apply_config(new_config, refile=refile)
        return True

    def apply_config(self, config: Config, *, refile: bool = True) -> None:
        """Put a config in force: its source feeds are synced (new ones are due at once,
        removed ones stop), the fetcher follows its polling limits, story matching its
        window and, with ``refile``, stored stories are filed again when the sections or
        a feed's default or labels changed."""
        with self._lock:
            old, self._config = self._config, config
            if config.polling != old.polling and self._fetcher is not None:
                self._fetcher.close()
                self._fetcher = None
            writer = self._writer
        self._watcher.config = config
        if writer is not None:
            matcher = (
                StoryMatcher.from_config(config, self._clock)
                if config.stories.window_seconds != old.stories.window_seconds
                else writer.direct.assigner
            )
            writer.configure(matcher, story_filer(config), config.stories.new_report_unreads)
        self.sync_feeds(refile=refile)
        self._make_fixed_feeds_due(old, config)

    def _make_fixed_feeds_due(self, old: Config, new: Config) -> None:
        """A change that may fix failing feeds takes effect now: those feeds are due at
        once (not at their backed-off next check). That is every failing feed when the
        fetch limits changed (polling.allow_private_networks, timeouts, max_body), and a
        failing feed whose own interval changed; a feed resumed from pause is due too.
        (A changed URL is a new feed, due at once anyway.)"""
        limits = ("allow_private_networks", "timeout_seconds", "connect_timeout_seconds")
        limits_changed = any(
            getattr(old.polling, name) != getattr(new.polling, name)
            for name in (*limits, "max_body_bytes")
        )
        before = {feed.url: feed for feed in old.feeds}
        touched, resumed = set(), set()
        for feed in new.feeds:
            previous = before.get(feed.url)
            if previous is None:
                continue
            if previous.interval_seconds != feed.interval_seconds:
                touched.add(feed.url)
            if previous.paused and not feed.paused:
                resumed.add(feed.url)

        def fixed(state: FeedState) -> bool:
            failing = bool(state.error_count or state.last_error)
            return failing and (limits_changed or state.url in touched)

        due = [
            state.id
            for state in self.get_feeds()
            if not state.gone and not state.paused and (state.url in resumed or fixed(state))
        ]
        if due and self._storage.make_feeds_due(due, self.now()):
            log.info("config change: %d failing or resumed feeds are polled now", len(due))

    # --- source feeds ------------------------------------------------------------------

    def sync_feeds(self, *, refile: bool = True) -> None:
        """Make the stored source feeds match the config's list; with ``refile``, file
        every stored story again if the filing rules (sections, feeds' defaults, labels
        and priorities) differ from those it was filed by."""
        self._storage.sync_feeds(self._config.feeds, self.now())
        digest = filing_digest(self._config)
        if refile and self._storage.get_setting(FILING_SETTING) != digest:
            moved = self.refile()
            self._storage.put_setting(FILING_SETTING, digest)
            if moved:
                log.info("filing rules changed: %d stories filed again", moved)

    def get_feeds(self, *, active_only: bool = True) -> list[FeedState]:
        """The stored source feeds (those in the config, unless ``active_only=False``)."""
        return self._storage.list_feeds(active_only=active_only)

    def get_feed(self, feed_id: int) -> FeedState | None:
        """One stored source feed, or None."""
        return self._storage.get_feed(feed_id)

    def feed_health(self) -> list[FeedHealth]:
        """Every stored source feed with its status and entry count, those needing the
        admin first (gone, moved, flagged, failing), then by title."""
        threshold = self._config.polling.error_threshold
        found = [
            FeedHealth(feed, entry_count, feed_status(feed, threshold))
            for feed, entry_count in self._storage.feed_health()
        ]
        return sorted(found, key=lambda item: (item.status.rank, item.feed.title.casefold()))

    def feed_status(self, feed: FeedState) -> FeedStatus:
        """A source feed's status, as every page and command words it."""
        return feed_status(feed, self._config.polling.error_threshold)

    def fetch_history(self, feed_id: int) -> list[FetchAttempt]:
        """A source feed's last fetches, newest first."""
        return self._storage.fetch_history(feed_id)

    def config_notes(self) -> list[str]:
        """What polling found that the admin should fix in feeds.yaml (moved and gone
        feeds), as ``file:line: note: ...`` lines."""
        stored = {feed.url: feed for feed in self.get_feeds()}
        notes = []
        for feed in self._config.feeds:
            state = stored.get(feed.url)
            if state is None:
                continue
            where = f"{self._config.path}:{feed.line}" if feed.line else self._config.path
            if state.fetch_url:
                notes.append(
                    f"{where}: note: {feed.url} moved permanently to {state.fetch_url} "
                    "(seen 3 times in a row, now fetched there); update the URL"
                )
            elif state.permanent_redirect_url:
                notes.append(
                    f"{where}: note: {feed.url} redirects permanently to "
                    f"{state.permanent_redirect_url} (seen {state.redirect_count} times)"
                )
            if state.gone:
                notes.append(f"{where}: note: {feed.url} is gone (HTTP 410); remove it")
        return notes

    # --- updating ----------------------------------------------------------------------

    def _updater(self) -> Updater:
        fetcher = self._shared_fetcher()
        return Updater.from_config(
            self._config, self._storage, fetcher, clock=self._clock, writer=self._poll_writer()
        )

    def refresh_icons(
        self, *, limit: int = ICONS_PER_RUN, budget_seconds: float = ICONS_BUDGET
    ) -> int:
        """Look for the site icon of source feeds polled successfully that have none
        yet, or whose icon is older than ICON_MAX_AGE; return how many were looked at
        to the end (found or not).

        Off the poll's path (a background job, and after ``aggregator poll``): a poll
        never waits for an icon, and no failure here fails anything. Each look is
        through a Fetcher with the polling limits (its SSRF guard, size and time
        limits); ``ICON_WORKERS`` at once, and what is still running after
        ``budget_seconds`` is cancelled and not recorded, so it is looked at again."""
        now = self.now()
        checked = self._storage.feed_icons_checked()
        never = datetime.min.replace(tzinfo=now.tzinfo)
        due = [
            feed
            for feed in self._storage.list_feeds(active_only=True)
            if feed.last_success_at is not None
            and not feed.gone
            and not feed.effective_url.startswith("file:")
            and now - checked.get(feed.id, never) > ICON_MAX_AGE
        ][:limit]
        if not due:
            return 0
        # A fetcher of its own: cancelling it at the deadline touches no poll.
        fetcher = Fetcher(FetchLimits.from_polling(self._config.polling))

        def look(feed: FeedState) -> Icon | None:
            hints = feed.publisher_hints or {}
            icon_url = hints.get("icon") if isinstance(hints.get("icon"), str) else None
            return find_icon(fetcher, feed_icon=icon_url, site_url=feed.site_url)

        pool = ThreadPoolExecutor(min(ICON_WORKERS, len(due)), thread_name_prefix="icons")
        try:
            lookups = {pool.submit(look, feed): feed for feed in due}
            finished, unfinished = wait(lookups, timeout=budget_seconds)
            if unfinished:
                # Only what finished before the deadline is kept: a lookup cut short
                # by the cancel would look like a site without an icon.
                fetcher.cancel()
                log.info(
                    "icons: %d lookups cut short after %.0f s; tried again next time",
                    len(unfinished),
                    budget_seconds,
                )
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            fetcher.close()
        looked = 0
        for future in finished:
            feed = lookups[future]
            try:
                icon = future.result()
                self._storage.store_feed_icon(
                    feed.id,
                    fetched_at=now,
                    content_type=icon.content_type if icon else None,
                    body=icon.body if icon else None,
                    source_url=icon.url if icon else None,
                )
                looked += 1
            except AggregatorError as e:
                log.warning("%s: could not keep its icon: %s", feed.url, e)
        return looked

    def feeds_to_update(self, *, scheduled: bool = True) -> list[FeedState]:
        """The source feeds an update would visit: the due ones, or (``scheduled=False``)
        every active one that is not gone."""
        if scheduled:
            self.check_local_files()
            return self._storage.due_feeds(self.now())
        return [feed for feed in self.get_feeds() if not feed.gone and not feed.paused]

    def check_local_files(self) -> int:
        """Make local file feeds due whose file changed (modification time and size)
        since the last look, or since their last poll; returns how many. Cheap (a stat
        per file): every poll tick does it, so an edit shows up at the next tick."""
        changed = []
        for feed_id, url, stored in self._storage.local_file_feeds():
            current = local_file_validator(url)
            if current != self._file_validators.get(url, stored):
                changed.append(feed_id)
            self._file_validators[url] = current
        return self._storage.make_feeds_due(changed, self.now()) if changed else 0

    def update_feeds(
        self,
        *,
        scheduled: bool = True,
        feeds: Sequence[FeedState] | None = None,
        workers: int | None = None,
        on_outcome: Callable[[FeedOutcome], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        lease_owner: str | None = None,
    ) -> PollSummary:
        """Poll source feeds and store what changed: the due ones (``scheduled``), every
        one (``scheduled=False``) or those given (``feeds``).

        With ``lease_owner``, due feeds are claimed in the database batch after batch
        (a lease, so processes sharing a database never poll one feed twice) until
        none is due or ``should_stop()``. After the poll, the merged feeds' new entries
        are rendered and a WebSub hub is told what changed. Never raises for a feed's
        fault: each feed's outcome (ok, not modified, failed with its reason) is in
        the summary, and ``on_outcome`` is called with each as it completes.
        """
        config = self._config
        updater = self._updater()
        polling = config.polling
        before = versions_snapshot(self._storage, config)
        options: dict[str, Any] = {
            "workers": workers or polling.workers,
            "per_host": polling.per_host,
            "host_spacing": polling.host_spacing_seconds,
            "on_outcome": on_outcome,
            "should_stop": should_stop,
        }
        if lease_owner is None:
            chosen = list(feeds) if feeds is not None else self.feeds_to_update(scheduled=scheduled)
            summary = poll_feeds(chosen, updater, **options)
        else:
            self.check_local_files()
            summary = self._update_claimed(updater, lease_owner, options)
        cut = summary.count("cancelled")
        if cut:
            log.warning("stopping: %d fetches in flight were cut short; their feeds stay due", cut)
        if len(summary.outcomes) > cut:
            log.info(
                "polled %d feeds: %d ok, %d not modified, %d failed; %d new, %d updated",
                len(summary.outcomes),
                summary.count("ok"),
                summary.count("not_modified"),
                summary.count("failed"),
                summary.new,
                summary.updated,
            )
            prerender_changed(self._storage, config, before)
            ping_changes(config, self._storage, before)
            self._fetch_full_texts_after(summary.outcomes, should_stop)
        return summary

    def _update_claimed(self, updater: Updater, owner: str, options: dict[str, Any]) -> PollSummary:
        should_stop: Callable[[], bool] = options["should_stop"] or (lambda: False)
        polling = self._config.polling
        # Long enough for a batch to finish even when its feeds share a host and queue
        # behind the per-host limit; a crashed poller's lease then expires.
        lease_seconds = max(MIN_LEASE_SECONDS, polling.timeout_seconds * 8)
        outcomes: list[FeedOutcome] = []
        while not should_stop():
            claimed = self._storage.claim_due_feeds(
                self.now(), owner=owner, lease_seconds=lease_seconds, limit=polling.workers * 2
            )
            if not claimed:
                break
            summary = poll_feeds(claimed, updater, **options)
            outcomes.extend(summary.outcomes)
            # Feeds not started, and those whose fetch was cut short, are given back.
            done = {o.feed_id for o in summary.outcomes if o.status != "cancelled"}
            unstarted = {feed.id for feed in claimed} - done
            if unstarted:
                self._storage.release_leases(sorted(unstarted), owner=owner)
        return PollSummary(tuple(outcomes))

    def update_feed(self, feed: int | str) -> FeedOutcome:
        """Poll one source feed now (by id or URL), whatever its schedule. Raises
        LookupError when there is no such feed."""
        found = (
            self._storage.get_feed(feed)
            if isinstance(feed, int)
            else self._storage.get_feed_by_url(feed)
        )
        if found is None:
            raise LookupError(f"no source feed {feed!r}")
        return self.update_feeds(feeds=[found]).outcomes[0]

    def cancel_fetches(self) -> int:
        """Abandon the fetches in flight (a stopping service): each ends within a moment
        as "cancelled", recording nothing, its feed still due and its lease given back.
        No fetch starts afterwards. Returns how many were in flight."""
        with self._lock:
            fetcher = self._fetcher
        return fetcher.cancel() if fetcher is not None else 0

    def refile(self) -> int:
        """File every stored story again by the config's sections and the feeds' labels
        (after they changed). Returns how many stories moved section."""
        filer, now = story_filer(self._config), self.now()
        # In the writer thread, between polls: filing is a write like theirs.
        return self._poll_writer().call(lambda direct: direct.storage.refile_stories(filer, now))

    def split_report(self, entry_id: int) -> int:
        """Take a report out of its story into a story of its own (an admin's
        correction); the split is remembered: no poll merges it back. Returns the new
        story's id. Raises LookupError when there is no such report, ValueError when it
        is its story's only report."""
        filer, now = story_filer(self._config), self.now()

        def split(direct: DirectWriter) -> int:
            story_id = direct.storage.split_report(entry_id, filer, now)
            if direct.assigner is not None:
                direct.assigner.move(entry_id, story_id)
            return story_id

        return self._poll_writer().call(split)

    def prune(self) -> int:
        """Remove entries first seen longer ago than ``storage.retention`` (never starred
        ones), and stored renderings nobody is likely to ask for again. Returns how many
        entries were removed."""
        config, now = self._config, self.now()
        prune_renderings(self._storage, config, now)
        retention = config.storage.retention_seconds
        if retention is None:
            return 0
        filer = story_filer(config)
        removed = self._poll_writer().call(
            lambda direct: direct.storage.prune_entries(
                now - timedelta(seconds=retention), now, filer
            )
        )
        if removed:
            days = retention // 86400
            log.info("retention: removed %d entries older than %d days", removed, days)
        return removed

    # --- operations ----------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """What /healthz reports: "ok", or "degraded" with the reasons (the file on disk
        is not the config in force; more than health.failing_feeds of the source feeds
        fail). Raises StorageError when the database does not answer."""
        total, failing = self._storage.feed_counts()
        fetched = [feed.last_fetched_at for feed in self.get_feeds() if feed.last_fetched_at]
        reasons = []
        if self.config_error:
            reasons.append(
                f"{self._config.path} has errors: the last good config stays in force until "
                "they are fixed"
            )
        share = self._config.health.failing_share
        if total and failing / total > share:
            reasons.append(
                f"{failing} of {total} source feeds are failing "
                f"(more than health.failing_feeds, {share:.0%})"
            )
        return {
            "status": "degraded" if reasons else "ok",
            "reasons": reasons,
            "database": "ok",
            "feeds": total,
            "feeds_failing": failing,
            "last_poll_at": max(fetched).isoformat() if fetched else None,
            "config_error": self.config_error,
            "now": self.now().isoformat(),
        }

    def metrics(self) -> bytes:
        """The Prometheus exposition text: this process's poll counters and the source
        feeds' health as stored."""
        collector = FeedHealthCollector(
            lambda: self.get_feeds(), self._config.polling.error_threshold
        )
        return render_metrics(collector)

    def shared_secret(self, name: str) -> str:
        """A secret kept in the database (generated on first use), the same for every
        process on it."""
        return self._storage.shared_secret(name)
