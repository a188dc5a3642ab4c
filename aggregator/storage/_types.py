"""What storage is given to write (one poll's entries and outcome) and the decisions it
asks the update package for while writing (which story, which sections)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from aggregator.types import Enclosure


@dataclass(frozen=True)
class ProcessedEntry:
    """An entry ready to store: sanitized, with its story keys and its match text."""

    identity: str
    content_hash: str
    guid: str | None
    link: str | None
    canonical_url: str | None
    title: str
    summary_html: str  # sanitized
    content_html: str  # sanitized
    summary_text: str  # plain text of the summary (or content), for search and snippets
    author: str | None
    published: datetime | None
    updated: datetime | None
    tags: tuple[str, ...]  # tags that named no section
    enclosures: tuple[Enclosure, ...]
    story_keys: tuple[str, ...]
    source_tags: tuple[str, ...] = ()  # every tag the item carried
    # Section slugs for storage without a filer (tests, fills): its story is filed in
    # the union of its reports' given sections. The pipeline files by evidence.
    sections: tuple[str, ...] = ()
    # The plain text its story is matched on (process.match_text); not stored.
    match_text: str = ""


@dataclass(frozen=True)
class FeedUpdate:
    """Everything one successful poll of one feed writes, in one transaction."""

    feed_id: int
    fetched_at: datetime
    status: int
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    feed_title: str | None
    site_url: str | None
    subtitle: str | None
    permanent_redirect_url: str | None
    next_check_at: datetime
    entries: tuple[ProcessedEntry, ...] = ()
    duration_ms: int | None = None
    body_bytes: int | None = None
    publisher_hints: dict[str, Any] | None = None
    redirect_target: str | None = None
    redirect_count: int = 0
    fetch_url: str | None = None  # set when a permanent redirect is confirmed


@dataclass(frozen=True)
class FeedFailure:
    """What a failed poll records on its feed."""

    feed_id: int
    fetched_at: datetime
    error: str
    next_check_at: datetime
    status: int | None = None
    gone: bool = False
    retry_after_until: datetime | None = None
    permanent_redirect_url: str | None = None
    duration_ms: int | None = None


@dataclass(frozen=True)
class StoreResult:
    new: int = 0
    updated: int = 0


# --- decisions asked for while writing ------------------------------------------------------

JoinRule = Literal["first", "same-url", "same-text", "similar", "split"]


@dataclass(frozen=True)
class Joining:
    """Where a new entry goes: an existing story, or a new one (``story_id`` None)."""

    story_id: int | None
    rule: JoinRule
    similarity: float | None = None
    matched_entry_id: int | None = None


@dataclass(frozen=True)
class NewReport:
    """A new entry as story matching sees it, with the id it will be stored under."""

    entry_id: int
    feed_id: int
    title: str
    text: str
    published: datetime
    story_keys: tuple[str, ...]


@dataclass(frozen=True)
class IndexedReport:
    """A stored entry as story matching indexes it: the vector it stored when it was
    added, or (an entry stored before vectors were) its text to analyse again."""

    entry_id: int
    story_id: int
    feed_id: int
    published: datetime
    vector: bytes | None
    title: str = ""
    summary_html: str = ""
    content_html: str = ""


class StoryAssigner(Protocol):
    """Decides the story of each new entry while it is written (update's story matcher).

    ``prepare`` is called first in every write transaction with a loader of the stored
    entries with ids above a watermark published since a time, so the assigner sees
    what other processes stored; ``join`` decides one new entry (``exact_story``: the
    story its same URL or text belongs to, if any) and ``add`` remembers it in the
    story chosen; ``refresh`` takes an entry's new text (it keeps its story) - both
    return what to store with the entry for ``prepare`` to load it again; ``move``
    follows an admin's split; ``related`` names stories alike a story's reports;
    ``discard`` is called when the transaction rolled back (what was remembered since
    ``prepare`` never happened).
    """

    def prepare(self, load: Callable[[int, datetime], Sequence[IndexedReport]]) -> None: ...

    def join(self, report: NewReport, exact_story: int | None, exact_rule: JoinRule) -> Joining: ...

    def add(self, report: NewReport, story_id: int) -> bytes | None: ...

    def refresh(self, report: NewReport, story_id: int) -> bytes | None: ...

    def move(self, entry_id: int, story_id: int) -> None: ...

    def related(self, story_id: int) -> list[tuple[int, float]]: ...

    def discard(self) -> None: ...


@dataclass(frozen=True)
class FilingReport:
    """One report of a story as filing sees it."""

    entry_id: int
    feed_id: int
    feed_title: str
    title: str
    text: str
    source_tags: tuple[str, ...]
    feed_section: str | None  # the feed's default section name
    feed_labels: str  # trust, ignore_tags, default_last, ignore
    given_sections: tuple[str, ...] = ()  # see ProcessedEntry.sections
    feed_url: str = ""  # the feed's URL as listed in the config


@dataclass(frozen=True)
class StoryFiling:
    """Where a story is filed (section slugs, strongest first) and why (JSON-able),
    and what the reader's filters hide: reports (entry ids) hidden by their feed's
    filter, sections whose list does not show the story."""

    sections: tuple[str, ...]
    reasons: tuple[dict[str, Any], ...] = ()
    hidden_reports: frozenset[int] = frozenset()
    hidden_sections: frozenset[str] = frozenset()


StoryFiler = Callable[[Sequence[FilingReport]], StoryFiling]


def union_of_given(reports: Sequence[FilingReport]) -> StoryFiling:
    """The filer used without one given: the union of the reports' given sections."""
    return StoryFiling(tuple(sorted({s for report in reports for s in report.given_sections})))
