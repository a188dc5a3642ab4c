"""The public data types: source feeds as stored, stories and their reports, lists.

Frozen dataclasses of our own, returned by ``Aggregator`` and passed between the
packages; library objects (feedparser dicts, SQLAlchemy rows, urllib3 responses)
never cross a package boundary.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Enclosure:
    url: str  # http(s) only
    type: str | None = None
    length: int | None = None


@dataclass(frozen=True)
class EntryData:
    """One item as the feed gave it. HTML fields are NOT yet sanitized."""

    guid: str | None
    link: str | None  # absolute http(s) or None
    title: str  # plain text (tags stripped, entities decoded)
    summary_html: str  # HTML (plain text summaries are escaped into HTML)
    content_html: str  # HTML; "" when the feed has no full content
    author: str | None = None
    published: datetime | None = None  # timezone-aware UTC
    updated: datetime | None = None  # timezone-aware UTC
    tags: tuple[str, ...] = ()
    enclosures: tuple[Enclosure, ...] = ()


@dataclass(frozen=True)
class FeedData:
    """A parsed feed. Text fields are plain text, free of XML-illegal characters."""

    url: str  # where it was fetched from (final URL)
    title: str | None
    link: str | None  # the site's home page
    subtitle: str | None = None
    ttl_minutes: int | None = None
    skip_hours: tuple[int, ...] = ()
    skip_days: tuple[str, ...] = ()
    update_period: str | None = None  # sy:updatePeriod
    update_frequency: int | None = None  # sy:updateFrequency
    entries: tuple[EntryData, ...] = ()
    # Problems that did not stop parsing (feedparser's "bozo" reason).
    warning: str | None = None
    # The feed's own icon or image (Atom icon/logo, RSS image, JSON Feed favicon/icon).
    icon: str | None = None


# Codes in the order feeds are listed: what needs the admin first.
GONE, MOVED, FLAGGED, FAILING, PAUSED, INACTIVE, NEW, OK = (
    "GONE",
    "MOVED",
    "FLAGGED",
    "failing",
    "paused",
    "inactive",
    "new",
    "ok",
)
_RANK = {
    code: rank
    for rank, code in enumerate((GONE, MOVED, FLAGGED, FAILING, PAUSED, INACTIVE, NEW, OK))
}


@dataclass(frozen=True)
class FeedStatus:
    code: str  # one of the codes above: the word `aggregator feeds` prints
    text: str  # the sentence the feeds page shows
    edit_config: bool  # the admin should edit the feed's entry in feeds.yaml (⚠)

    @property
    def rank(self) -> int:
        """Sort key: feeds needing the admin first."""
        return _RANK[self.code]

    @property
    def needs_attention(self) -> bool:
        """Gone, moved, flagged or failing: counted as needing attention."""
        return self.code in (GONE, MOVED, FLAGGED, FAILING)

    @property
    def warn(self) -> bool:
        """Worth a ⚠: the config needs an edit, or the feed keeps failing."""
        return self.edit_config or self.code == FLAGGED


@dataclass(frozen=True)
class FeedState:
    """A feed as stored: its config and its polling state."""

    id: int
    url: str
    config_title: str | None
    section: str | None  # default section name (feeds.yaml: category)
    interval_seconds: int | None
    active: bool
    feed_title: str | None
    site_url: str | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    permanent_redirect_url: str | None
    last_fetched_at: datetime | None
    last_success_at: datetime | None
    last_status: int | None
    last_error: str | None
    error_count: int
    gone: bool
    retry_after_until: datetime | None
    next_check_at: datetime | None
    # Where to fetch from: a permanent redirect seen 3 times in a row, else url.
    fetch_url: str | None = None
    redirect_target: str | None = None  # last permanent redirect target seen...
    redirect_count: int = 0  # ...this many times in a row
    publisher_hints: dict[str, Any] | None = None  # ttl, skipHours, ... as last seen
    paused: bool = False  # paused in feeds.yaml: never due

    @property
    def title(self) -> str:
        return self.config_title or self.feed_title or self.url

    @property
    def is_local_file(self) -> bool:
        """A local file (file: URL), read from disk: it has no HTTP status and no host."""
        return self.url.startswith("file:")

    @property
    def effective_url(self) -> str:
        return self.fetch_url or self.url


@dataclass(frozen=True)
class FetchAttempt:
    """One poll of a feed, as kept in its history."""

    attempted_at: datetime
    outcome: str  # ok, not_modified, failed
    http_status: int | None
    duration_ms: int | None
    bytes: int | None
    new_entries: int
    updated_entries: int
    error: str | None


@dataclass(frozen=True)
class EntryView:
    """A stored entry with its feed, as the reader and the publisher show it."""

    id: int
    story_id: int
    feed_id: int
    feed_title: str
    feed_url: str
    feed_site_url: str | None
    guid: str | None
    link: str | None
    title: str
    summary_html: str  # sanitized
    content_html: str  # sanitized
    summary_text: str
    author: str | None
    published: datetime | None
    updated: datetime | None  # the source's own updated date
    first_seen_at: datetime
    changed_at: datetime
    sort_at: datetime
    tags: tuple[str, ...]
    enclosures: tuple[Enclosure, ...]
    sections: tuple[str, ...]  # section slugs


@dataclass(frozen=True)
class FullText:
    """An entry's article page as fetched and extracted (full text), or why not."""

    entry_id: int
    status: str  # FULL_TEXT_OK or FULL_TEXT_FAILED
    html: str | None  # the article's main text, sanitized; None when it failed
    error: str | None  # why it failed
    fetched_at: datetime

    @property
    def ok(self) -> bool:
        return self.status == FULL_TEXT_OK


