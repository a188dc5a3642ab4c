"""Entries and stories: one feed's update written in one transaction."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Insert, delete, func, insert, select, update

from aggregator.storage import schema
from aggregator.storage._base import StorageBase
from aggregator.storage._dialect import chunked, dialect_insert
from aggregator.storage._filing import Refile, filing_batch, refile_batch
from aggregator.storage._history import record_attempt
from aggregator.storage._listings import index_stories
from aggregator.storage._retention import BATCH as PRUNE_BATCH
from aggregator.storage._retention import prune_batch, pruned_among
from aggregator.storage._sections import bump_versions, rebuild_story_sections
from aggregator.storage._types import FeedUpdate, ProcessedEntry, StoreResult
from aggregator.types import FetchAttempt

entries = schema.entries
feeds = schema.feeds
stories = schema.stories
story_keys = schema.story_keys
entry_sections = schema.entry_sections
story_sections = schema.story_sections
section_versions = schema.section_versions

# A published date this far past the fetch is a publisher's clock error or a
# scheduled post; it must not pin the entry to the top of the river.
FUTURE_TOLERANCE = timedelta(hours=1)


def sort_time(published: datetime | None, first_seen_at: datetime) -> datetime:
    """Return when an entry sorts in the river: published, unless missing or in the future."""
    if published is None or published > first_seen_at + FUTURE_TOLERANCE:
        return first_seen_at
    return published


def _entry_values(entry: ProcessedEntry) -> dict[str, Any]:
    return {
        "guid": entry.guid,
        "link": entry.link,
        "canonical_url": entry.canonical_url,
        "title": entry.title,
        "summary_html": entry.summary_html,
        "content_html": entry.content_html,
        "summary_text": entry.summary_text,
        "author": entry.author,
        "published_at": entry.published,
        "source_updated_at": entry.updated,
        "content_hash": entry.content_hash,
        "tags": list(entry.tags),
        "source_tags": list(entry.source_tags),
        "enclosures": [asdict(enclosure) for enclosure in entry.enclosures],
    }


def _inserted_id(conn: Connection, statement: Insert) -> int:
    key = conn.execute(statement).inserted_primary_key
    assert key is not None
    return int(key[0])


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

    def refile_entries(self, sections_of: Refile, now: datetime) -> int:
        """Recompute every entry's sections with ``sections_of``; return how many changed.

        Works in batches of entries, each its own transaction; stories, reader
        listings and published outputs follow the entries that changed.
        """
        changed = last_id = 0
        while True:
            with self.write() as conn:
                rows = filing_batch(conn, last_id)
                if not rows:
                    return changed
                last_id = rows[-1].id
                changed += refile_batch(conn, rows, sections_of, now)

    def prune_entries(self, older_than: datetime, now: datetime) -> int:
        """Remove entries first seen before ``older_than`` unless their story is starred.

        Returns how many entries were removed. Works in batches, each its own
        transaction, so readers and pollers are never held up long.
        """
        removed = 0
        while True:
            with self.write() as conn:
                batch = prune_batch(conn, older_than, now)
            removed += batch
            if batch < PRUNE_BATCH:
                return removed

    def pruned_identities(self, feed_id: int, identities: list[str]) -> set[str]:
        """Return which of these identities were removed by retention from this feed."""
        with self.read() as conn:
            return pruned_among(conn, feed_id, identities)

    def store_feed_update(self, feed_update: FeedUpdate) -> StoreResult:
        """Write a successful poll: its entries and the feed's new validators, atomically.

        Entries whose content hash is unchanged are skipped; a process killed
        half-way leaves the previous state (and the previous ETag), so the next
        poll redoes the work without duplicating anything.
        """
        with self.write() as conn:
            result = self._store_entries(conn, feed_update)
            conn.execute(
                update(feeds)
                .where(feeds.c.id == feed_update.feed_id)
                .values(
                    etag=feed_update.etag,
                    last_modified=feed_update.last_modified,
                    body_hash=feed_update.body_hash,
                    feed_title=feed_update.feed_title,
                    site_url=feed_update.site_url,
                    subtitle=feed_update.subtitle,
                    last_fetched_at=feed_update.fetched_at,
                    last_success_at=feed_update.fetched_at,
                    last_status=feed_update.status,
                    last_error=None,
                    error_count=0,
                    retry_after_until=None,
                    next_check_at=feed_update.next_check_at,
                    lease_owner=None,
                    lease_until=None,
                    publisher_hints=feed_update.publisher_hints,
                    redirect_target=feed_update.redirect_target,
                    redirect_count=feed_update.redirect_count,
                    **(
                        {"permanent_redirect_url": feed_update.permanent_redirect_url}
                        if feed_update.permanent_redirect_url
                        else {}
                    ),
                    **({"fetch_url": feed_update.fetch_url} if feed_update.fetch_url else {}),
                )
            )
            record_attempt(
                conn,
                feed_update.feed_id,
                FetchAttempt(
                    attempted_at=feed_update.fetched_at,
                    outcome="ok",
                    http_status=feed_update.status,
                    duration_ms=feed_update.duration_ms,
                    bytes=feed_update.body_bytes,
                    new_entries=result.new,
                    updated_entries=result.updated,
                    error=None,
                ),
            )
        return result

    def _store_entries(self, conn: Connection, feed_update: FeedUpdate) -> StoreResult:
        identities = [entry.identity for entry in feed_update.entries]
        stored = {
            row.identity: row
            for row in conn.execute(
                select(
                    entries.c.id,
                    entries.c.identity,
                    entries.c.content_hash,
                    entries.c.first_seen_at,
                    entries.c.story_id,
                ).where(
                    entries.c.feed_id == feed_update.feed_id, entries.c.identity.in_(identities)
                )
            )
        }
        new = updated = 0
        touched_sections: set[str] = set()
        touched_stories: set[int] = set()
        for entry in feed_update.entries:
            row = stored.get(entry.identity)
            if row is None:
                touched_stories.add(self._insert_entry(conn, feed_update, entry))
                new += 1
            elif row.content_hash != entry.content_hash:
                touched_sections |= self._update_entry(conn, feed_update.fetched_at, row, entry)
                touched_stories.add(row.story_id)
                updated += 1
            else:
                continue
            touched_sections.update(entry.sections)
        if new or updated:
            bump_versions(conn, touched_sections, feed_update.fetched_at)
        # The reader's lists, unread counters and search documents follow in this transaction.
        index_stories(conn, touched_stories)
        return StoreResult(new=new, updated=updated)

    def _insert_entry(
        self, conn: Connection, feed_update: FeedUpdate, entry: ProcessedEntry
    ) -> int:
        """Insert a new entry into its story (created if new); return the story id."""
        now = feed_update.fetched_at
        sort_at = sort_time(entry.published, now)
        story_id, is_new_story = self._story_for(conn, entry.story_keys, sort_at, now)
        entry_id = _inserted_id(
            conn,
            insert(entries).values(
                feed_id=feed_update.feed_id,
                identity=entry.identity,
                story_id=story_id,
                first_seen_at=now,
                changed_at=now,
                sort_at=sort_at,
                **_entry_values(entry),
            ),
        )
        story_values: dict[str, Any] = {"changed_at": now}
        if is_new_story:
            story_values["lead_entry_id"] = entry_id
        conn.execute(update(stories).where(stories.c.id == story_id).values(**story_values))
        self._insert_sections(
            conn,
            entry_id,
            story_id,
            sort_at,
            entry.sections,
            story_sort_at=sort_at if is_new_story else None,
        )
        return story_id

    def _update_entry(
        self, conn: Connection, now: datetime, row: Any, entry: ProcessedEntry
    ) -> set[str]:
        """Update an entry in place; return the sections it was in before."""
        sort_at = sort_time(entry.published, row.first_seen_at)
        conn.execute(
            update(entries)
            .where(entries.c.id == row.id)
            .values(changed_at=now, sort_at=sort_at, **_entry_values(entry))
        )
        self._add_story_keys(conn, entry.story_keys, row.story_id)
        old_sections = set(
            conn.scalars(
                select(entry_sections.c.section).where(entry_sections.c.entry_id == row.id)
            )
        )
        conn.execute(delete(entry_sections).where(entry_sections.c.entry_id == row.id))
        if entry.sections:
            conn.execute(
                insert(entry_sections),
                [{"entry_id": row.id, "section": s, "sort_at": sort_at} for s in entry.sections],
            )
        rebuild_story_sections(conn, row.story_id)
        conn.execute(update(stories).where(stories.c.id == row.story_id).values(changed_at=now))
        return old_sections

    def _insert_sections(
        self,
        conn: Connection,
        entry_id: int,
        story_id: int,
        sort_at: datetime,
        sections: tuple[str, ...],
        story_sort_at: datetime | None = None,
    ) -> None:
        if not sections:
            return
        conn.execute(
            insert(entry_sections),
            [{"entry_id": entry_id, "section": s, "sort_at": sort_at} for s in sections],
        )
        if story_sort_at is None:  # known already when the story was just created
            story_sort_at = conn.scalar(select(stories.c.sort_at).where(stories.c.id == story_id))
        conn.execute(
            dialect_insert(conn, story_sections)
            .values(
                [{"story_id": story_id, "section": s, "sort_at": story_sort_at} for s in sections]
            )
            .on_conflict_do_nothing(index_elements=["story_id", "section"])
        )

    def _story_for(
        self, conn: Connection, keys: tuple[str, ...], sort_at: datetime, now: datetime
    ) -> tuple[int, bool]:
        """Return (story id, created) for an entry with these keys, creating the story if new."""
        existing = self._story_owning(conn, keys)
        if existing is not None:
            self._add_story_keys(conn, keys, existing)
            return existing, False
        story_id = _inserted_id(
            conn, insert(stories).values(created_at=now, sort_at=sort_at, changed_at=now)
        )
        self._add_story_keys(conn, keys, story_id)
        if conn.dialect.name == "sqlite" or not keys:
            # SQLite writers are serialised (BEGIN IMMEDIATE): nobody got there first.
            return story_id, True
        # On PostgreSQL another transaction may have claimed one of these keys for
        # its own new story meanwhile: our insert of that key waited for it to
        # commit and then did nothing. Join that story instead of splitting one.
        winner = self._story_owning(conn, keys, other_than=story_id)
        if winner is not None:
            conn.execute(delete(stories).where(stories.c.id == story_id))  # cascades its keys
            self._add_story_keys(conn, keys, winner)
            return winner, False
        return story_id, True

    @staticmethod
    def _story_owning(
        conn: Connection, keys: tuple[str, ...], other_than: int | None = None
    ) -> int | None:
        if not keys:
            return None
        query = select(story_keys.c.story_id).where(story_keys.c.key.in_(keys))
        if other_than is not None:
            query = query.where(story_keys.c.story_id != other_than)
        story_id = conn.scalar(query.order_by(story_keys.c.story_id).limit(1))
        return int(story_id) if story_id is not None else None

    def _add_story_keys(self, conn: Connection, keys: tuple[str, ...], story_id: int) -> None:
        if not keys:
            return
        conn.execute(
            dialect_insert(conn, story_keys)
            .values([{"key": key, "story_id": story_id} for key in keys])
            .on_conflict_do_nothing(index_elements=["key"])
        )
