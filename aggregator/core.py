"""The front door: ``Aggregator``, every use case of the product in one object.

The CLI, the background jobs of ``serve``, the web app, the tests and the benchmarks
all go through it, and so does a script: open it from a config path or a ``Config``,
update the source feeds, read and mark stories, render the merged feeds. It composes
the packages (fetch, parse, process, storage, update, publish); none of its callers
assembles that pipeline itself.

Time is an argument: every use case reads the clock given at construction (``clock``),
so a test or a script that fixes a date gives it to everything it drives.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from aggregator.config import (
    Config,
    ConfigWatcher,
    database_url,
    default_config_path,
    load_config,
)
from aggregator.errors import StorageError
from aggregator.fetch import Fetcher, FetchLimits
from aggregator.process import Categorizer
from aggregator.publish import (
    CONTENT_TYPES,
    BuiltPage,
    Output,
    build_page,
    decode_page_token,
    output_url,
    outputs_of,
    ping_changes,
    prerender_changed,
    prune_renderings,
    render_opml,
    versions_snapshot,
)
from aggregator.storage import Storage, StoredForFiling, open_storage
from aggregator.types import (
    FeedHealth,
    FeedState,
    FeedStatus,
    FetchAttempt,
    Neighbours,
    ReaderPage,
    ReaderStory,
    SearchPage,
    StoryCursor,
    StoryState,
    UnreadCounts,
)
from aggregator.update import (
    METRICS_CONTENT_TYPE,
    FeedHealthCollector,
    FeedOutcome,
    PollSummary,
    Updater,
    feed_status,
    poll_feeds,
    render_metrics,
)

__all__ = ["CONTENT_TYPES", "METRICS_CONTENT_TYPE", "Aggregator", "Clock", "system_clock"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
# Section versions: section key -> (version, changed_at), as the merged feeds read them.
Versions = dict[str, tuple[int, datetime]]
# (story id, story stamp, rendered entry), as a page's new renderings are saved.
Rendered = tuple[int, str, bytes]

MIN_LEASE_SECONDS = 600


def system_clock() -> datetime:
    """The machine's time, in UTC: the default clock."""
    return datetime.now(UTC)


