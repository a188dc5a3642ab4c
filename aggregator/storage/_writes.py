"""Writing polls: the entries of one or more source feeds, their stories, sections and
the reader's lists, in one transaction.

Built for throughput (one writer thread calls it with a batch of finished polls): ids
are allocated up front, so every decision (which story each new entry joins) is made
in Python first and the rows then go in with one multi-row statement per table.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, func, select, text
from sqlalchemy import update as update_statement

from aggregator.storage import schema
from aggregator.storage._dialect import chunked, dialect_insert, in_ids
from aggregator.storage._history import record_attempts
from aggregator.storage._listings import (
    index_stories,
    lock_readers,
    reader_ids,
    set_listings_unread,
)
from aggregator.storage._sections import bump_versions, file_stories
from aggregator.storage._types import (
    FeedUpdate,
    IndexedReport,
    JoinRule,
    NewReport,
    ProcessedEntry,
    StoreResult,
    StoryAssigner,
    StoryFiler,
)
from aggregator.types import FetchAttempt

entries = schema.entries
feeds = schema.feeds
stories = schema.stories
story_keys = schema.story_keys
story_state = schema.story_state
related_stories = schema.related_stories

# A published date this far past the fetch is a publisher's clock error or a
# scheduled post; it must not pin the entry to the top of the river.
FUTURE_TOLERANCE = timedelta(hours=1)


def sort_time(published: datetime | None, first_seen_at: datetime) -> datetime:
    """Return when an entry sorts in the river: published, unless missing or in the future."""
    if published is None or published > first_seen_at + FUTURE_TOLERANCE:
        return first_seen_at
    return published


def entry_values(entry: ProcessedEntry) -> dict[str, Any]:
    """The columns of an entry its outlet controls (written on insert and on update)."""
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


class IdAllocator:
    """Ids for the rows a transaction inserts, handed out before the rows are written.

    SQLite: the next ids after the largest (writers are serialised, so nobody else
    takes them). PostgreSQL: values of the table's own sequence, a block at a time.
    """

    def __init__(self, conn: Connection, table: str) -> None:
        self._conn = conn
        self._table = table
        self._next: list[int] = []
        self._last: int | None = None

    def take(self, reserve: int = 1) -> int:
        """One id; ``reserve`` says how many more are likely wanted (one round trip)."""
        if self._conn.dialect.name != "postgresql":
            if self._last is None:
                self._last = int(
                    self._conn.exec_driver_sql(f"SELECT max(id) FROM {self._table}").scalar()  # noqa: S608
                    or 0
                )
            self._last += 1
            return self._last
        if not self._next:
            rows = self._conn.execute(
                text(
                    "SELECT nextval(pg_get_serial_sequence(:table, 'id'))"
                    " FROM generate_series(1, :n)"
                ),
                {"table": self._table, "n": max(1, reserve)},
            )
            self._next = sorted((int(value) for (value,) in rows), reverse=True)
        return self._next.pop()


@dataclass
class _Batch:
    """What one transaction writes, gathered before any row is written."""

    now: datetime
    new_stories: list[dict[str, Any]] = field(default_factory=list)
    new_entries: list[dict[str, Any]] = field(default_factory=list)
    changed_entries: list[dict[str, Any]] = field(default_factory=list)
    keys: list[dict[str, Any]] = field(default_factory=list)
    fresh: dict[int, tuple[str, tuple[str, ...]]] = field(default_factory=dict)  # see Fresh
    touched: set[int] = field(default_factory=set)  # stories whose reports changed
    joined: set[int] = field(default_factory=set)  # existing stories a new feed reported
    created: set[int] = field(default_factory=set)
    key_owner: dict[str, int] = field(default_factory=dict)  # story key -> story id


def write_updates(
    conn: Connection,
    updates: Sequence[FeedUpdate],
    assigner: StoryAssigner,
    filer: StoryFiler,
    *,
    new_report_unreads: bool = False,
) -> list[StoreResult]:
    """Write successful polls (in this order) in the caller's transaction; return each
    one's new and updated entry counts.

    Entries whose content hash is unchanged are skipped; a process killed half-way
    leaves the previous state (and the previous ETag), so the next poll redoes the
    work without duplicating anything.
    """
    # Readers' listings are written below: on PostgreSQL take the readers lock first,
    # before any story row, in the order readers' own writes take them.
    lock_readers(conn)
    assigner.prepare(lambda after, since: indexed_reports(conn, after, since))
    batch = _Batch(now=max(update.fetched_at for update in updates))
    entry_ids = IdAllocator(conn, "entries")
    story_ids = IdAllocator(conn, "stories")
    results = [_gather(conn, update, batch, assigner, entry_ids, story_ids) for update in updates]
    _insert_rows(conn, batch)
    # The feeds' own titles first: filing names them in its reasons.
    _record_polls(conn, updates, results)
    if new_report_unreads and batch.joined:
        _unread_again(conn, sorted(batch.joined))
    membership, shown = file_stories(conn, batch.touched, filer, batch.fresh)
    _store_related(conn, batch.touched, assigner)
    index_stories(conn, batch.touched)
    if batch.touched:
        bump_versions(conn, membership | shown, batch.now)
    return results


def _gather(
    conn: Connection,
    update: FeedUpdate,
    batch: _Batch,
    assigner: StoryAssigner,
    entry_ids: IdAllocator,
    story_ids: IdAllocator,
) -> StoreResult:
    """Decide where each new and changed entry of one poll goes; rows kept in ``batch``."""
    stored = _stored_entries(conn, update.feed_id, [e.identity for e in update.entries])
    new = [entry for entry in update.entries if entry.identity not in stored]
    changed = [
        entry
        for entry in update.entries
        if entry.identity in stored and stored[entry.identity].content_hash != entry.content_hash
    ]
    owners = _story_key_owners(conn, [key for entry in new for key in entry.story_keys])
    for entry in new:
        _gather_new(update, entry, batch, assigner, owners, entry_ids, story_ids, len(new))
    for entry in changed:
        row = stored[entry.identity]
        vector = assigner.refresh(
            NewReport(
                row.id,
                update.feed_id,
                entry.title,
                entry.match_text,
                entry.published or row.first_seen_at,
                entry.story_keys,
            ),
            row.story_id,
        )
        batch.changed_entries.append(
            {
                "b_id": row.id,
                "changed_at": update.fetched_at,
                "sort_at": sort_time(entry.published, row.first_seen_at),
                "story_vector": vector,
                **entry_values(entry),
            }
        )
        batch.keys.extend({"key": key, "story_id": row.story_id} for key in entry.story_keys)
        batch.fresh[row.id] = (entry.match_text, entry.sections)
        batch.touched.add(row.story_id)
    return StoreResult(new=len(new), updated=len(changed))


def _gather_new(
    update: FeedUpdate,
    entry: ProcessedEntry,
    batch: _Batch,
    assigner: StoryAssigner,
    owners: dict[str, int],
    entry_ids: IdAllocator,
    story_ids: IdAllocator,
    expected: int,
) -> None:
    now = update.fetched_at
    entry_id = entry_ids.take(expected)
    sort_at = sort_time(entry.published, now)
    exact_story, exact_rule = _exact_story(entry.story_keys, owners, batch.key_owner)
    report = NewReport(
        entry_id,
        update.feed_id,
        entry.title,
        entry.match_text,
        entry.published or now,
        entry.story_keys,
    )
    joining = assigner.join(report, exact_story, exact_rule)
    story_id = joining.story_id
    if story_id is None:
        story_id = story_ids.take(expected)
        batch.new_stories.append(
            {"id": story_id, "created_at": now, "sort_at": sort_at, "changed_at": now}
        )
        batch.created.add(story_id)
    elif story_id not in batch.created:
        batch.joined.add(story_id)
    vector = assigner.add(report, story_id)
    for key in entry.story_keys:
        batch.key_owner.setdefault(key, story_id)
        batch.keys.append({"key": key, "story_id": story_id})
    batch.new_entries.append(
        {
            "id": entry_id,
            "feed_id": update.feed_id,
            "identity": entry.identity,
            "story_id": story_id,
            "first_seen_at": now,
            "changed_at": now,
            "sort_at": sort_at,
            "story_rule": joining.rule if joining.story_id is not None else "first",
            "story_similarity": joining.similarity,
            "story_matched_entry_id": joining.matched_entry_id,
            "story_vector": vector,
            **entry_values(entry),
        }
    )
    batch.fresh[entry_id] = (entry.match_text, entry.sections)
    batch.touched.add(story_id)


def _exact_story(
    keys: Iterable[str], stored: dict[str, int], in_batch: dict[str, int]
) -> tuple[int | None, JoinRule]:
    """The story an entry's exact keys (same URL, same text) already belong to."""
    for key in keys:
        story_id = stored.get(key, in_batch.get(key))
        if story_id is not None:
            return story_id, "same-url" if key.startswith("url:") else "same-text"
    return None, "first"


