"""The front door: ``Aggregator``, every use case of the product in one object.

The CLI, the background jobs of ``serve``, the web app, the tests and the benchmarks
all go through it, and so does a script: open it from a config path or a ``Config``,
update the source feeds, read and mark stories, render the merged feeds. It composes
the packages (fetch, parse, process, storage, update, publish); none of its callers
assembles that pipeline itself.

Its use cases live in one mixin per domain: _feeds.py (the config in force, source
feeds, updating, filing, retention, health), _fulltext.py (article pages' main text,
after updates and on demand), _reading.py (lists, stories, search,
read state), _outputs.py (the merged feeds), _admin.py (subscribing, importing,
editing feeds.yaml, refreshing, watching feeds), _users.py (accounts, sign-in, app
passwords), _sync.py (the streams of the sync APIs); _base.py holds what they share,
_passwords.py the secrets (argon2's one importer). Time
is an argument: every use case reads the clock given at construction (``clock``),
so a test or a script that fixes a date gives it to everything it drives.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

from aggregator.config import Config, database_url, default_config_path, load_config
from aggregator.core._admin import AdminUseCases, Discovery, FeedActivity, FeedCandidate, ImportPlan
from aggregator.core._base import Clock, system_clock
from aggregator.core._feeds import FeedsUseCases
from aggregator.core._outputs import OutputsUseCases
from aggregator.core._reading import ReadingUseCases
from aggregator.core._sync import SyncUseCases
from aggregator.core._users import UsersUseCases
from aggregator.errors import StorageError
from aggregator.publish import CONTENT_TYPES
from aggregator.storage import open_storage
from aggregator.update import METRICS_CONTENT_TYPE

__all__ = [
    "CONTENT_TYPES",
    "METRICS_CONTENT_TYPE",
    "Aggregator",
    "Clock",
    "Discovery",
    "FeedActivity",
    "FeedCandidate",
    "ImportPlan",
    "system_clock",
]


class Aggregator(
    AdminUseCases,
    FeedsUseCases,
    ReadingUseCases,
    OutputsUseCases,
    UsersUseCases,
    SyncUseCases,
):
    """The aggregator: source feeds in, stories and merged feeds out.

    Open one with ``Aggregator.open(path_or_config)``; ``Aggregator(config, storage)``
    wraps a storage opened already (and takes it over: ``close`` closes it).
    Thread-safe: the web app's request threads and the poller share one. Close it (or
    use it as a context manager) when done.
    """

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
        """Write what pollers handed in, then release the database connections and the
        HTTP connection pools."""
        self._close_writer()
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
