"""Use cases of the sync APIs (Google Reader, Fever): a reader's streams, stories with
their state, unread counts by feed, and marking many stories at once.

An app sees stories as items: a story told by three outlets is one item, in the
stream of its lead report's feed, so it is read once on the phone too. The dialects
(stream ids, item ids, JSON) are the web layer's (web/greader.py, web/fever.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from aggregator.core._base import AggregatorBase
from aggregator.types import (
    ANONYMOUS,
    FeedUnread,
    ReaderStory,
    StoryCursor,
    StreamFilter,
    StreamPage,
)

MAX_STREAM_PAGE = 1000


class SyncUseCases(AggregatorBase):
    def stream_page(
        self,
        stream: StreamFilter,
        *,
        user: int = ANONYMOUS,
        after: StoryCursor | None = None,
        limit: int = 20,
    ) -> StreamPage:
        """One page of a reader's stream (story ids and positions); pass its
        ``next_cursor`` as ``after`` for the next. ``limit`` is capped at 1000."""
        limit = max(1, min(limit, MAX_STREAM_PAGE))
        return self._storage.stream_page(stream, user=user, after=after, limit=limit)

    def stream_stories(
        self,
        stream: StreamFilter,
        *,
        user: int = ANONYMOUS,
        after: StoryCursor | None = None,
        limit: int = 20,
    ) -> tuple[list[ReaderStory], StoryCursor | None]:
        """One page of a reader's stream with the stories whole, and where the next
        page starts (None on the last)."""
        page = self.stream_page(stream, user=user, after=after, limit=limit)
        found = self.reader_stories([ref.story_id for ref in page.refs], user=user)
        return found, page.next_cursor

    def reader_stories(
        self, story_ids: Sequence[int], *, user: int = ANONYMOUS
    ) -> list[ReaderStory]:
        """These stories with a reader's state, in the order given; unknown ids are
        left out."""
        return self._storage.get_reader_stories(story_ids, user=user)

    def stream_story_ids(self, stream: StreamFilter, *, user: int = ANONYMOUS) -> list[int]:
        """Every story id of a reader's stream, ascending."""
        return self._storage.stream_story_ids(stream, user=user)

    def story_ids_by_id(
        self,
        *,
        user: int = ANONYMOUS,
        above: int | None = None,
        below: int | None = None,
        lead_feeds: Sequence[int] | None = None,
        scopes: Sequence[str] | None = None,
        limit: int = 50,
    ) -> list[int]:
        """Story ids above ``above`` (ascending) or below ``below`` (descending; the
        newest when neither is given), led by some feeds or in some lists if given."""
        return self._storage.story_ids_by_id(
            user=user, above=above, below=below, lead_feeds=lead_feeds, scopes=scopes,
            limit=limit,
        )  # fmt: skip

    def count_stories(self) -> int:
        """How many stories are stored."""
        return self._storage.count_stories()

    def set_story_states(
        self,
        story_ids: Sequence[int],
        *,
        user: int = ANONYMOUS,
        read: bool | None = None,
        starred: bool | None = None,
    ) -> list[int]:
        """Mark stories read/unread and/or starred/unstarred for a reader, in one
        transaction; ids of no story are skipped. Returns the ids that exist."""
        if read is None and starred is None:
            return []
        return self._storage.set_states(
            story_ids, self.now(), user=user, read=read, starred=starred
        )

    def mark_stream_read(self, stream: StreamFilter, *, user: int = ANONYMOUS) -> int:
        """Mark every unread story of a reader's stream read; return how many."""
        return self._storage.mark_stream_read(stream, self.now(), user=user)

    def unread_by_lead_feed(self, *, user: int = ANONYMOUS) -> list[FeedUnread]:
        """A reader's unread stories per source feed of their lead report (each story
        counted once)."""
        return self._storage.unread_by_lead_feed(user=user)

    def newest_unread(self, *, user: int = ANONYMOUS) -> dict[str, datetime]:
        """The newest unread story's river position in each of a reader's lists."""
        return self._storage.newest_in_scopes(user=user)