def _stored_entries(conn: Connection, feed_id: int, identities: Sequence[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for chunk in chunked(identities):
        for row in conn.execute(
            select(
                entries.c.id,
                entries.c.identity,
                entries.c.content_hash,
                entries.c.first_seen_at,
                entries.c.story_id,
            ).where(entries.c.feed_id == feed_id, entries.c.identity.in_(chunk))
        ):
            found[row.identity] = row
    return found


def _story_key_owners(conn: Connection, keys: Sequence[str]) -> dict[str, int]:
    owners: dict[str, int] = {}
    for chunk in chunked(sorted(set(keys))):
        for key, story_id in conn.execute(
            select(story_keys.c.key, story_keys.c.story_id).where(story_keys.c.key.in_(chunk))
        ):
            owners[key] = story_id
    return owners


_UPDATE_ENTRY = (
    update_statement(entries)
    .where(entries.c.id == bindparam("b_id"))
    .values(
        {
            name: bindparam(name)
            for name in (
                "changed_at",
                "sort_at",
                "guid",
                "link",
                "canonical_url",
                "title",
                "summary_html",
                "content_html",
                "summary_text",
                "author",
                "published_at",
                "source_updated_at",
                "content_hash",
                "tags",
                "source_tags",
                "enclosures",
                "story_vector",
            )
        }
    )
)
_TOUCH_STORY = (
    update_statement(stories)
    .where(stories.c.id == bindparam("b_id"))
    .values(changed_at=bindparam("now"))
)


def _insert_rows(conn: Connection, batch: _Batch) -> None:
    if batch.new_stories:
        conn.execute(stories.insert(), batch.new_stories)
    if batch.new_entries:
        conn.execute(entries.insert(), batch.new_entries)
    if batch.changed_entries:
        conn.execute(_UPDATE_ENTRY, batch.changed_entries)
    if batch.keys:
        conn.execute(
            dialect_insert(conn, story_keys).on_conflict_do_nothing(index_elements=["key"]),
            _unique_keys(batch.keys),
        )
    existing = sorted(batch.touched - batch.created)
    if existing:
        conn.execute(_TOUCH_STORY, [{"b_id": story_id, "now": batch.now} for story_id in existing])


def _unique_keys(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for row in rows:
        seen.setdefault(row["key"], row)
    return list(seen.values())


def _unread_again(conn: Connection, story_ids: Sequence[int]) -> None:
    """A new feed reported these read stories: unread again (stories.new_report_unreads)."""
    conn.execute(
        update_statement(story_state)
        .where(in_ids(conn.dialect.name, story_state.c.story_id, story_ids))
        .values(read_at=None)
    )
    for reader in reader_ids(conn):
        set_listings_unread(conn, reader, story_ids, True)


def _store_related(conn: Connection, story_ids: Iterable[int], assigner: StoryAssigner) -> None:
    """Related reading of the stories just changed, as the assigner sees them now."""
    ids = sorted(set(story_ids))
    if not ids:
        return
    for id_chunk in chunked(ids):
        conn.execute(
            related_stories.delete().where(
                in_ids(conn.dialect.name, related_stories.c.story_id, id_chunk)
            )
        )
    found = {
        (story_id, related_id): similarity
        for story_id in ids
        for related_id, similarity in assigner.related(story_id)
        if related_id != story_id
    }
    # Related both ways: an older story lists the newer one alike it too.
    for (story_id, related_id), similarity in list(found.items()):
        found.setdefault((related_id, story_id), similarity)
    rows = [
        {"story_id": story_id, "related_id": related_id, "similarity": similarity}
        for (story_id, related_id), similarity in sorted(found.items())
    ]
    if rows:
        # executemany of one statement: compiled once and cached, unlike a multi-row
        # VALUES list whose statement differs with every row count
        conn.execute(
            dialect_insert(conn, related_stories).on_conflict_do_nothing(
                index_elements=["story_id", "related_id"]
            ),
            rows,
        )


_UPDATE_FEED = (
    update_statement(feeds)
    .where(feeds.c.id == bindparam("b_id"))
    .values(
        {
            name: bindparam(name)
            for name in (
                "etag",
                "last_modified",
                "body_hash",
                "feed_title",
                "site_url",
                "subtitle",
                "last_fetched_at",
                "last_success_at",
                "last_status",
                "next_check_at",
                "publisher_hints",
                "redirect_target",
                "redirect_count",
                "permanent_redirect_url",
                "fetch_url",
            )
        }
        | {
            "last_error": None,
            "error_count": 0,
            "retry_after_until": None,
            "lease_owner": None,
            "lease_until": None,
        }
    )
)


def _record_polls(
    conn: Connection, updates: Sequence[FeedUpdate], results: Sequence[StoreResult]
) -> None:
    """The feeds' new validators and schedule, and each poll in its feed's history."""
    current = {
        row.id: row
        for row in conn.execute(
            select(feeds.c.id, feeds.c.permanent_redirect_url, feeds.c.fetch_url).where(
                in_ids(conn.dialect.name, feeds.c.id, [update.feed_id for update in updates])
            )
        )
    }
    rows = []
    for update in updates:
        row = current.get(update.feed_id)
        rows.append(
            {
                "b_id": update.feed_id,
                "etag": update.etag,
                "last_modified": update.last_modified,
                "body_hash": update.body_hash,
                "feed_title": update.feed_title,
                "site_url": update.site_url,
                "subtitle": update.subtitle,
                "last_fetched_at": update.fetched_at,
                "last_success_at": update.fetched_at,
                "last_status": update.status,
                "next_check_at": update.next_check_at,
                "publisher_hints": update.publisher_hints,
                "redirect_target": update.redirect_target,
                "redirect_count": update.redirect_count,
                # Seen once, a permanent redirect is kept until it is confirmed or
                # replaced; a confirmed one is fetched from then on.
                "permanent_redirect_url": update.permanent_redirect_url
                or (row.permanent_redirect_url if row else None),
                "fetch_url": update.fetch_url or (row.fetch_url if row else None),
            }
        )
    conn.execute(_UPDATE_FEED, rows)
    record_attempts(
        conn,
        [
            (
                update.feed_id,
                FetchAttempt(
                    attempted_at=update.fetched_at,
                    outcome="ok",
                    http_status=update.status,
                    duration_ms=update.duration_ms,
                    bytes=update.body_bytes,
                    new_entries=result.new,
                    updated_entries=result.updated,
                    error=None,
                ),
            )
            for update, result in zip(updates, results, strict=True)
        ],
    )


def indexed_reports(conn: Connection, after_id: int, since: datetime) -> list[IndexedReport]:
    """Stored entries with ids above ``after_id`` published (or first seen) since
    ``since``, oldest first: what story matching indexes. Entries with a stored vector
    come without their text; older ones with it, to be analysed again."""
    published = func.coalesce(entries.c.published_at, entries.c.first_seen_at)
    recent = (entries.c.id > after_id, published >= since)
    found = [
        IndexedReport(row.id, row.story_id, row.feed_id, row.published, bytes(row.story_vector))
        for row in conn.execute(
            select(
                entries.c.id,
                entries.c.story_id,
                entries.c.feed_id,
                published.label("published"),
                entries.c.story_vector,
            ).where(*recent, entries.c.story_vector.is_not(None))
        )
    ]
    found.extend(
        IndexedReport(
            row.id,
            row.story_id,
            row.feed_id,
            row.published,
            None,
            row.title,
            row.summary_html,
            row.content_html,
        )
        for row in conn.execute(
            select(
                entries.c.id,
                entries.c.story_id,
                entries.c.feed_id,
                published.label("published"),
                entries.c.title,
                entries.c.summary_html,
                entries.c.content_html,
            ).where(*recent, entries.c.story_vector.is_(None))
        )
    )
    return sorted(found, key=lambda report: report.entry_id)


Loader = Callable[[int, datetime], Sequence[IndexedReport]]


def split_report(conn: Connection, entry_id: int, filer: StoryFiler, now: datetime) -> int:
    """See EntriesMixin.split_report (in the caller's transaction)."""
    row = conn.execute(
        select(entries.c.story_id, entries.c.sort_at).where(entries.c.id == entry_id)
    ).first()
    if row is None:
        raise LookupError(f"no report {entry_id}")
    old_story = row.story_id
    reports = conn.scalar(select(func.count()).where(entries.c.story_id == old_story))
    if not reports or reports < 2:
        raise ValueError(f"report {entry_id} is its story's only report")
    story_id = IdAllocator(conn, "stories").take()
    conn.execute(
        stories.insert(),
        {"id": story_id, "created_at": now, "sort_at": row.sort_at, "changed_at": now},
    )
    conn.execute(
        update_statement(entries)
        .where(entries.c.id == entry_id)
        .values(
            story_id=story_id,
            story_rule="split",
            story_similarity=None,
            story_matched_entry_id=None,
            changed_at=now,
        )
    )
    # Its own URL and text keys follow it, so a copy of it joins it and not the story
    # it left; keys another report of the old story still has stay there.
    own = {
        key
        for key in conn.scalars(select(story_keys.c.key).where(story_keys.c.story_id == old_story))
        if _key_of_entry(conn, key, entry_id, old_story)
    }
    if own:
        conn.execute(
            update_statement(story_keys)
            .where(story_keys.c.key.in_(sorted(own)))
            .values(story_id=story_id)
        )
    conn.execute(update_statement(stories).where(stories.c.id == old_story).values(changed_at=now))
    membership, shown = file_stories(conn, (old_story, story_id), filer)
    conn.execute(
        related_stories.delete().where(related_stories.c.story_id.in_((old_story, story_id)))
    )
    index_stories(conn, (old_story, story_id))
    bump_versions(conn, membership | shown, now)
    return story_id


def _key_of_entry(conn: Connection, key: str, entry_id: int, story_id: int) -> bool:
    """Whether a story key was made from this entry and from no other report of the
    story (a URL key: its canonical URL; a text key: only it can have made it then)."""
    if key.startswith("url:"):
        url = key[4:]
        owners = set(
            conn.scalars(
                select(entries.c.id).where(
                    entries.c.story_id.in_((story_id, _moved_story(conn, entry_id))),
                    entries.c.canonical_url == url,
                )
            )
        )
        return owners == {entry_id}
    return False


def _moved_story(conn: Connection, entry_id: int) -> int:
    story_id = conn.scalar(select(entries.c.story_id).where(entries.c.id == entry_id))
    return int(story_id or 0)
