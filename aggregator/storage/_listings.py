"""The reader's derived data, kept in step with stories inside the writing transaction.

Three things derive from stories, their entries, sections and read/starred state, and
``index_stories`` rebuilds them for every story a write touched:

* ``story_listings``: the lists a story appears in, with its position and unread flag.
* ``unread_counts``: unread stories per list. Every statement that adds, removes or
  flips listing rows returns the rows it changed (RETURNING), and exactly those become
  counter deltas, so concurrent PostgreSQL writers cannot make the counters drift.
* ``story_search``: the story's full-text document.

Entries are never deleted, so stories only gain reports; should stories ever be purged,
their listing rows must be deleted through here (a cascade would skip the counters).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select, text, update

from aggregator.process import html_to_text
from aggregator.scopes import ALL, STARRED, feed_scope, section_scope
from aggregator.storage import schema
from aggregator.storage._dialect import chunked, dialect_insert
from aggregator.storage._search import MATCH_END, MATCH_START

entries = schema.entries
stories = schema.stories
story_sections = schema.story_sections
story_state = schema.story_state
story_listings = schema.story_listings
unread_counts = schema.unread_counts

# A story's search document is cut here: enough for any article, and PostgreSQL
# refuses tsvectors over 1 MB.
SEARCH_BODY_CHARS = 60_000


def lock_stories(conn: Connection, story_ids: Sequence[int]) -> None:
    """On PostgreSQL, lock these stories' rows until commit.

    A poll adding a report to a story locks the story row (it updates changed_at)
    before it copies the story's read state into new listing rows; taking the same
    lock before changing the state makes the two wait for each other instead of
    leaving a new listing row with a stale unread flag. SQLite writers are serial.
    """
    if conn.dialect.name == "postgresql" and story_ids:
        conn.execute(
            select(stories.c.id)
            .where(stories.c.id.in_(story_ids))
            .order_by(stories.c.id)
            .with_for_update()
        )


def apply_unread_deltas(conn: Connection, deltas: Counter[str]) -> None:
    """Add ``deltas`` (scope -> change) to the unread counters."""
    rows = [{"scope": scope, "unread": delta} for scope, delta in sorted(deltas.items()) if delta]
    for chunk in chunked(rows):
        statement = dialect_insert(conn, unread_counts).values(chunk)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["scope"],
                set_={"unread": unread_counts.c.unread + statement.excluded.unread},
            )
        )


def set_listings_unread(conn: Connection, story_ids: Sequence[int], unread: bool) -> int:
    """Flip the listing rows of these stories to ``unread``, with their counter deltas.

    Returns the number of stories whose "all" row changed.
    """
    deltas: Counter[str] = Counter()
    changed = 0
    for chunk in chunked(list(story_ids)):
        rows = conn.execute(
            update(story_listings)
            .where(story_listings.c.story_id.in_(chunk), story_listings.c.unread.is_(not unread))
            .values(unread=unread)
            .returning(story_listings.c.scope)
        ).all()
        for row in rows:
            deltas[row.scope] += 1 if unread else -1
            changed += row.scope == ALL
    apply_unread_deltas(conn, deltas)
    return changed


def index_stories(conn: Connection, story_ids: Iterable[int]) -> None:
    """Bring the listings, unread counters and search documents of these stories up to date."""
    ids = sorted(set(story_ids))
    for chunk in chunked(ids):
        sync_listings(conn, chunk)
        _sync_search_documents(conn, chunk)


def index_all_stories(conn: Connection) -> None:
    """Build the reader's data for every stored story (an upgrade of an old database)."""
    index_stories(conn, list(conn.scalars(select(stories.c.id).order_by(stories.c.id))))


# --- listings --------------------------------------------------------------------------


def _desired_listings(conn: Connection, ids: Sequence[int]) -> dict[tuple[int, str], datetime]:
    sort_of: dict[int, datetime] = {
        row.id: row.sort_at
        for row in conn.execute(
            select(stories.c.id, stories.c.sort_at).where(stories.c.id.in_(ids))
        )
    }
    desired = {(story_id, ALL): sort_at for story_id, sort_at in sort_of.items()}
    starred = conn.scalars(
        select(story_state.c.story_id).where(
            story_state.c.story_id.in_(ids), story_state.c.starred_at.is_not(None)
        )
    )
    for story_id in starred:
        desired[(story_id, STARRED)] = sort_of[story_id]
    sections = conn.execute(
        select(story_sections.c.story_id, story_sections.c.section).where(
            story_sections.c.story_id.in_(ids)
        )
    )
    for row in sections:
        desired[(row.story_id, section_scope(row.section))] = sort_of[row.story_id]
    reporters = conn.execute(
        select(entries.c.story_id, entries.c.feed_id).where(entries.c.story_id.in_(ids)).distinct()
    )
    for row in reporters:
        desired[(row.story_id, feed_scope(row.feed_id))] = sort_of[row.story_id]
    return desired


