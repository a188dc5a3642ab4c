"""Plain data of the web reader: lists (scopes), read/starred state, pages, search hits.

Frozen dataclasses of our own, like ``aggregator.models``; the reader's storage mixin
returns them and the Flask views render them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from aggregator.models import FeedState, StoryCursor, StoryView

# A scope names one list of the reader. Every story is listed in ALL, in each of its
# sections, in each feed that reported it, and in STARRED while starred.
ALL = "all"
STARRED = "starred"
_SECTION_PREFIX = "section:"
_FEED_PREFIX = "feed:"

# Matched text in a search hit is wrapped in these private-use characters by the
# database; the reader turns the pieces into <mark> after escaping. They are removed
# from every indexed text, so they can only come from the database's highlighter.
MATCH_START = "\ue000"
MATCH_END = "\ue001"


def section_scope(slug: str) -> str:
    """Return the scope of a section's list."""
    return _SECTION_PREFIX + slug


def feed_scope(feed_id: int) -> str:
    """Return the scope of a feed's list."""
    return f"{_FEED_PREFIX}{feed_id}"


def scope_section(scope: str) -> str | None:
    """Return the section slug of a section scope, else None."""
    return scope.removeprefix(_SECTION_PREFIX) if scope.startswith(_SECTION_PREFIX) else None


def scope_feed(scope: str) -> int | None:
    """Return the feed id of a feed scope, else None."""
    if scope.startswith(_FEED_PREFIX) and scope[len(_FEED_PREFIX) :].isdigit():
        return int(scope[len(_FEED_PREFIX) :])
    return None


# (text, is_match) pieces of a highlighted title or snippet, in order.
Highlight = tuple[tuple[str, bool], ...]


def split_highlight(marked: str) -> Highlight:
    """Return the pieces of a text the database marked with MATCH_START/MATCH_END."""
    pieces: list[tuple[str, bool]] = []
    for index, chunk in enumerate(marked.split(MATCH_START)):
        if index == 0:
            matched, rest = "", chunk
        else:
            matched, _, rest = chunk.partition(MATCH_END)
        if matched:
            pieces.append((matched.replace(MATCH_END, ""), True))
        if rest:
            pieces.append((rest.replace(MATCH_END, ""), False))
    return tuple(pieces)


@dataclass(frozen=True)
class ReaderStory:
    """A story as one reader sees it: its reports and its read/starred state."""

    story: StoryView
    unread: bool
    starred: bool
    # Scopes it is listed in, so a page can update its sidebar counts in place.
    scopes: tuple[str, ...] = ()
    # Search pages only: the lead's title and a body excerpt with the matches marked.
    title_highlight: Highlight = ()
    snippet_highlight: Highlight = ()


@dataclass(frozen=True)
class ReaderPage:
    """One page of a list, newest first."""

    scope: str
    stories: tuple[ReaderStory, ...]
    next_cursor: StoryCursor | None  # None on the last page
    # The newest story id that existed when the page was read. "Mark all read" passes it
    # back, so stories that arrive after the page was shown stay unread.
    watermark: int


@dataclass(frozen=True)
class SearchPage:
    """One page of search hits, newest arrival first."""

    query: str
    stories: tuple[ReaderStory, ...]
    next_before: int | None  # pass as ``before`` for the next page; None on the last


@dataclass(frozen=True)
class StoryState:
    """Read and starred state of one story."""

    story_id: int
    unread: bool
    starred: bool
    read_at: datetime | None = None
    starred_at: datetime | None = None


@dataclass(frozen=True)
class Neighbours:
    """The stories next to one in a list: newer (above) and older (below) it."""

    newer: int | None
    older: int | None


@dataclass(frozen=True)
class UnreadCounts:
    """Unread stories per list, for the sidebar."""

    by_scope: dict[str, int] = field(default_factory=dict)
    starred_total: int = 0

    def of(self, scope: str) -> int:
        return max(self.by_scope.get(scope, 0), 0)


@dataclass(frozen=True)
class FeedHealth:
    """A feed with what its health page shows beyond its state."""

    feed: FeedState
    entry_count: int
