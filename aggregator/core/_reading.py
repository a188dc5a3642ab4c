"""Use cases of reading: the reader's lists, a story, search, read and starred state.

Every method takes the reader whose state it reads or changes: ``user``, a user id, or
ANONYMOUS (the default), the reader without an account — everyone, while no account
exists; the first account takes its state over.
"""

from __future__ import annotations

from aggregator.core._base import AggregatorBase
from aggregator.types import (
    ANONYMOUS,
    FeedIcon,
    Neighbours,
    ReaderPage,
    ReaderStory,
    SearchPage,
    StoryCursor,
    StoryDetails,
    StoryState,
    UnreadCounts,
)


class ReadingUseCases(AggregatorBase):
    def get_stories(
        self,
        scope: str,
        *,
        unread_only: bool = False,
        before: StoryCursor | None = None,
        limit: int = 50,
        user: int = ANONYMOUS,
    ) -> ReaderPage:
        """One page of a list (a scope of aggregator.scopes: everything, starred, a
        section, a source feed), newest first. Pass its ``next_cursor`` as ``before``
        for the next page; stories arriving meanwhile never shift a page."""
        return self._storage.list_reader_stories(
            scope, unread_only=unread_only, before=before, limit=limit, user=user
        )

    def get_story(self, story_id: int, *, user: int = ANONYMOUS) -> ReaderStory | None:
        """One story with its reports and read/starred state, or None."""
        return self._storage.get_reader_story(story_id, user=user)

    def story_details(self, story_id: int) -> StoryDetails | None:
        """Why a story is what it is: how each report joined it (rule and similarity),
        the evidence of its sections, and related stories (newest first)."""
        return self._storage.story_details(story_id)

    def story_neighbours(self, story_id: int, scope: str, *, user: int = ANONYMOUS) -> Neighbours:
        """The stories just newer and just older than one in a list."""
        return self._storage.story_neighbours(story_id, scope, user=user)

    def search(
        self,
        query: str,
        *,
        section: str | None = None,
        before: int | None = None,
        limit: int = 30,
        user: int = ANONYMOUS,
    ) -> SearchPage:
        """Stories whose title or text matches ``query`` (every word; "quoted phrases"
        as phrases), newest arrival first; ``section`` (a slug) narrows it."""
        return self._storage.search_stories(
            query, section=section, before=before, limit=limit, user=user
        )

    def mark_read(
        self, story_id: int, read: bool = True, *, user: int = ANONYMOUS
    ) -> StoryState | None:
        """Mark a story (all its reports) read or unread; None if there is no such story."""
        return self._storage.set_read(story_id, read, self.now(), user=user)

    def mark_starred(
        self, story_id: int, starred: bool = True, *, user: int = ANONYMOUS
    ) -> StoryState | None:
        """Star or unstar a story; None if there is no such story."""
        return self._storage.set_starred(story_id, starred, self.now(), user=user)

    def mark_all_read(
        self, scope: str, *, newest: StoryCursor, watermark: int, user: int = ANONYMOUS
    ) -> int:
        """Mark a list read up to what its page showed: ``newest`` (the first story's
        position) and the page's ``watermark``; stories that arrived since stay unread.
        Returns how many stories were marked."""
        return self._storage.mark_all_read(
            scope, newest=newest, watermark=watermark, now=self.now(), user=user
        )

    def unread_counts(self, *, user: int = ANONYMOUS) -> UnreadCounts:
        """Unread stories per list, and the number of starred ones."""
        return self._storage.unread_counts(user=user)

    def navigation(self, *, user: int = ANONYMOUS) -> tuple[UnreadCounts, list[tuple[int, str]]]:
        """What the reader's sidebar shows: unread counts and (id, title) of the active
        source feeds."""
        return self._storage.navigation(user=user)

    def feed_icon(self, feed_id: int) -> FeedIcon | None:
        """A source feed's stored site icon (see refresh_icons), if it was looked for."""
        return self._storage.feed_icon(feed_id)

    def feed_icon_versions(self) -> dict[int, str]:
        """feed id -> the version of its stored icon, for every feed that has one."""
        return self._storage.feed_icon_versions()