def sync_listings(conn: Connection, ids: Sequence[int]) -> None:
    """Make these stories' listing rows (and the counters) match their current data."""
    desired = _desired_listings(conn, ids)
    read = set(
        conn.scalars(
            select(story_state.c.story_id).where(
                story_state.c.story_id.in_(ids), story_state.c.read_at.is_not(None)
            )
        )
    )
    existing = {
        (row.story_id, row.scope): row
        for row in conn.execute(select(story_listings).where(story_listings.c.story_id.in_(ids)))
    }
    deltas: Counter[str] = Counter()
    missing = [
        {"story_id": story_id, "scope": scope, "sort_at": sort_at, "unread": story_id not in read}
        for (story_id, scope), sort_at in desired.items()
        if (story_id, scope) not in existing
    ]
    for chunk in chunked(missing):
        inserted = conn.execute(
            dialect_insert(conn, story_listings)
            .values(chunk)
            .on_conflict_do_nothing(index_elements=["story_id", "scope"])
            .returning(story_listings.c.scope, story_listings.c.unread)
        )
        deltas.update(row.scope for row in inserted if row.unread)
    for (story_id, scope), row in existing.items():
        if (story_id, scope) not in desired:
            _delete_listing(conn, story_id, scope, deltas)
        elif row.sort_at != desired[(story_id, scope)]:
            conn.execute(
                update(story_listings)
                .where(story_listings.c.story_id == story_id, story_listings.c.scope == scope)
                .values(sort_at=desired[(story_id, scope)])
            )
    apply_unread_deltas(conn, deltas)
    # Listing rows whose flag disagrees with the story's state (a state change that
    # raced a new report on PostgreSQL) are put right, with their deltas.
    stale = {sid for (sid, _), row in existing.items() if row.unread == (sid in read)}
    for story_id in sorted(stale):
        set_listings_unread(conn, [story_id], story_id not in read)


def _delete_listing(conn: Connection, story_id: int, scope: str, deltas: Counter[str]) -> None:
    removed = conn.execute(
        delete(story_listings)
        .where(story_listings.c.story_id == story_id, story_listings.c.scope == scope)
        .returning(story_listings.c.unread)
    ).all()
    deltas[scope] -= sum(1 for row in removed if row.unread)


# --- search documents ------------------------------------------------------------------


def _plain(text_value: str) -> str:
    return text_value.replace(MATCH_START, " ").replace(MATCH_END, " ").replace("\x00", "")


def _entry_text(row: Any) -> str:
    # Full content when the feed gives it (it contains the summary); else the summary.
    return html_to_text(row.content_html) if row.content_html else row.summary_text


def _sync_search_documents(conn: Connection, ids: Sequence[int]) -> None:
    leads = {
        row.id: row.lead_entry_id
        for row in conn.execute(
            select(stories.c.id, stories.c.lead_entry_id).where(stories.c.id.in_(ids))
        )
    }
    rows = conn.execute(
        select(
            entries.c.id,
            entries.c.story_id,
            entries.c.title,
            entries.c.summary_text,
            entries.c.content_html,
        )
        .where(entries.c.story_id.in_(ids))
        .order_by(entries.c.story_id, entries.c.first_seen_at, entries.c.id)
    ).all()
    by_story: dict[int, list[Any]] = {}
    for row in rows:
        by_story.setdefault(row.story_id, []).append(row)
    documents = []
    for story_id, reports in by_story.items():
        lead = next((row for row in reports if row.id == leads.get(story_id)), reports[0])
        others = [row for row in reports if row is not lead]
        body = " ".join([_entry_text(lead), *(f"{row.title} {_entry_text(row)}" for row in others)])
        documents.append(
            {
                "story_id": story_id,
                "title": _plain(lead.title),
                "body": _plain(body)[:SEARCH_BODY_CHARS],
            }
        )
    if not documents:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(
            text(
                "INSERT INTO story_search (story_id, title, body) VALUES (:story_id, :title, :body)"
                " ON CONFLICT (story_id) DO UPDATE SET title = excluded.title, body = excluded.body"
            ),
            documents,
        )
        return
    conn.execute(
        text("DELETE FROM story_search WHERE rowid = :story_id"),
        [{"story_id": document["story_id"]} for document in documents],
    )
    conn.execute(
        text("INSERT INTO story_search (rowid, title, body) VALUES (:story_id, :title, :body)"),
        documents,
    )
