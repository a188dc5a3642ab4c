"""Entries and stories as polls write them; filing them again; retention."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy import func, select

from aggregator.storage import schema
from aggregator.storage._base import StorageBase
from aggregator.storage._dialect import chunked
from aggregator.storage._filing import refile_batch
from aggregator.storage._retention import BATCH as PRUNE_BATCH
from aggregator.storage._retention import prune_batch, pruned_among
from aggregator.storage._types import (
    FeedUpdate,
    IndexedReport,
    Joining,
    JoinRule,
    NewReport,
    StoreResult,
    StoryAssigner,
    StoryFiler,
    union_of_given,
)
from aggregator.storage._writes import split_report, write_updates

entries = schema.entries


class ExactKeysOnly:
    """A StoryAssigner joining stories by exact keys alone (the same URL or text), for
    storage used without story matching (tests, fills)."""

    def prepare(self, load: Callable[[int, datetime], Sequence[IndexedReport]]) -> None:
        pass

    def join(self, report: NewReport, exact_story: int | None, exact_rule: JoinRule) -> Joining:
        return Joining(exact_story, exact_rule) if exact_story else Joining(None, "first")

    def add(self, report: NewReport, story_id: int) -> None:
        pass

    def refresh(self, report: NewReport, story_id: int) -> None:
        pass

    def move(self, entry_id: int, story_id: int) -> None:
        pass

    def related(self, story_id: int) -> list[tuple[int, float]]:
        return []

    def discard(self) -> None:
        pass


class EntriesMixin(StorageBase):
    def get_entry_hashes(self, feed_id: int, identities: list[str]) -> dict[str, str]:
        """Return identity -> content hash for the given entries already stored."""
        found: dict[str, str] = {}
        with self.read() as conn:
            for chunk in chunked(identities):
                query = select(entries.c.identity, entries.c.content_hash).where(
                    entries.c.feed_id == feed_id, entries.c.identity.in_(chunk)
                )
                found.update({row.identity: row.content_hash for row in conn.execute(query)})
        return found

    def count_entries_since(self, feed_id: int, since: datetime) -> int:
        """How many entries of a feed were first seen after ``since`` (its publishing rate)."""
        query = select(func.count()).where(
            entries.c.feed_id == feed_id, entries.c.first_seen_at >= since
        )
        with self.read() as conn:
            return int(conn.scalar(query) or 0)

    def refile_stories(self, filer: StoryFiler, now: datetime) -> int:
        """File every story again with ``filer``; return how many moved section.

        Works in batches of stories, each its own transaction; the reader's lists and
        the published outputs follow the stories that moved.
        """
        moved = last_id = 0
        while True:
            with self.write() as conn:
                count, done = refile_batch(conn, last_id, filer, now)
            if done is None:
                return moved
            moved, last_id = moved + count, done

    def prune_entries(
        self, older_than: datetime, now: datetime, filer: StoryFiler = union_of_given
    ) -> int:
        """Remove entries first seen before ``older_than`` unless their story is starred.

        Returns how many entries were removed. Works in batches, each its own
        transaction, so readers and pollers are never held up long.
        """
        removed = 0
        while True:
            with self.write() as conn:
                batch = prune_batch(conn, older_than, now, filer)
            removed += batch
            if batch < PRUNE_BATCH:
                return removed

    def pruned_identities(self, feed_id: int, identities: list[str]) -> set[str]:
        """Return which of these identities were removed by retention from this feed."""
        with self.read() as conn:
            return pruned_among(conn, feed_id, identities)

    def split_report(self, entry_id: int, filer: StoryFiler, now: datetime) -> int:
        """Move a report out of its story into a new story of its own, remembered as
        split (story_rule "split"); both stories are filed and listed again. Returns the
        new story's id. Raises LookupError (no such report) or ValueError (it is its
        story's only report)."""
        with self.write() as conn:
            return split_report(conn, entry_id, filer, now)

    def store_feed_update(
        self,
        feed_update: FeedUpdate,
        assigner: StoryAssigner | None = None,
        filer: StoryFiler = union_of_given,
    ) -> StoreResult:
        """Write one successful poll atomically (see ``store_feed_updates``)."""
        return self.store_feed_updates([feed_update], assigner, filer)[0]

    def store_feed_updates(
        self,
        updates: Sequence[FeedUpdate],
        assigner: StoryAssigner | None = None,
        filer: StoryFiler = union_of_given,
        *,
        new_report_unreads: bool = False,
    ) -> list[StoreResult]:
        """Write successful polls in one transaction: their new and changed entries, the
        stories they join (``assigner`` decides; by exact keys alone without one), the
        stories' sections (``filer`` decides) and the feeds' validators and schedule.

        Entries whose content hash is unchanged are skipped; a process killed half-way
        leaves the previous state (and the previous ETag), so the next poll redoes the
        work without duplicating anything. If the transaction fails, the assigner is
        told to forget what it learnt during it.
        """
        assigner = assigner or ExactKeysOnly()
        try:
            with self.write() as conn:
                if conn.dialect.name == "postgresql":
                    # Story matching reads what others stored, then decides: one
                    # decider at a time across processes (SQLite writers are serial).
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({STORY_LOCK})")
                return write_updates(
                    conn, updates, assigner, filer, new_report_unreads=new_report_unreads
                )
        except BaseException:
            assigner.discard()
            raise


STORY_LOCK = 0x53746F72  # "Stor": the advisory lock of story assignment on PostgreSQL
