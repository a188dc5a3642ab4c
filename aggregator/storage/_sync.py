"""The queries of the sync APIs (Google Reader, Fever): streams of one reader's stories
with state filters, unread counts by lead feed, and marking many stories at once.

A stream is a range scan of one of the reader's lists (story_listings), optionally
kept to the stories whose lead report comes from one feed, so that every story is in
exactly one feed's stream, as the apps expect of items.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, false, func, select, tuple_

from aggregator.scopes import ALL, STARRED
from aggregator.storage import schema
from aggregator.storage._base import StorageBase
from aggregator.types import (
    ANONYMOUS,
    FeedUnread,
    StoryCursor,
    StreamFilter,
    StreamPage,
)

listings = schema.story_listings
stories = schema.stories
entries = schema.entries


def stream_query(user: int, stream: StreamFilter) -> Select[Any]:
    query = select(listings.c.story_id, listings.c.sort_at).where(
        listings.c.user_id == user, listings.c.scope == stream.scope
    )
    if stream.lead_feed is not None:
        lead = (
            select(entries.c.feed_id)
            .join(stories, stories.c.lead_entry_id == entries.c.id)
            .where(stories.c.id == listings.c.story_id)
            .scalar_subquery()
        )
        query = query.where(lead == stream.lead_feed)
    if stream.unread is not None:
        query = query.where(listings.c.unread.is_(stream.unread))
    if stream.starred is not None and stream.scope != STARRED:
        starred = listings.alias("starred")
        is_starred = exists().where(
            starred.c.story_id == listings.c.story_id,
            starred.c.user_id == user,
            starred.c.scope == STARRED,
        )
        query = query.where(is_starred if stream.starred else ~is_starred)
    if stream.starred is False and stream.scope == STARRED:
        query = query.where(false())  # nothing is both
    if stream.newer_than is not None:
        query = query.where(listings.c.sort_at > stream.newer_than)
    if stream.older_than is not None:
        query = query.where(listings.c.sort_at < stream.older_than)
    if stream.arrived_before is not None:
        arrived = (
            select(stories.c.created_at)
            .where(stories.c.id == listings.c.story_id)
            .scalar_subquery()
        )
        query = query.where(arrived <= stream.arrived_before)
    return query


class SyncMixin(StorageBase):
    """Streams, counts and batch marks for the sync APIs, per reader."""

    def stream_page(
        self,
        stream: StreamFilter,
        *,
        user: int = ANONYMOUS,
        after: StoryCursor | None = None,
        limit: int = 20,
    ) -> StreamPage:
        """One page of a stream, newest first (``oldest_first``: the other way); pass
        ``next_cursor`` as ``after`` for the next page."""
        query = stream_query(user, stream)
        position = tuple_(listings.c.sort_at, listings.c.story_id)
        if stream.oldest_first:
            if after is not None:
                query = query.where(position > tuple_(after.sort_at, after.story_id))
            query = query.order_by(listings.c.sort_at, listings.c.story_id)
        else:
            if after is not None:
                query = query.where(position < tuple_(after.sort_at, after.story_id))
            query = query.order_by(listings.c.sort_at.desc(), listings.c.story_id.desc())
        with self.read() as conn:
            rows = conn.execute(query.limit(limit + 1)).all()
        refs = tuple(StoryCursor(row.sort_at, row.story_id) for row in rows[:limit])
        return StreamPage(refs, refs[-1] if len(rows) > limit else None)

    def stream_story_ids(self, stream: StreamFilter, *, user: int = ANONYMOUS) -> list[int]:
        """Every story id of a stream, ascending (Fever's unread and saved lists)."""
        query = stream_query(user, stream).order_by(listings.c.story_id)
        with self.read() as conn:
            return list(conn.scalars(query.with_only_columns(listings.c.story_id)))

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
        """Story ids above ``above`` (ascending) or below ``below`` (descending, the
        newest first when neither is given), optionally only those led by some feeds
        or in some scopes: Fever's ``since_id``/``max_id`` paging."""
        query = select(listings.c.story_id).where(
            listings.c.user_id == user, listings.c.scope.in_(list(scopes or [ALL]))
        )
        if lead_feeds is not None:
            lead = (
                select(entries.c.feed_id)
                .join(stories, stories.c.lead_entry_id == entries.c.id)
                .where(stories.c.id == listings.c.story_id)
                .scalar_subquery()
            )
            query = query.where(lead.in_(list(lead_feeds)))
        if above is not None:
            query = query.where(listings.c.story_id > above).order_by(listings.c.story_id)
        else:
            if below is not None:
                query = query.where(listings.c.story_id < below)
            query = query.order_by(listings.c.story_id.desc())
        with self.read() as conn:
            return list(dict.fromkeys(conn.scalars(query.distinct().limit(limit))))

    def count_stories(self) -> int:
        with self.read() as conn:
            return int(conn.scalar(select(func.count()).select_from(stories)) or 0)

    def unread_by_lead_feed(self, *, user: int = ANONYMOUS) -> list[FeedUnread]:
        """Unread stories per source feed of their lead report."""
        query = (
            select(entries.c.feed_id, func.count(), func.max(listings.c.sort_at))
            .select_from(listings)
            .join(stories, stories.c.id == listings.c.story_id)
            .join(entries, entries.c.id == stories.c.lead_entry_id)
            .where(
                listings.c.user_id == user,
                listings.c.scope == ALL,
                listings.c.unread.is_(True),
            )
            .group_by(entries.c.feed_id)
        )
        with self.read() as conn:
            rows = conn.execute(query).all()
        return [FeedUnread(feed_id, int(count), newest) for feed_id, count, newest in rows]

    def newest_in_scopes(self, *, user: int = ANONYMOUS) -> dict[str, datetime]:
        """The newest unread story's river position in each of a reader's lists."""
        query = (
            select(listings.c.scope, func.max(listings.c.sort_at))
            .where(listings.c.user_id == user, listings.c.unread.is_(True))
            .group_by(listings.c.scope)
        )
        with self.read() as conn:
            return {scope: newest for scope, newest in conn.execute(query).all()}
