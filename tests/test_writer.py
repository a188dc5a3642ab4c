"""The writer thread: a poll is never lost to another process's lock, and one bad poll
in a batch costs that poll alone. Real SQLite files; the lock is held by a separate
connection, as another process (a second `aggregator poll`, a backup) would."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from aggregator.errors import StorageError
from aggregator.storage import open_storage, schema
from aggregator.update import DirectWriter, WriterThread
from tests.test_storage import add_feeds, count, make_entry, make_update


@pytest.fixture
def short_busy_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # SQLite's own busy handler gives up after this; the writer must then wait on.
    monkeypatch.setattr("aggregator.storage._engine.SQLITE_BUSY_TIMEOUT_MS", 200)


def hold_write_lock(path: Path, seconds: float) -> threading.Event:
    """Take SQLite's write lock from another connection for ``seconds``; the event is
    set once the lock is held."""
    held = threading.Event()

    def run() -> None:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        held.set()
        time.sleep(seconds)
        other.execute("COMMIT")
        other.close()

    threading.Thread(target=run, daemon=True).start()
    assert held.wait(5)
    return held


def test_a_poll_waits_out_a_lock_held_longer_than_the_busy_timeout(
    tmp_path: Path, short_busy_timeout: None, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "locked.db"
    storage = open_storage(f"sqlite:///{path}")
    (feed_id,) = add_feeds(storage, "https://wire.example/feed")
    writer = WriterThread(DirectWriter(storage))
    try:
        # Without the writer's patience this store fails with "database is locked"
        # after 0.2 s: the lock is held for 1.5 s.
        hold_write_lock(path, 1.5)
        with pytest.raises(StorageError, match="locked"):
            storage.store_feed_update(make_update(feed_id, make_entry("direct")))
        hold_write_lock(path, 1.5)
        with caplog.at_level(logging.WARNING, logger="aggregator.update._writer"):
            result = writer.store(make_update(feed_id, *[make_entry(str(i)) for i in range(5)]))
    finally:
        writer.close()
    assert result.new == 5
    assert count(storage, schema.entries) == 5
    assert "database busy" in caplog.text
    storage.close()


def test_one_bad_poll_in_a_batch_costs_that_poll_alone(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'batch.db'}")
    ids = add_feeds(storage, *[f"https://f{i}.example/feed" for i in range(4)])
    writer = WriterThread(DirectWriter(storage))
    release = threading.Event()
    results: dict[int, object] = {}
    try:
        # Keep the writer busy so that the polls below queue up and go in one batch.
        blocker = threading.Thread(target=writer.call, args=(lambda _direct: release.wait(10),))
        blocker.start()
        time.sleep(0.1)
        updates = {feed_id: make_update(feed_id, make_entry(f"{feed_id}-a")) for feed_id in ids}
        # A poll of a feed that is not in the database: its rows break the batch.
        updates[9999] = make_update(9999, make_entry("orphan"))

        def store(feed_id: int) -> None:
            try:
                results[feed_id] = writer.store(updates[feed_id])
            except Exception as e:  # the poller gets its own poll's error
                results[feed_id] = e

        pollers = [threading.Thread(target=store, args=(feed_id,)) for feed_id in updates]
        for poller in pollers:
            poller.start()
        time.sleep(0.2)
        release.set()
        for thread in [blocker, *pollers]:
            thread.join(10)
    finally:
        writer.close()
    assert isinstance(results[9999], Exception)
    assert all(getattr(results[feed_id], "new", None) == 1 for feed_id in ids)
    assert count(storage, schema.entries) == 4
    storage.close()
