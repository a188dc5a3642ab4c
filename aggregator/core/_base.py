"""The state every use case shares: the config in force, the storage, the clock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from aggregator.config import Config, ConfigWatcher
from aggregator.fetch import Fetcher, FetchLimits
from aggregator.publish import Output
from aggregator.storage import Storage
from aggregator.update import DirectWriter, StoryMatcher, WriterThread, story_filer

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """The machine's time, in UTC: the default clock."""
    return datetime.now(UTC)


class AggregatorBase:
    """What Aggregator's use cases (one mixin per domain) share."""

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
        # Admin: a refresh asked for from the web, for the poller of this process; the
        # local files' validators seen at the last tick; whether a reload files stored
        # entries again (a serve --no-poll process leaves that to the poller).
        self._poll_requested = threading.Event()
        self._file_validators: dict[str, str | None] = {}
        self.refile_on_reload = True
        # The process's writer of polls and its story index, made when first needed.
        self._writer: WriterThread | None = None

    def _poll_writer(self) -> WriterThread:
        """The writer thread every poll of this aggregator writes through."""
        with self._lock:
            if self._writer is None:
                config = self._config
                self._writer = WriterThread(
                    DirectWriter(
                        self._storage,
                        StoryMatcher.from_config(config, self._clock),
                        story_filer(config),
                        config.stories.new_report_unreads,
                    )
                )
            return self._writer

    def _shared_fetcher(self) -> Fetcher:
        """The fetcher every poll (and article page) of this aggregator goes through."""
        with self._lock:
            if self._fetcher is None:
                self._fetcher = Fetcher(FetchLimits.from_polling(self._config.polling))
            return self._fetcher

    def _close_writer(self) -> None:
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    def now(self) -> datetime:
        """The time by this aggregator's clock (UTC)."""
        return self._clock()

    @property
    def config(self) -> Config:
        """The config in force (the last good one while the file on disk is invalid)."""
        return self._config

    @property
    def config_error(self) -> str | None:
        """Why the file on disk is not the config in force (its ``file:line`` errors),
        or None."""
        return self._watcher.error
