"""The web reader's queries: lists with read/starred state, unread counts, search, health.

Every list is a keyset-paged range scan of one reader's ``story_listings`` (see
schema.py); unread counts are read from ``unread_counts``, kept exact by _listings.py.
Each method takes the reader (``user``: a user id, or ANONYMOUS, the reader without an
account) whose state it reads or changes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, tuple_

from aggregator.scopes import STARRED
from aggregator.storage import schema
from aggregator.storage._base import StorageBase
from aggregator.storage._dialect import chunked, dialect_insert
from aggregator.storage._listings import (
    lock_stories,
    reader_ids,
    set_listings_unread,
    sync_listings,
)
from aggregator.storage._search import SearchMatch, find_matches, split_highlight
from aggregator.storage._sync import stream_query
from aggregator.storage._views import story_views
from aggregator.types import (
    ANONYMOUS,
    Neighbours,
    ReaderPage,
    ReaderStory,
    SearchPage,
    StoryCursor,
    StoryState,
    StreamFilter,
    UnreadCounts,
)

listings = schema.story_listings
story_state = schema.story_state
stories = schema.stories


class ReadingMixin(StorageBase):
    """The reader's lists, read and starred state, unread counts and search."""

    # --- lists -------------------------------------------------------------------------

    def list_reader_stories(
        self,
        scope: str,
        *,
        unread_only: bool = False,
        before: StoryCursor | None = None,
        limit: int = 50,
        user: int = ANONYMOUS,
    ) -> ReaderPage:
        """Return one page of a list (see aggregator.scopes), newest first.

        Pass the page's ``next_cursor`` as ``before`` for the next page; stories
        that arrive meanwhile never shift a page.
        """
        query = select(listings.c.story_id, listings.c.sort_at).where(
            listings.c.user_id == user, listings.c.scope == scope
        )
        if unread_only:
            query = query.where(listings.c.unread.is_(True))
        if before is not None:
            # A row-value comparison, so both backends seek the index to the cursor.
            query = query.where(
                tuple_(listings.c.sort_at, listings.c.story_id)
                < tuple_(before.sort_at, before.story_id)
            )
        query = query.order_by(listings.c.sort_at.desc(), listings.c.story_id.desc())
        with self.read() as conn:
            keys = conn.execute(query.limit(limit + 1)).all()
            more = len(keys) > limit
            keys = keys[:limit]
            loaded = self._reader_stories(conn, user, [key.story_id for key in keys])
            watermark = conn.scalar(select(func.max(stories.c.id))) or 0
        cursor = StoryCursor(keys[-1].sort_at, keys[-1].story_id) if more else None
        return ReaderPage(scope, tuple(loaded), cursor, int(watermark))

    def get_reader_story(self, story_id: int, *, user: int = ANONYMOUS) -> ReaderStory | None:
        """Return one story with its state, or None when there is no such story."""
        with self.read() as conn:
            found = self._reader_stories(conn, user, [story_id])
        return found[0] if found else None

    def story_neighbours(self, story_id: int, scope: str, *, user: int = ANONYMOUS) -> Neighbours:
        """Return the ids of the stories just newer and just older than this one in a list."""
        with self.read() as conn:
            sort_at = conn.scalar(select(stories.c.sort_at).where(stories.c.id == story_id))
            if sort_at is None:
                return Neighbours(None, None)
            position = tuple_(listings.c.sort_at, listings.c.story_id)
            here = tuple_(sort_at, story_id)
            base = (
                select(listings.c.story_id)
                .where(listings.c.user_id == user, listings.c.scope == scope)
                .limit(1)
            )
            newer = conn.scalar(
                base.where(position > here).order_by(listings.c.sort_at, listings.c.story_id)
            )
            older = conn.scalar(
                base.where(position < here).order_by(
                    listings.c.sort_at.desc(), listings.c.story_id.desc()
                )
            )
        return Neighbours(newer, older)

    def search_stories(
        self,
        query: str,
        *,
        section: str | None = None,
        before: int | None = None,
        limit: int = 30,
        user: int = ANONYMOUS,
    ) -> SearchPage:
        """Return stories whose title or text matches ``query``, newest arrival first.

        Bare words and "quoted phrases" must all match; ``section`` (a slug) narrows
        the search. Pass ``next_before`` back as ``before`` for the next page.
        """
        with self.read() as conn:
            matches = find_matches(conn, query, section=section, before=before, limit=limit + 1)
            more = len(matches) > limit
            matches = matches[:limit]
            loaded = self._reader_stories(
                conn, user, [match.story_id for match in matches], matches
            )
        next_before = matches[-1].story_id if more else None
        return SearchPage(query, tuple(loaded), next_before)

    # --- state -------------------------------------------------------------------------

    def set_read(
        self, story_id: int, read: bool, now: datetime, *, user: int = ANONYMOUS
    ) -> StoryState | None:
        """Mark one story read or unread; return its new state, or None if it does not exist."""
        with self.write() as conn:
            if not self._lock_existing(conn, story_id):
                return None
            self._upsert_state(conn, user, [story_id], "read_at", now if read else None)
            set_listings_unread(conn, user, [story_id], not read)
            return self._state(conn, user, story_id)

    def set_starred(
        self, story_id: int, starred: bool, now: datetime, *, user: int = ANONYMOUS
    ) -> StoryState | None:
        """Star or unstar one story; return its new state, or None if it does not exist."""
        with self.write() as conn:
            if not self._lock_existing(conn, story_id):
                return None
            self._upsert_state(conn, user, [story_id], "starred_at", now if starred else None)
            # Adds or drops its "starred" listing (readers: only this one changed).
            sync_listings(conn, [story_id], reader_ids(conn))
            return self._state(conn, user, story_id)

    def mark_all_read(
        self,
        scope: str,
        *,
        newest: StoryCursor,
        watermark: int,
        now: datetime,
        user: int = ANONYMOUS,
    ) -> int:
        """Mark read every unread story of a list up to what the reader was shown.

        ``newest`` is the position of the newest story shown and ``watermark`` the
        page's watermark: stories listed above ``newest`` or stored after the page
        was read stay unread. Returns how many stories were marked read.
        """
        with self.write() as conn:
            ids = list(
                conn.scalars(
                    select(listings.c.story_id).where(
                        listings.c.user_id == user,
                        listings.c.scope == scope,
                        listings.c.unread.is_(True),
                        listings.c.story_id <= watermark,
                        tuple_(listings.c.sort_at, listings.c.story_id)
                        <= tuple_(newest.sort_at, newest.story_id),
                    )
                )
            )
            for chunk in chunked(sorted(ids)):
                lock_stories(conn, chunk)
                self._upsert_state(conn, user, chunk, "read_at", now)
            return set_listings_unread(conn, user, ids, False)

    def unread_counts(self, *, user: int = ANONYMOUS) -> UnreadCounts:
        """Return unread stories per scope and the number of starred stories."""
        with self.read() as conn:
            return self._unread_counts(conn, user)

    def navigation(self, *, user: int = ANONYMOUS) -> tuple[UnreadCounts, list[tuple[int, str]]]:
        """Return what the sidebar shows: unread counts, and (id, title) of active feeds."""
        feeds = schema.feeds
        with self.read() as conn:
            # fetchall and tuple unpacking: hundreds of rows on every page.
            rows = conn.execute(
                select(feeds.c.id, feeds.c.config_title, feeds.c.feed_title, feeds.c.url).where(
                    feeds.c.active.is_(True)
                )
            ).all()
            titles = [(feed_id, config or own or url) for feed_id, config, own, url in rows]
            return self._unread_counts(conn, user), titles

    def get_reader_stories(
        self, story_ids: Sequence[int], *, user: int = ANONYMOUS
    ) -> list[ReaderStory]:
        """These stories with one reader's state, in the order given; unknown ids are
        left out."""
        with self.read() as conn:
            found: list[ReaderStory] = []
            for chunk in chunked(list(dict.fromkeys(story_ids))):
                found.extend(self._reader_stories(conn, user, chunk))
        return found

    def set_states(
        self,
        story_ids: Sequence[int],
        now: datetime,
        *,
        user: int = ANONYMOUS,
        read: bool | None = None,
        starred: bool | None = None,
    ) -> list[int]:
        """Mark many stories read or unread and/or starred or not, in one transaction;
        unknown ids are skipped. Returns the ids of the stories that exist."""
        ids = sorted(set(story_ids))
        found: list[int] = []
        with self.write() as conn:
            for chunk in chunked(ids):
                lock_stories(conn, chunk)
                known = list(conn.scalars(select(stories.c.id).where(stories.c.id.in_(chunk))))
                found.extend(known)
                if not known:
                    continue
                if read is not None:
                    self._upsert_state(conn, user, known, "read_at", now if read else None)
                    set_listings_unread(conn, user, known, not read)
                if starred is not None:
                    self._upsert_state(conn, user, known, "starred_at", now if starred else None)
            if starred is not None and found:
                readers = reader_ids(conn)
                for chunk in chunked(found):
                    sync_listings(conn, chunk, readers)
        return found

    def mark_stream_read(
        self, stream: StreamFilter, now: datetime, *, user: int = ANONYMOUS
    ) -> int:
        """Mark every unread story of a stream read; return how many."""
        unread = replace(stream, unread=True)
        query = stream_query(user, unread).with_only_columns(listings.c.story_id)
        with self.write() as conn:
            ids = sorted(set(conn.scalars(query)))
            for chunk in chunked(ids):
                lock_stories(conn, chunk)
                self._upsert_state(conn, user, chunk, "read_at", now)
            return set_listings_unread(conn, user, ids, False)

    # --- helpers -----------------------------------------------------------------------

    def _reader_stories(
        self,
        conn: Connection,
        user: int,
        story_ids: Sequence[int],
        matches: Sequence[SearchMatch] = (),
    ) -> list[ReaderStory]:
        views = story_views(conn, list(story_ids))
        scopes: dict[int, list[str]] = defaultdict(list)
        unread: set[int] = set()
        # "user_id + 0": by story first (the primary key). Without statistics SQLite
        # otherwise walks the reader's whole listing index (all their stories, in
        # every list): 30 ms for one story at 100,000 entries.
        for story_id, scope, is_unread in conn.execute(
            select(listings.c.story_id, listings.c.scope, listings.c.unread)
            .where(listings.c.story_id.in_(story_ids), (listings.c.user_id + 0) == user)
            .order_by(listings.c.story_id, listings.c.scope)
        ).all():
            scopes[story_id].append(scope)
            if is_unread:
                unread.add(story_id)
        marked = {match.story_id: match for match in matches}
        result = []
        for story_id in story_ids:
            if story_id not in views:
                continue
            match = marked.get(story_id)
            result.append(
                ReaderStory(
                    story=views[story_id],
                    unread=story_id in unread,
                    starred=STARRED in scopes[story_id],
                    scopes=tuple(scopes[story_id]),
                    title_highlight=split_highlight(match.title_marked) if match else (),
                    snippet_highlight=split_highlight(match.snippet_marked) if match else (),
                )
            )
        return result

    def _unread_counts(self, conn: Connection, user: int) -> UnreadCounts:
        counts = schema.unread_counts
        rows = conn.execute(
            select(counts.c.scope, counts.c.unread).where(counts.c.user_id == user)
        ).all()
        by_scope = {scope: unread for scope, unread in rows}
        starred = conn.scalar(
            select(func.count())
            .select_from(listings)
            .where(listings.c.user_id == user, listings.c.scope == STARRED)
        )
        return UnreadCounts(by_scope, int(starred or 0))

    def _lock_existing(self, conn: Connection, story_id: int) -> bool:
        lock_stories(conn, [story_id])
        return conn.scalar(select(stories.c.id).where(stories.c.id == story_id)) is not None

    def _upsert_state(
        self,
        conn: Connection,
        user: int,
        story_ids: Sequence[int],
        column: str,
        value: datetime | None,
    ) -> None:
        statement = dialect_insert(conn, story_state).values(
            [{"story_id": story_id, "user_id": user, column: value} for story_id in story_ids]
        )
        conn.execute(
            statement.on_conflict_do_update(
                index_elements=["story_id", "user_id"],
                set_={column: getattr(statement.excluded, column)},
            )
        )

    def _state(self, conn: Connection, user: int, story_id: int) -> StoryState:
        row: Any = conn.execute(
            select(story_state).where(
                story_state.c.story_id == story_id, story_state.c.user_id == user
            )
        ).first()
        read_at = row.read_at if row else None
        starred_at = row.starred_at if row else None
        return StoryState(story_id, read_at is None, starred_at is not None, read_at, starred_at)