FULL_TEXT_OK = "ok"
FULL_TEXT_FAILED = "failed"


@dataclass(frozen=True)
class StoryView:
    """A story: its first report (lead) and the other feeds' reports of it."""

    id: int
    sort_at: datetime
    changed_at: datetime
    lead: EntryView
    others: tuple[EntryView, ...]  # "also reported by", oldest first
    sections: tuple[str, ...]

    @property
    def stamp(self) -> str:
        """story_stamp of this story: changes whenever what a feed shows of it may."""
        return story_stamp(
            self.id,
            self.sort_at,
            self.changed_at,
            self.sections,
            (
                (e.id, e.feed_id, e.feed_title, e.feed_url, e.feed_site_url)
                for e in (self.lead, *self.others)
            ),
        )


# One report of a story as story_stamp sees it: entry id, feed id, the feed's title
# (as shown), URL and site URL.
ReportStamp = tuple[int, int, str, str, str | None]


def story_stamp(
    story_id: int,
    sort_at: datetime,
    changed_at: datetime,
    sections: tuple[str, ...],
    reports: Iterable[ReportStamp],
) -> str:
    """A digest of everything a published entry is made from, lead report first.

    The entries' own text is covered by the story's ``changed_at``, which storage
    moves with every change of any of its entries; the feeds' names and addresses,
    the story's sections and which reports it has are in the digest themselves.
    Stored renderings of a story are reused while its stamp is unchanged. Stable
    across processes.
    """
    parts = (story_id, sort_at.timestamp(), changed_at.timestamp(), sections, *reports)
    return hashlib.blake2b(repr(parts).encode("utf-8"), digest_size=16).hexdigest()


@dataclass(frozen=True)
class StoryCursor:
    """Keyset position: stories strictly older than this one come next."""

    sort_at: datetime
    story_id: int


@dataclass(frozen=True)
class StoryPage:
    stories: tuple[StoryView, ...]
    next_cursor: StoryCursor | None  # None on the last page


@dataclass(frozen=True)
class StoryRef:
    """What a merged-feed page needs of a story whose entry may be rendered already."""

    id: int
    sort_at: datetime
    changed_at: datetime
    stamp: str  # story_stamp
    # (stamp, body) of the story's stored rendering, when asked for and there is one
    # (it is stale when its stamp differs from ``stamp``).
    rendering: tuple[str, bytes] | None = None


@dataclass(frozen=True)
class StoryRefPage:
    refs: tuple[StoryRef, ...]
    next_cursor: StoryCursor | None  # None on the last page


# (text, is_match) pieces of a highlighted title or snippet, in order.
Highlight = tuple[tuple[str, bool], ...]


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
    status: FeedStatus


