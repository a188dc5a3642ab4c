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
    passes_filter,
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
        self._last_report: tuple[NewReport, Report] | None = None

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
            if row.vector is not None:
                self._index.add_vector(
                    str(row.entry_id),
                    str(row.feed_id),
                    row.story_id,
                    row.published,
                    decode_vector(row.vector),
                )
            else:  # stored before vectors were: analysed again
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
        try:
            decision = self._require_index().decide(self._report(report))
        except Exception:  # a bug in matching must not lose the entry: a story of its own
            log.exception("story matching failed for entry %d", report.entry_id)
            return Joining(None, "first")
        matched = int(decision.matched_key) if decision.matched_key else None
        if decision.story_id is None:
            return Joining(None, "first")
        rule: JoinRule = decision.rule or "similar"
        return Joining(decision.story_id, rule, round(decision.similarity, 4), matched)

    def add(self, report: NewReport, story_id: int) -> bytes:
        index = self._require_index()
        index.add(self._report(report), story_id)
        self._pending.append(report.entry_id)
        self._watermark = max(self._watermark, report.entry_id)
        return encode_vector(index.vector_of(str(report.entry_id)))

    def refresh(self, report: NewReport, story_id: int) -> bytes | None:
        index = self._require_index()
        key = str(report.entry_id)
        if key not in index:
            return None  # not retained: too old to matter
        index.update(self._report(report))
        return encode_vector(index.vector_of(key))

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

    def _report(self, report: NewReport) -> Report:
        """The index's Report of a new entry: the same object for ``join`` then ``add``,
        so the index analyses the text once and keeps what the decision saw."""
        last = self._last_report
        if last is not None and last[0] is report:
            return last[1]
        converted = _report(report)
        self._last_report = (report, converted)
        return converted

    def _require_index(self) -> StoryIndex:
        if self._index is None:
            self._index = StoryIndex(self.settings)
        return self._index


def encode_vector(vector: Sequence[tuple[str, float]]) -> bytes:
    """A vector as stored with its entry: one byte per weight (0-1 in 255 steps: the
    weights are L2-normalised), then the terms, separated by 0x1f."""
    weights = bytes(max(0, min(255, round(weight * 255))) for _term, weight in vector)
    terms = "\x1f".join(term for term, _weight in vector).encode("utf-8")
    return bytes([len(weights)]) + weights + terms


def decode_vector(data: bytes) -> list[tuple[str, float]]:
    """The vector ``encode_vector`` stored; [] for anything it did not make."""
    if not data:
        return []
    count = data[0]
    terms = data[1 + count :].decode("utf-8", errors="replace").split("\x1f") if count else []
    if len(terms) != count:
        return []
    return [(term, data[1 + i] / 255) for i, term in enumerate(terms)]


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
        config.sections,  # their reading filters included
        sorted(
            (feed.url, feed.section, feed.labels, feed.priority, feed.include, feed.exclude)
            for feed in config.feeds
        ),
    )
    return hashlib.blake2b(repr(parts).encode("utf-8"), digest_size=16).hexdigest()


def story_filer(config: Config) -> StoryFiler:
    """File stories by the config's sections: the reports' tags, feeds' defaults and
    keywords, by the precedence of process.file_story."""
    rules = SectionRules(config.sections)
    slugs = config.section_slugs()
    hides = _reading_filters(config)

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
        sections = tuple(slugs[name] for name in filing.sections if name in slugs)
        hidden_reports, hidden_sections = hides(reports, sections)
        return StoryFiling(
            sections,
            hidden_reports=hidden_reports,
            hidden_sections=hidden_sections,
            reasons=tuple(
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


ReadingFilter = Callable[
    [Sequence[FilingReport], tuple[str, ...]], tuple[frozenset[int], frozenset[str]]
]


def _reading_filters(config: Config) -> ReadingFilter:
    """What the reader's filters hide of a story: (its reports hidden by their feed's
    include/exclude, the sections among ``sections`` hiding it by theirs).

    A report is looked at by its title and text; a section looks at the title and text
    of the reports left shown. A story whose every report is hidden is hidden from
    every list, whatever its sections say.
    """
    by_feed = {
        feed.url: (feed.include, feed.exclude)
        for feed in config.feeds
        if feed.include or feed.exclude
    }
    by_section = {
        section.slug: (section.include, section.exclude)
        for section in config.sections
        if section.include or section.exclude
    }

    def hides(
        reports: Sequence[FilingReport], sections: tuple[str, ...]
    ) -> tuple[frozenset[int], frozenset[str]]:
        if not by_feed and not by_section:
            return frozenset(), frozenset()
        hidden = frozenset(
            report.entry_id
            for report in reports
            if report.feed_url in by_feed
            and not passes_filter(*by_feed[report.feed_url], f"{report.title}\n{report.text}")
        )
        shown = "\n".join(
            f"{report.title}\n{report.text}" for report in reports if report.entry_id not in hidden
        )
        hidden_sections = frozenset(
            slug
            for slug in sections
            if slug in by_section and not passes_filter(*by_section[slug], shown)
        )
        return hidden, hidden_sections

    return hides


def _trust(value: str) -> LabelTrust:
    for trust in LABEL_TRUST_VALUES:
        if value == trust:
            return trust
    return "trust"
