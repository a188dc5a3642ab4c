"""Writing polls: one writer per process, so pollers never queue for the database.

The fetch-and-parse workers hand finished polls to the writer and wait for the
outcome; one thread writes them, several polls per transaction when they arrive
together. SQLite then sees one writer of ours instead of sixteen queueing for its
single write lock (the "database is locked" a busy timeout gave up on), and the story
index has one user. Should another process hold the lock for long, a write is
retried until it goes through: a poll is never lost to a lock.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from aggregator.errors import StorageError
from aggregator.storage import (
    FeedFailure,
    FeedUpdate,
    Storage,
    StoreResult,
    StoryAssigner,
    StoryFiler,
)

log = logging.getLogger(__name__)

MAX_BATCH = 32  # polls written in one transaction at most
# How long a write keeps retrying while another process holds the database's lock.
LOCKED_PATIENCE_SECONDS = 600.0
_Result = TypeVar("_Result")


class PollWriter(Protocol):
    """Where a poll's outcome is written (the writer thread, or storage directly)."""

    def store(self, update: FeedUpdate) -> StoreResult: ...

    def record_not_modified(self, feed_id: int, **values: Any) -> None: ...

    def record_failure(self, failure: FeedFailure) -> None: ...


@dataclass
class DirectWriter:
    """Writes in the calling thread: for tests and one-off writes."""

    storage: Storage
    assigner: StoryAssigner | None = None
    filer: StoryFiler | None = None
    new_report_unreads: bool = False

    def store(self, update: FeedUpdate) -> StoreResult:
        return self.store_many([update])[0]

    def store_many(self, updates: Sequence[FeedUpdate]) -> list[StoreResult]:
        options: dict[str, Any] = {"new_report_unreads": self.new_report_unreads}
        if self.filer is not None:
            options["filer"] = self.filer
        return self.storage.store_feed_updates(updates, self.assigner, **options)

    def record_not_modified(self, feed_id: int, **values: Any) -> None:
        self.storage.record_not_modified(feed_id, **values)

    def record_failure(self, failure: FeedFailure) -> None:
        self.storage.record_failure(failure)


@dataclass
class _Job:
    kind: str  # "store", "not_modified", "failure", "call"
    payload: Any
    future: Future[Any] = field(default_factory=Future)


class WriterThread:
    """The writer of a process: a thread writing what the pollers hand it, in order.

    ``direct`` does the writing; its assigner, filer and settings may be replaced
    (``configure``) when the config changes. ``call`` runs any other storage work that
    must not overlap a write of polls (filing again, a split) in the same thread.
    """

    def __init__(
        self,
        direct: DirectWriter,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.direct = direct
        self._clock = clock
        self._sleep = sleep
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="writer", daemon=True)
        self._closed = False
        self._lock = threading.Lock()
        self._thread.start()

    # --- what pollers call (any thread) ---------------------------------------------

    def store(self, update: FeedUpdate) -> StoreResult:
        result: StoreResult = self._submit("store", update)
        return result

    def record_not_modified(self, feed_id: int, **values: Any) -> None:
        self._submit("not_modified", (feed_id, values))

    def record_failure(self, failure: FeedFailure) -> None:
        self._submit("failure", failure)

    def call(self, work: Callable[[DirectWriter], _Result]) -> _Result:
        """Run ``work(direct)`` in the writer thread, between writes; return its result."""
        result: _Result = self._submit("call", work)
        return result

    def configure(
        self, assigner: StoryAssigner | None, filer: StoryFiler | None, new_report_unreads: bool
    ) -> None:
        """Use another assigner, filer and setting from the next write on."""

        def apply(direct: DirectWriter) -> None:
            direct.assigner, direct.filer = assigner, filer
            direct.new_report_unreads = new_report_unreads

        self.call(apply)

    def close(self) -> None:
        """Write what was handed in, then stop the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._jobs.put(None)
        self._thread.join()

    def _submit(self, kind: str, payload: Any) -> Any:
        if self._closed:
            raise StorageError("the writer is closed")
        job = _Job(kind, payload)
        self._jobs.put(job)
        return job.future.result()

    # --- the writer thread --------------------------------------------------------------

    def _run(self) -> None:
        waiting: _Job | None = None
        while True:
            job = waiting or self._jobs.get()
            waiting = None
            if job is None:
                return
            batch = [job]
            # Polls that finished meanwhile go in the same transaction; anything else
            # waits for its turn after them.
            while job.kind == "store" and len(batch) < MAX_BATCH:
                try:
                    following = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if following is None or following.kind != "store":
                    waiting = following
                    if following is None:
                        self._jobs.put(None)
                        waiting = None
                    break
                batch.append(following)
            self._handle(batch)

    def _handle(self, batch: list[_Job]) -> None:
        try:
            if batch[0].kind == "store":
                self._store(batch)
                return
            (job,) = batch
            job.future.set_result(self._patiently(lambda: self._do(job)))
        except BaseException as e:  # the poller waiting on it gets the error
            for job in batch:
                if not job.future.done():
                    job.future.set_exception(e)

    def _do(self, job: _Job) -> Any:
        direct = self.direct
        if job.kind == "not_modified":
            feed_id, values = job.payload
            direct.record_not_modified(feed_id, **values)
            return None
        if job.kind == "failure":
            direct.record_failure(job.payload)
            return None
        return job.payload(direct)

    def _store(self, batch: list[_Job]) -> None:
        updates = [job.payload for job in batch]
        try:
            results = self._patiently(lambda: self.direct.store_many(updates))
        except StorageError:
            if len(batch) == 1:
                raise
            # One poll's rows broke the batch: write each alone, so only it fails.
            for job in batch:
                update: FeedUpdate = job.payload
                try:
                    job.future.set_result(self._patiently(lambda: self.direct.store(update)))  # noqa: B023 (called at once)
                except StorageError as e:
                    job.future.set_exception(e)
            return
        for job, result in zip(batch, results, strict=True):
            job.future.set_result(result)

    def _patiently(self, write: Callable[[], _Result]) -> _Result:
        """Run a write; while the database is locked by someone else, wait and retry."""
        started = self._clock()
        delay = 0.05
        while True:
            try:
                return write()
            except StorageError as e:
                waited = self._clock() - started
                if not _is_locked(e) or waited > LOCKED_PATIENCE_SECONDS:
                    raise
                log.warning("database busy for %.0f s: the write waits and retries", waited)
                self._sleep(delay)
                delay = min(delay * 2, 2.0)


def _is_locked(error: StorageError) -> bool:
    text = str(error).lower()
    return "database is locked" in text or "database is busy" in text or "deadlock" in text