# --- why a story is what it is (the story page) ----------------------------------------


@dataclass(frozen=True)
class ReportJoining:
    """How one report joined its story: ``rule`` is "first" (it started the story),
    "same-url", "same-text", "similar" (with the similarity and the report it matched)
    or "split" (an admin took it out of another story)."""

    entry_id: int
    rule: str
    similarity: float | None = None
    matched_entry_id: int | None = None


@dataclass(frozen=True)
class FilingReason:
    """One piece of evidence for a story's section: a ``kind`` ("tag", "default",
    "keywords") from a source feed, what it was (``detail``), and whether it counted
    (evidence outranked by stronger evidence is shown as not used)."""

    section: str  # slug
    kind: str
    feed: str  # the source feed's title
    detail: str
    counted: bool = True


@dataclass(frozen=True)
class RelatedStory:
    """A story alike another (the same people, places or topic), not the same event."""

    story_id: int
    title: str
    feed_title: str
    sort_at: datetime
    similarity: float


@dataclass(frozen=True)
class StoryDetails:
    """Why a story is what it is: how each report joined, why it is filed where it
    is, and what else is related."""

    joinings: dict[int, ReportJoining]  # by entry id
    filing: tuple[FilingReason, ...]
    related: tuple[RelatedStory, ...]  # newest first


# --- accounts --------------------------------------------------------------------------

# The reader without an account: everyone, while no user exists (the state the server
# had before accounts), and visitors of a public server. The first user created takes
# over its read and starred state.
ANONYMOUS = 0

ADMIN = "admin"
READER = "reader"
ROLES = (ADMIN, READER)


@dataclass(frozen=True)
class User:
    """An account: who signs in, and whose read and starred state it is."""

    id: int
    name: str  # lower-case; sign-in ignores case
    role: str  # ADMIN or READER
    created_at: datetime
    password_changed_at: datetime
    # Carried in signed session cookies; a new password makes a new one.
    session_key: str = field(repr=False, default="")
    # The key in the URLs of private outputs.
    feed_token: str = field(repr=False, default="")

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN


@dataclass(frozen=True)
class AppPassword:
    """A password for an app (the Google Reader and Fever APIs), as listed: never its
    secret, which is shown once when it is made."""

    id: int
    user_id: int
    label: str
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class NewAppPassword:
    """A new app password and its secret (shown once, never stored)."""

    app_password: AppPassword
    secret: str = field(repr=False)


@dataclass(frozen=True)
class ApiSession:
    """A signed-in app (Google Reader ClientLogin): its user and its token."""

    user: User
    token: str = field(repr=False)


@dataclass(frozen=True)
class StreamFilter:
    """Which of a reader's stories a sync API stream holds, and in which order.

    ``scope`` is a list of the reader (aggregator.scopes); ``lead_feed`` narrows it to
    the stories whose lead report comes from that source feed (so a story told by
    three outlets is in one feed's stream). ``unread``/``starred``: only stories in
    (True) or out of (False) that state; the times bound the stories' river position
    (``sort_at``, strictly) and arrival (``arrived_before``, inclusive).
    """

    scope: str
    lead_feed: int | None = None
    unread: bool | None = None
    starred: bool | None = None
    newer_than: datetime | None = None
    older_than: datetime | None = None
    arrived_before: datetime | None = None
    oldest_first: bool = False


@dataclass(frozen=True)
class StreamPage:
    """Story ids of a stream page in order, with their river positions, and where the
    next page starts (None on the last)."""

    refs: tuple[StoryCursor, ...]
    next_cursor: StoryCursor | None


@dataclass(frozen=True)
class FeedUnread:
    """Unread stories led by one source feed, and the newest one's river position."""

    feed_id: int
    unread: int
    newest: datetime | None


@dataclass(frozen=True)
class FeedIcon:
    """A source feed's site icon as stored: a small raster image served from our origin.

    ``version`` changes with the picture (its URL carries it, so it is cached for long);
    ``body`` is None when the last look found none (a letter badge is shown)."""

    feed_id: int
    content_type: str | None
    body: bytes | None
    source_url: str | None
    fetched_at: datetime
    version: str | None