class Aggregator:
    """The aggregator: source feeds in, stories and merged feeds out.

    Open one with ``Aggregator.open(path_or_config)``; ``Aggregator(config, storage)``
    wraps a storage opened already (and takes it over: ``close`` closes it).
    Thread-safe: the web app's request threads and the poller share one. Close it (or
    use it as a context manager) when done.
    """

    def __init__(
        self,
        config: Config,
        storage: Storage,
        *,
        clock: Clock | None = None,
        fetcher: Fetcher | None = None,
    ) -> None:
        self._config = config
        self._storage = storage
        self._clock = clock or system_clock
        self._watcher = ConfigWatcher(config)
        self._lock = threading.Lock()
        # Made from the config's polling limits when first needed; given, it is used
        # until the limits change (tests give one with another address policy).
        self._fetcher = fetcher
        self._outputs: tuple[Config, dict[str, Output]] | None = None

    # --- opening and closing -----------------------------------------------------------

    @classmethod
    def open(
        cls,
        config: Config | str | os.PathLike[str] | None = None,
        *,
        database: str | None = None,
        clock: Clock | None = None,
        sync: bool = True,
    ) -> Aggregator:
        """Open the aggregator of a config (a ``Config``, or the path of a feeds.yaml;
        default ``./feeds.yaml`` or ``$AGGREGATOR_CONFIG``).

        The database is ``database`` (a SQLAlchemy URL), else ``$AGGREGATOR_DATABASE_URL``,
        else the config's ``storage.url``; it is created and migrated as needed. With
        ``sync`` (the default) the source feeds of the config are put in the database.
        Raises ConfigErrors for an invalid config and StorageError when the database
        cannot be opened.
        """
        if not isinstance(config, Config):
            config = load_config(Path(config) if config is not None else default_config_path())
        aggregator = cls(config, open_storage(database or database_url(config)), clock=clock)
        if sync:
            try:
                aggregator.sync_feeds()
            except BaseException:
                aggregator.close()
                raise
        return aggregator

    @classmethod
    def open_existing(cls, config: Config, *, clock: Clock | None = None) -> Aggregator | None:
        """The aggregator of a config whose database exists already, else None (for
        commands that must never create one). Never raises StorageError."""
        url = database_url(config)
        if url.startswith("sqlite"):
            path = url.split(":///", 1)[-1].split("?", 1)[0]
            if not path or not os.path.exists(path):
                return None
        try:
            return cls(config, open_storage(url), clock=clock)
        except StorageError:
            return None

    def close(self) -> None:
        """Release the database connections and the HTTP connection pools."""
        with self._lock:
            fetcher, self._fetcher = self._fetcher, None
        if fetcher is not None:
            fetcher.close()
        self._storage.close()

    def __enter__(self) -> Aggregator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def now(self) -> datetime:
        """The time by this aggregator's clock (UTC)."""
        return self._clock()

    # --- configuration -----------------------------------------------------------------

    @property
    def config(self) -> Config:
        """The config in force (the last good one while the file on disk is invalid)."""
        return self._config

    @property
    def config_error(self) -> str | None:
        """Why the file on disk is not the config in force (its ``file:line`` errors),
        or None."""
        return self._watcher.error

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
        removed ones stop), the fetcher follows its polling limits and, with ``refile``,
        stored entries are filed again when sections or feeds' defaults changed."""
        with self._lock:
            old, self._config = self._config, config
            if config.polling != old.polling and self._fetcher is not None:
                self._fetcher.close()
                self._fetcher = None
        self._watcher.config = config
        self.sync_feeds()
        old_filing = (old.sections, {feed.url: feed.section for feed in old.feeds})
        new_filing = (config.sections, {feed.url: feed.section for feed in config.feeds})
        if refile and old_filing != new_filing:
            changed = self.refile()
            log.info("sections changed: %d stored entries filed again", changed)

    # --- source feeds ------------------------------------------------------------------

    def sync_feeds(self) -> None:
        """Make the stored source feeds match the config's list."""
        self._storage.sync_feeds(self._config.feeds, self.now())

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
        with self._lock:
            if self._fetcher is None:
                self._fetcher = Fetcher(FetchLimits.from_polling(self._config.polling))
            fetcher = self._fetcher
        return Updater.from_config(self._config, self._storage, fetcher, clock=self._clock)

    def feeds_to_update(self, *, scheduled: bool = True) -> list[FeedState]:
        """The source feeds an update would visit: the due ones, or (``scheduled=False``)
        every active one that is not gone."""
        if scheduled:
            return self._storage.due_feeds(self.now())
        return [feed for feed in self.get_feeds() if not feed.gone]

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
            summary = self._update_claimed(updater, lease_owner, options)
        if summary.outcomes:
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
            unstarted = {feed.id for feed in claimed} - {o.feed_id for o in summary.outcomes}
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

    def refile(self) -> int:
        """File every stored entry again under the config's sections (after the sections
        or a feed's default section changed). Returns how many entries moved."""
        config = self._config
        categorizer = Categorizer(config.sections)
        slugs = config.section_slugs()

        def sections_of(item: StoredForFiling) -> tuple[str, ...]:
            result = categorizer.categorize(
                title=item.title,
                summary_text=item.summary_text,
                tags=item.tags,
                feed_category=item.feed_category,
            )
            return tuple(slugs[name] for name in result.sections)

        return self._storage.refile_entries(sections_of, self.now())

    def prune(self) -> int:
        """Remove entries first seen longer ago than ``storage.retention`` (never starred
        ones), and stored renderings nobody is likely to ask for again. Returns how many
        entries were removed."""
        config, now = self._config, self.now()
        prune_renderings(self._storage, config, now)
        retention = config.storage.retention_seconds
        if retention is None:
            return 0
        removed = self._storage.prune_entries(now - timedelta(seconds=retention), now)
        if removed:
            days = retention // 86400
            log.info("retention: removed %d entries older than %d days", removed, days)
        return removed

    # --- reading -----------------------------------------------------------------------

    def get_stories(
        self,
        scope: str,
        *,
        unread_only: bool = False,
        before: StoryCursor | None = None,
        limit: int = 50,
    ) -> ReaderPage:
        """One page of a list (a scope of aggregator.scopes: everything, starred, a
        section, a source feed), newest first. Pass its ``next_cursor`` as ``before``
        for the next page; stories arriving meanwhile never shift a page."""
        return self._storage.list_reader_stories(
            scope, unread_only=unread_only, before=before, limit=limit
        )

    def get_story(self, story_id: int) -> ReaderStory | None:
        """One story with its reports and read/starred state, or None."""
        return self._storage.get_reader_story(story_id)

    def story_neighbours(self, story_id: int, scope: str) -> Neighbours:
        """The stories just newer and just older than one in a list."""
        return self._storage.story_neighbours(story_id, scope)

    def search(
        self, query: str, *, section: str | None = None, before: int | None = None, limit: int = 30
    ) -> SearchPage:
        """Stories whose title or text matches ``query`` (every word; "quoted phrases"
        as phrases), newest arrival first; ``section`` (a slug) narrows it."""
        return self._storage.search_stories(query, section=section, before=before, limit=limit)

    def mark_read(self, story_id: int, read: bool = True) -> StoryState | None:
        """Mark a story (all its reports) read or unread; None if there is no such story."""
        return self._storage.set_read(story_id, read, self.now())

    def mark_starred(self, story_id: int, starred: bool = True) -> StoryState | None:
        """Star or unstar a story; None if there is no such story."""
        return self._storage.set_starred(story_id, starred, self.now())

    def mark_all_read(self, scope: str, *, newest: StoryCursor, watermark: int) -> int:
        """Mark a list read up to what its page showed: ``newest`` (the first story's
        position) and the page's ``watermark``; stories that arrived since stay unread.
        Returns how many stories were marked."""
        return self._storage.mark_all_read(
            scope, newest=newest, watermark=watermark, now=self.now()
        )

    def unread_counts(self) -> UnreadCounts:
        """Unread stories per list, and the number of starred ones."""
        return self._storage.unread_counts()

    def navigation(self) -> tuple[UnreadCounts, list[tuple[int, str]]]:
        """What the reader's sidebar shows: unread counts and (id, title) of the active
        source feeds."""
        return self._storage.navigation()

    # --- outputs (the merged feeds) ----------------------------------------------------

    def outputs(self) -> dict[str, Output]:
        """Every merged feed of the config by name: "all", each section, each custom
        output (computed once per config)."""
        config = self._config
        kept = self._outputs
        if kept is None or kept[0] is not config:
            kept = self._outputs = (config, outputs_of(config))
        return kept[1]

    def output_versions(self, keys: tuple[str, ...]) -> Versions:
        """The section versions an output depends on (see Output.version_keys): they
        change whenever a poll changes what the output shows."""
        return self._storage.section_versions(keys)

    def render_output(
        self,
        name: str,
        fmt: str,
        *,
        before: str | None = None,
        renderings: Any = None,
        save: bool = True,
    ) -> BuiltPage:
        """One page of a merged feed in a format ("atom", "rss" or "json"): the newest,
        or the one a ``before`` page token names. Entries are rendered once per change
        of their story and stored (``save``; else the caller saves ``new_renderings``
        with ``save_renderings``); ``renderings`` is an optional in-memory map of them
        shared between calls. Raises KeyError for an unknown output and
        InvalidCursorError for a page token we did not make."""
        output = self.outputs()[name]
        cursor = decode_page_token(before) if before else None
        return build_page(
            self._storage,
            self._config,
            output,
            fmt,
            token=before,
            cursor=cursor,
            labels=self._config.section_names(),
            renderings=renderings,
            save=save,
        )

    def output_url(self, name: str, fmt: str) -> str:
        """The absolute URL of an output's newest page in a format (from site.base_url)."""
        return output_url(self._config.site, name, fmt)

    def save_renderings(self, fmt: str, context: str, rendered: Sequence[Rendered]) -> None:
        """Store renderings a page made (``BuiltPage.new_renderings``). Best effort:
        gives up quickly when the database is busy."""
        self._storage.save_renderings(fmt, context, rendered)

    def render_opml(self) -> bytes:
        """The subscription list (OPML 2.0), grouped by section."""
        return render_opml(self._config, self.get_feeds())

    # --- operations --------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """What /healthz reports. Raises StorageError when the database does not answer."""
        feeds = self.get_feeds()
        fetched = [feed.last_fetched_at for feed in feeds if feed.last_fetched_at]
        return {
            "status": "ok",
            "database": "ok",
            "feeds": len(feeds),
            "feeds_failing": sum(1 for feed in feeds if feed.error_count or feed.gone),
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
