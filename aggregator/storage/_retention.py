"""Retention: remove entries older than the configured age, never starred ones.

A removed entry's identity is remembered (``pruned_entries``) so the next poll of a
feed that still lists it does not bring it back. Stories left without entries are
removed with their reader listings (their unread counters adjusted); stories that
keep other reports get a new lead and their sections, listings and search
document rebuilt.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, select

from aggregator.storage import schema
from aggregator.storage._dialect import chunked, dialect_insert
from aggregator.storage._listings import Deltas, apply_unread_deltas, index_stories
from aggregator.storage._sections import bump_versions, file_stories
from aggregator.storage._types import StoryFiler

entries = schema.entries
stories = schema.stories
story_state = schema.story_state
pruned = schema.pruned_entries
BATCH = 2000  # entries per transaction, so readers and pollers are never held up long


def pruned_among(conn: Connection, feed_id: int, identities: Sequence[str]) -> set[str]:
    """Which of these identities retention removed from this feed."""
    found: set[str] = set()
    for chunk in chunked(identities):
        found.update(
            conn.scalars(
                select(pruned.c.identity).where(
                    pruned.c.feed_id == feed_id, pruned.c.identity.in_(chunk)
                )
            )
        )
    return found


def prune_batch(conn: Connection, older_than: datetime, now: datetime, filer: StoryFiler) -> int:
    """Remove up to BATCH entries first seen before ``older_than`` (never those of a
    story any reader starred), in the caller's transaction; return how many."""
    starred = select(story_state.c.story_id).where(story_state.c.starred_at.is_not(None))
    rows = conn.execute(
        select(entries.c.id, entries.c.feed_id, entries.c.identity, entries.c.story_id)
        .where(entries.c.first_seen_at < older_than, entries.c.story_id.not_in(starred))
        .order_by(entries.c.id)
        .limit(BATCH)
    ).all()
    if not rows:
        return 0
    conn.execute(
        dialect_insert(conn, pruned)
        .values([{"feed_id": r.feed_id, "identity": r.identity, "pruned_at": now} for r in rows])
        .on_conflict_do_nothing(index_elements=["feed_id", "identity"])
    )
    entry_ids = [row.id for row in rows]
    story_ids = sorted({row.story_id for row in rows})
    sections = set(
        conn.scalars(
            select(schema.entry_sections.c.section)
            .where(schema.entry_sections.c.entry_id.in_(entry_ids))
            .distinct()
        )
    )
    conn.execute(
        delete(schema.entry_sections).where(schema.entry_sections.c.entry_id.in_(entry_ids))
    )
    conn.execute(delete(entries).where(entries.c.id.in_(entry_ids)))
    remaining = {
        row.story_id: row.id
        for row in conn.execute(
            select(entries.c.story_id, entries.c.id)
            .where(entries.c.story_id.in_(story_ids))
            .order_by(entries.c.story_id, entries.c.first_seen_at.desc(), entries.c.id.desc())
        )
    }  # the earliest remaining report of each story wins (last one written)
    empty = [story_id for story_id in story_ids if story_id not in remaining]
    kept = [story_id for story_id in story_ids if story_id in remaining]
    _drop_stories(conn, empty)
    # Stories that keep reports are filed again from what is left (a new lead too).
    membership, _shown = file_stories(conn, kept, filer)
    index_stories(conn, kept)
    bump_versions(conn, sections | membership, now)
    return len(rows)


def _drop_stories(conn: Connection, story_ids: list[int]) -> None:
    if not story_ids:
        return
    # Listing rows go first, through RETURNING, so the unread counters follow.
    removed = conn.execute(
        delete(schema.story_listings)
        .where(schema.story_listings.c.story_id.in_(story_ids))
        .returning(
            schema.story_listings.c.user_id,
            schema.story_listings.c.scope,
            schema.story_listings.c.unread,
        )
    ).all()
    deltas: Deltas = Counter()
    for row in removed:
        if row.unread:
            deltas[(row.user_id, row.scope)] -= 1
    apply_unread_deltas(conn, deltas)
    if conn.dialect.name == "sqlite":  # FTS5 rows have no foreign key to cascade
        placeholders = ",".join(str(int(story_id)) for story_id in story_ids)
        conn.exec_driver_sql(f"DELETE FROM story_search WHERE rowid IN ({placeholders})")  # noqa: S608
    conn.execute(delete(stories).where(stories.c.id.in_(story_ids)))
