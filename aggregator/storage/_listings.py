"""The reader's derived data, kept in step with stories inside the writing transaction.

Three things derive from stories, their entries, sections and the readers' read and
starred state, and ``index_stories`` rebuilds them for every story a write touched:

* ``story_listings``: for every reader (each user, and ANONYMOUS), the lists a story
  appears in, with its position and that reader's unread flag.
* ``unread_counts``: unread stories per reader and list. Every statement that adds,
  removes or flips listing rows returns the rows it changed (RETURNING), and exactly
  those become counter deltas, so concurrent PostgreSQL writers cannot make the
  counters drift.
* ``story_search``: the story's full-text document.

Entries are never deleted, so stories only gain reports; should stories ever be purged,
their listing rows must be deleted through here (a cascade would skip the counters).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, inspect, select, text, update

from aggregator.process import html_to_text
from aggregator.scopes import ALL, STARRED, feed_scope, section_scope
from aggregator.storage import schema
from aggregator.storage._dialect import chunked, dialect_insert
from aggregator.storage._search import MATCH_END, MATCH_START
from aggregator.types import ANONYMOUS

entries = schema.entries
stories = schema.stories
story_sections = schema.story_sections
story_state = schema.story_state
story_listings = schema.story_listings
unread_counts = schema.unread_counts
users = schema.users

# A story's search document is cut here: enough for any article, and PostgreSQL
# refuses tsvectors over 1 MB.
SEARCH_BODY_CHARS = 60_000
# The PostgreSQL advisory lock between the writers of readers' state (shared) and
# adding or removing a reader (exclusive), see lock_readers.
_READERS_LOCK = 724013

# Counter deltas: (reader, scope) -> change.
Deltas = Counter[tuple[int, str]]


def lock_readers(conn: Connection, *, exclusive: bool = False) -> None:
    """On PostgreSQL, hold the readers lock until commit: shared by every write of
    listings or state, exclusive while a user is added or removed.

    Adding a user copies the listings of every story; a poll writing listings for the
    readers it knows must not run meanwhile, or the new user would miss its stories.
    SQLite writers are serial.
    """
    if conn.dialect.name == "postgresql":
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        conn.exec_driver_sql(f"SELECT {function}({_READERS_LOCK})")


def reader_ids(conn: Connection) -> list[int]:
    """Every reader with listings: ANONYMOUS, then each user by id."""
    return [ANONYMOUS, *conn.scalars(select(users.c.id).order_by(users.c.id))]


def lock_stories(conn: Connection, story_ids: Sequence[int]) -> None:
    """On PostgreSQL, lock these stories' rows until commit (and share the readers lock).

    A poll adding a report to a story locks the story row (it updates changed_at)
    before it copies the story's read state into new listing rows; taking the same
    lock before changing the state makes the two wait for each other instead of
    leaving a new listing row with a stale unread flag. SQLite writers are serial.
    """
    if conn.dialect.name == "postgresql" and story_ids:
        lock_readers(conn)
        conn.execute(
            select(stories.c.id)
            .where(stories.c.id.in_(story_ids))
            .order_by(stories.c.id)
            .with_for_update()
        )


def apply_unread_deltas(conn: Connection, deltas: Deltas) -> None:
    """Add ``deltas`` ((reader, scope) -> change) to the unread counters."""
    rows = [
        {"user_id": user_id, "scope": scope, "unread": delta}
        for (user_id, scope), delta in sorted(deltas.items())
        if delta
    ]
    for chunk in chunked(rows):
        statement = dialect_insert(conn, unread_counts).values(chunk)
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["user_id", "scope"],
                set_={"unread": unread_counts.c.unread + statement.excluded.unread},
            )
        )


def set_listings_unread(
    conn: Connection, user_id: int, story_ids: Sequence[int], unread: bool
) -> int:
    """Flip one reader's listing rows of these stories to ``unread``, with their counter
    deltas. Returns the number of stories whose "all" row changed.
    """
    deltas: Deltas = Counter()
    changed = 0
    for chunk in chunked(list(story_ids)):
        rows = conn.execute(
            update(story_listings)
            .where(
                story_listings.c.user_id == user_id,
                story_listings.c.story_id.in_(chunk),
                story_listings.c.unread.is_(not unread),
            )
            .values(unread=unread)
            .returning(story_listings.c.scope)
        ).all()
        for row in rows:
            deltas[(user_id, row.scope)] += 1 if unread else -1
            changed += row.scope == ALL
    apply_unread_deltas(conn, deltas)
    return changed


def index_stories(
    conn: Connection, story_ids: Iterable[int], readers: Sequence[int] | None = None
) -> None:
    """Bring the listings, unread counters and search documents of these stories up to
    date, for every reader (``readers``: who they are, when the caller knows)."""
    ids = sorted(set(story_ids))
    if not ids:
        return
    lock_readers(conn)
    readers = reader_ids(conn) if readers is None else readers
    for chunk in chunked(ids):
        sync_listings(conn, chunk, readers)
        _sync_search_documents(conn, chunk)


def index_all_stories(conn: Connection) -> None:
    """Build the reader's data for every stored story (an upgrade of an old database,
    which may predate the users table: then ANONYMOUS is the only reader)."""
    readers = reader_ids(conn) if inspect(conn).has_table(users.name) else [ANONYMOUS]
    index_stories(conn, list(conn.scalars(select(stories.c.id).order_by(stories.c.id))), readers)


# --- listings --------------------------------------------------------------------------

# (story id, scope) -> sort_at: the lists a story is in for everyone (all, its sections,
# its feeds); STARRED is added per reader.
Structure = dict[tuple[int, str], datetime]
# (reader, story id, scope)
ListingKey = tuple[int, int, str]


def _structure(conn: Connection, ids: Sequence[int]) -> tuple[Structure, dict[int, datetime]]:
    sort_of: dict[int, datetime] = {
        row.id: row.sort_at
        for row in conn.execute(
            select(stories.c.id, stories.c.sort_at).where(stories.c.id.in_(ids))
        )
    }
    # The reader's filters (stored flags, see _sections.py): a report hidden by its
    # feed's filter lists the story neither under that feed nor, when it was the only
    # report shown, anywhere; a section hiding the story does not list it.
    structure: Structure = {}
    reporters = conn.execute(
        select(entries.c.story_id, entries.c.feed_id)
        .where(entries.c.story_id.in_(ids), entries.c.hidden.is_(False))
        .distinct()
    )
    for row in reporters:
        structure[(row.story_id, ALL)] = sort_of[row.story_id]
        structure[(row.story_id, feed_scope(row.feed_id))] = sort_of[row.story_id]
    sections = conn.execute(
        select(story_sections.c.story_id, story_sections.c.section).where(
            story_sections.c.story_id.in_(ids), story_sections.c.hidden.is_(False)
        )
    )
    for row in sections:
        if (row.story_id, ALL) in structure:
            structure[(row.story_id, section_scope(row.section))] = sort_of[row.story_id]
    return structure, sort_of


def sync_listings(conn: Connection, ids: Sequence[int], readers: Sequence[int]) -> None:
    """Make these stories' listing rows (and the counters) match their current data, for
    every reader."""
    structure, sort_of = _structure(conn, ids)
    read: set[tuple[int, int]] = set()  # (reader, story)
    desired: dict[ListingKey, datetime] = {
        (reader, story_id, scope): sort_at
        for reader in readers
        for (story_id, scope), sort_at in structure.items()
    }
    known = set(readers)
    for row in conn.execute(
        select(
            story_state.c.user_id, story_state.c.story_id, story_state.c.read_at,
            story_state.c.starred_at,
        ).where(story_state.c.story_id.in_(ids))
    ):  # fmt: skip
        if row.user_id not in known or row.story_id not in sort_of:
            continue
        if row.read_at is not None:
            read.add((row.user_id, row.story_id))
        if row.starred_at is not None:
            desired[(row.user_id, row.story_id, STARRED)] = sort_of[row.story_id]
    existing = {
        (row.user_id, row.story_id, row.scope): row
        for row in conn.execute(select(story_listings).where(story_listings.c.story_id.in_(ids)))
    }
    deltas: Deltas = Counter()
    missing = [
        {
            "user_id": reader,
            "story_id": story_id,
            "scope": scope,
            "sort_at": sort_at,
            "unread": (reader, story_id) not in read,
        }
        for (reader, story_id, scope), sort_at in desired.items()
        if (reader, story_id, scope) not in existing
    ]
    for chunk in chunked(missing):
        inserted = conn.execute(
            dialect_insert(conn, story_listings)
            .values(chunk)
            .on_conflict_do_nothing(index_elements=["story_id", "user_id", "scope"])
            .returning(story_listings.c.user_id, story_listings.c.scope, story_listings.c.unread)
        )
        deltas.update((row.user_id, row.scope) for row in inserted if row.unread)
    for key, row in existing.items():
        if key not in desired:
            _delete_listing(conn, key, deltas)
        elif row.sort_at != desired[key]:
            reader, story_id, scope = key
            conn.execute(
                update(story_listings)
                .where(
                    story_listings.c.story_id == story_id,
                    story_listings.c.user_id == reader,
                    story_listings.c.scope == scope,
                )
                .values(sort_at=desired[key])
            )
    apply_unread_deltas(conn, deltas)
    # Listing rows whose flag disagrees with the reader's state (a state change that
    # raced a new report on PostgreSQL) are put right, with their deltas.
    stale = {
        (reader, story_id)
        for (reader, story_id, _), row in existing.items()
        if reader in known and row.unread == ((reader, story_id) in read)
    }
    for reader, story_id in sorted(stale):
        set_listings_unread(conn, reader, [story_id], (reader, story_id) not in read)


def _delete_listing(conn: Connection, key: ListingKey, deltas: Deltas) -> None:
    reader, story_id, scope = key
    removed = conn.execute(
        delete(story_listings)
        .where(
            story_listings.c.story_id == story_id,
            story_listings.c.user_id == reader,
            story_listings.c.scope == scope,
        )
        .returning(story_listings.c.unread)
    ).all()
    deltas[(reader, scope)] -= sum(1 for row in removed if row.unread)


def copy_listings(conn: Connection, source: int, target: int, *, keep_state: bool) -> None:
    """Give reader ``target`` (who has none) the listings of ``source``: with its unread
    flags and starred list (``keep_state``), or every story unread and none starred.
    The counters of ``target`` are counted from the copy. Hold the readers lock
    exclusively (lock_readers)."""
    columns = "story_id, user_id, scope, sort_at, unread"
    unread = "unread" if keep_state else ":unread"
    only = "" if keep_state else " AND scope <> :starred"
    conn.execute(
        text(
            f"INSERT INTO story_listings ({columns})"  # noqa: S608 - constant fragments
            f" SELECT story_id, :target, scope, sort_at, {unread}"
            f" FROM story_listings WHERE user_id = :source{only}"
        ),
        {"source": source, "target": target, "unread": True, "starred": STARRED},
    )
    conn.execute(delete(unread_counts).where(unread_counts.c.user_id == target))
    conn.execute(
        text(
            "INSERT INTO unread_counts (user_id, scope, unread)"
            " SELECT :target, scope, COUNT(*) FROM story_listings"
            " WHERE user_id = :target AND unread = :unread GROUP BY scope"
        ),
        {"target": target, "unread": True},
    )


def forget_reader(conn: Connection, user_id: int) -> None:
    """Delete a reader's state, listings and counters. Hold the readers lock
    exclusively (lock_readers)."""
    for table in (story_listings, unread_counts, story_state):
        conn.execute(delete(table).where(table.c.user_id == user_id))


# --- search documents ------------------------------------------------------------------


def _plain(text_value: str) -> str:
    return text_value.replace(MATCH_START, " ").replace(MATCH_END, " ").replace("\x00", "")


def _entry_text(row: Any) -> str:
    # The article page's text when it was fetched (full text); else full content when
    # the feed gives it (it contains the summary); else the summary.
    if row.full_text_html:
        return html_to_text(row.full_text_html)
    return html_to_text(row.content_html) if row.content_html else row.summary_text


def _sync_search_documents(conn: Connection, ids: Sequence[int]) -> None:
    leads = {
        row.id: row.lead_entry_id
        for row in conn.execute(
            select(stories.c.id, stories.c.lead_entry_id).where(stories.c.id.in_(ids))
        )
    }
    # Reports hidden by their feed's filter are not searched; a story with none left
    # has no document.
    rows = conn.execute(
        select(
            entries.c.id,
            entries.c.story_id,
            entries.c.title,
            entries.c.summary_text,
            entries.c.content_html,
            entries.c.full_text_html,
        )
        .where(entries.c.story_id.in_(ids), entries.c.hidden.is_(False))
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
    unshown = [story_id for story_id in ids if story_id not in by_story]
    if unshown:
        column = "story_id" if conn.dialect.name == "postgresql" else "rowid"
        conn.execute(
            text(f"DELETE FROM story_search WHERE {column} = :story_id"),  # noqa: S608
            [{"story_id": story_id} for story_id in unshown],
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
