"""Story matching and filing as the writer uses them: the pure rules of the process
package, fed with what storage holds.

``StoryMatcher`` keeps the story index of one process (process.StoryIndex) in step with
the database: at every write it first loads the entries stored since it last looked
(by another process too, or all recent ones after a start), then decides each new
entry. ``story_filer`` files a story from its reports by the config's sections and
the feeds' labels.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from aggregator.config import Config
from aggregator.process import (
    LABEL_TRUST_VALUES,
    FeedLabels,
    LabelTrust,
    Report,
    ReportEvidence,
    SectionRules,
    StoryIndex,
    StorySettings,
    file_story,
)
from aggregator.storage import (
    FilingReport,
    IndexedReport,
    Joining,
    JoinRule,
    NewReport,
    StoryFiler,
    StoryFiling,
    stored_text,
)

log = logging.getLogger(__name__)

# Stories at least this alike (cosine) but not the same event are "related reading".
RELATED_FLOOR = 0.08
RELATED_LIMIT = 5
# Entries the index keeps before it drops those published over two windows ago.
MAX_INDEXED = 50_000


class StoryMatcher:
    """The storage.StoryAssigner of the pipeline: exact keys first, then wording.

    Used by one writer at a time (the writer thread of a process); ``clock`` says
    what "recent" is when the index is loaded.
    """

    def __init__(
        self, settings: StorySettings, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._index: StoryIndex | None = None
        self._watermark = 0  # the highest entry id the index has seen
        self._pending: list[int] = []  # entry ids added since prepare, for discard

    @classmethod
    def from_config(
        cls, config: Config, clock: Callable[[], datetime] | None = None
    ) -> StoryMatcher:
        window = timedelta(seconds=config.stories.window_seconds)
        return cls(StorySettings(window=window), clock)

    def prepare(self, load: Callable[[int, datetime], Sequence[IndexedReport]]) -> None:
        """Index what was stored since the last look: everything published in the last
        two windows the first time (after a start), then every entry another process
        stored since (whenever it was published)."""
        self._pending = []
        now = self._clock() if self._clock else datetime.now(UTC)
        if self._index is None:
            self._index = StoryIndex(self.settings)
            since = now - 2 * self.settings.window
        else:
            since = datetime.min.replace(tzinfo=UTC)
        loaded = load(self._watermark, since)
        for row in loaded:
            report = Report(
                key=str(row.entry_id),
                feed=str(row.feed_id),
                title=row.title,
                text=stored_text(row.summary_html, row.content_html),
                published=row.published,
            )
            self._index.add(report, row.story_id)
            self._watermark = max(self._watermark, row.entry_id)
        if loaded:
            log.debug("story index: %d stored entries loaded", len(loaded))
        # Entries older than two windows can only match late arrivals of their own
        # time (a backlog): kept while the index is small, dropped when it grows.
        if len(self._index) > MAX_INDEXED:
            self._index.prune(now)

    def join(self, report: NewReport, exact_story: int | None, exact_rule: JoinRule) -> Joining:
        """Where a new entry goes: the story of its same URL or text, else of the most
        similar report of another feed within the window, else a new story."""
        if exact_story is not None:
            return Joining(exact_story, exact_rule, 1.0)
        decision = self._require_index().decide(_report(report))
        matched = int(decision.matched_key) if decision.matched_key else None
        if decision.story_id is None:
            return Joining(None, "first")
        rule: JoinRule = decision.rule or "similar"
        return Joining(decision.story_id, rule, round(decision.similarity, 4), matched)

    def add(self, report: NewReport, story_id: int) -> None:
        self._require_index().add(_report(report), story_id)
        self._pending.append(report.entry_id)
        self._watermark = max(self._watermark, report.entry_id)

    def refresh(self, report: NewReport, story_id: int) -> None:
        index = self._require_index()
        if str(report.entry_id) in index:
            index.update(_report(report))

    def move(self, entry_id: int, story_id: int) -> None:
        if self._index is not None:
            self._index.move(str(entry_id), story_id)

    def related(self, story_id: int) -> list[tuple[int, float]]:
        """Up to five stories alike ``story_id`` but below the merge threshold."""
        if self._index is None:
            return []
        return self._index.related(story_id, floor=RELATED_FLOOR, limit=RELATED_LIMIT)

    def discard(self) -> None:
        """The write rolled back: forget the index (it is loaded again, from what was
        committed, at the next write)."""
        if self._pending:
            self._index = None
            self._watermark = 0
        self._pending = []

    def _require_index(self) -> StoryIndex:
        if self._index is None:
            self._index = StoryIndex(self.settings)
        return self._index


def _report(report: NewReport) -> Report:
    return Report(
        key=str(report.entry_id),
        feed=str(report.feed_id),
        title=report.title,
        text=report.text,
        published=report.published,
        exact_keys=report.story_keys,
    )


# Bump when the filing rules of process/_sections.py change what they decide: stored
# stories are then filed again at the next start.
FILING_VERSION = 1


def filing_digest(config: Config) -> str:
    """A digest of everything filing depends on: the rules' version, the sections and
    each feed's default section, labels and priority (which report leads)."""
    parts = (
        FILING_VERSION,
        config.sections,
        sorted((feed.url, feed.section, feed.labels, feed.priority) for feed in config.feeds),
    )
    return hashlib.blake2b(repr(parts).encode("utf-8"), digest_size=16).hexdigest()


def story_filer(config: Config) -> StoryFiler:
    """File stories by the config's sections: the reports' tags, feeds' defaults and
    keywords, by the precedence of process.file_story."""
    rules = SectionRules(config.sections)
    slugs = config.section_slugs()

    def file(reports: Sequence[FilingReport]) -> StoryFiling:
        # One vote per source feed: feeds are told apart by id, named by title.
        titles = {str(report.feed_id): report.feed_title for report in reports}
        filing = file_story(
            rules,
            [
                ReportEvidence(
                    feed=str(report.feed_id),
                    title=report.title,
                    text=report.text,
                    tags=report.source_tags,
                    labels=FeedLabels(
                        default_section=report.feed_section,
                        trust=_trust(report.feed_labels),
                    ),
                )
                for report in reports
            ],
        )
        return StoryFiling(
            tuple(slugs[name] for name in filing.sections if name in slugs),
            tuple(
                {
                    "section": slugs.get(reason.section, reason.section),
                    "kind": reason.kind,
                    "feed": titles.get(reason.feed, reason.feed),
                    "detail": reason.detail,
                    "counted": reason.counted,
                }
                for reason in filing.reasons
            ),
        )

    return file


def _trust(value: str) -> LabelTrust:
    for trust in LABEL_TRUST_VALUES:
        if value == trust:
            return trust
    return "trust"
