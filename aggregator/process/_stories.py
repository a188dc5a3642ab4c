"""Which story an entry joins. Pure: no I/O, no SQL, no clock (times come with the data).

An entry joins a story by one of three rules, tried in order:

1. ``same-url``: its canonical URL is a stored report's (AMP forms, tracking
   parameters folded: see ``canonical_url``);
2. ``same-text``: its words are a stored report's word for word (a wire story
   republished under another URL: ``text_fingerprint``);
3. ``similar``: another source feed's report published within ``window`` of it
   (default 72 h) says the same things: TF-IDF cosine similarity of title and lead,
   names and numbers weighted up, at least ``threshold``. Entries of one source feed
   never join each other by similarity (an outlet does not file one event twice;
   a changed item is an update of the same entry), nor a story that already holds a
   report of their feed.

``StoryIndex`` keeps what the decision needs about recent entries in memory: term
weights, an inverted index on each entry's rarest terms (so a new entry is compared
with the few entries that share a rare name or word, never with every stored one),
and document frequencies over the retained entries, blended with English word
frequencies so that a cold start already knows "said" from "Pyongyang". It is built
incrementally (``add``) or from stored rows (``StoryIndex.rebuild``).

Why not scikit-learn's TfidfVectorizer or datasketch's MinHash LSH: the vectorizer is
batch (its vocabulary and IDF are refit on every new entry, and importing it costs
about 40 MB), and MinHash over shingles finds near-verbatim copies but not rewrites in
other words, which are most of what the exact rules leave (measured on the dev and alt
newsrooms: word 3-shingle Jaccard of differently worded reports of one event has a
median of 0.016, and 68% / 96% of them score no higher than some pair of different
events within 72 h).

Measured, and left out: boosting names, rare capitalised words and numbers (x1.0 to
x2.0 changes no decision on dev or alt; they already weigh through their IDF and the
extra name terms), and vetoing a match whose leads name different rare people or
places (it lost 10 to 40 points of recall: rewrites quote different people).
"""

from __future__ import annotations

import math
import sys
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Literal

import aggregator.process._prior as prior
from aggregator.process._features import NAME_PREFIX, NUMBER_PREFIX, TextFeatures, extract

StoryId = int
Rule = Literal["same-url", "same-text", "similar"]


def match_text(summary_text: str, content_text: str) -> str:
    """The text a report is matched on: its content when the summary is the content's
    opening (most feeds), else the summary then the content."""
    if summary_text and summary_text[:60] in content_text:
        return content_text
    return f"{summary_text}\n{content_text}".strip()


@dataclass(frozen=True)
class Report:
    """An entry as story matching sees it.

    ``key`` is unique among all entries (e.g. the entry's database id); ``feed`` names
    its source feed; ``text`` is the plain text of its summary and content;
    ``exact_keys`` are ``story_keys`` ("url:...", "text:...").
    """

    key: str
    feed: str
    title: str
    text: str
    published: datetime
    exact_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class StorySettings:
    """The knobs of story matching; defaults measured in benchmarks/quality.py."""

    window: timedelta = timedelta(hours=72)
    # Cosine of the TF-IDF vectors at or above which two reports published within
    # ``full_weight_gap`` of each other tell one event; further apart, more is needed
    # (``threshold_per_hour``: 0.27 at 16 h apart, 0.51 at 32 h, 0.87 at 56 h).
    # Measured on dev and alt in seven arrival orders (poll, time, five shuffles):
    # 0.14-0.16, 4-8 h and 0.01-0.02 give the same figures (alt precision 1.0, recall
    # 0.995-0.997; dev 1.0/1.0); a flat 0.19 (no rise) gave alt precision 0.88.
    threshold: float = 0.15
    full_weight_gap: timedelta = timedelta(hours=8)
    threshold_per_hour: float = 0.015
    title_weight: float = 2.0  # a headline word counts as this many lead words
    rest_weight: float = 0.5  # a word after the lead counts as this much
    lead_chars: int = 400  # the lead: the text up to the first sentence end after this
    name_boost: float = 1.0  # multiword names ("USS Caldwell Reyes"): see the measured note
    proper_boost: float = 1.0  # rare capitalised words (Norfolk, Pentagon, ICBM)
    number_boost: float = 1.0  # figures ("221-207", "6,000")
    prior_weight: float = 200.0  # English word frequencies count as this many entries
    vector_terms: int = 48  # strongest terms kept per entry
    probe_terms: int = 12  # strongest terms put in (and looked up in) the inverted index
    max_candidates: int = 40  # entries scored in full per decision
    # Two reports must share at least this many of their strongest terms that are not
    # figures: a date and a stock phrase ("Text of ... 0") are not an event. Measured:
    # 3 to 5 give the same decisions on dev and alt; 7 loses alt recall.
    min_shared_terms: int = 4


@dataclass(frozen=True)
class StoryDecision:
    """Where an entry goes: ``story_id`` None means a new story.

    ``rule`` and ``similarity`` explain a join ("similar", 0.42); for a new story,
    ``similarity`` is the best score seen (below the threshold) and ``matched_key``
    the nearest report, which is what a "related stories" list wants.
    """

    story_id: StoryId | None
    rule: Rule | None
    similarity: float
    matched_key: str | None


@dataclass(slots=True)
class _Indexed:
    key: str
    feed: str
    story: StoryId
    published: float  # POSIX seconds
    terms: tuple[str, ...]  # every distinct term, for document frequencies
    vector_terms: tuple[str, ...]  # the strongest terms, L2-normalised weights below
    vector_weights: array[float]
    probes: tuple[str, ...]
    exact_keys: tuple[str, ...]


@dataclass
class DocumentFrequencies:
    """How many retained entries hold each term, with an English-frequency prior."""

    prior_weight: float
    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, terms: Iterable[str]) -> None:
        self.total += 1
        counts = self.counts
        for term in terms:
            counts[term] = counts.get(term, 0) + 1

    def remove(self, terms: Iterable[str]) -> None:
        self.total -= 1
        counts = self.counts
        for term in terms:
            left = counts[term] - 1
            if left:
                counts[term] = left
            else:
                del counts[term]

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency: observed counts plus prior pseudo-entries."""
        expected = self.prior_weight * _prior_rate(term)
        seen = self.counts.get(term, 0)
        return math.log((self.total + self.prior_weight + 1) / (seen + expected + 0.5))


@lru_cache(maxsize=8192)
def _prior_rate(term: str) -> float:
    if term.startswith(NAME_PREFIX):
        return prior.document_rate("")  # an unknown word: names are rare
    if term.startswith(NUMBER_PREFIX):
        digits = term[1:]
        # Small counts and years are in many entries; other figures are telling.
        common = len(digits) <= 2 or (len(digits) == 4 and digits[:2] in ("19", "20"))
        return 0.05 if common else prior.document_rate("")
    return prior.document_rate(term)


def _closeness(gap_seconds: float, settings: StorySettings) -> float:
    """What a similarity counts for at this distance in time.

    Reports of one event come within hours of each other; look-alike events (the
    same actor, place or topic) days apart. So the similarity needed to merge is
    ``threshold`` up to ``full_weight_gap`` apart, then rises by ``threshold_per_hour``
    for every hour more: scaling the score by threshold / needed does that.
    """
    hours = max(0.0, (gap_seconds - settings.full_weight_gap.total_seconds()) / 3600)
    return settings.threshold / (settings.threshold + settings.threshold_per_hour * hours)


def _enough_shared(vector: dict[str, float], terms: Iterable[str], least: int) -> bool:
    shared = sum(1 for term in terms if term in vector and not term.startswith(NUMBER_PREFIX))
    return shared >= least


class StoryIndex:
    """Recent entries, ready to say which story a new entry belongs to. Not thread-safe."""

    def __init__(self, settings: StorySettings | None = None) -> None:
        self.settings = settings or StorySettings()
        self.frequencies = DocumentFrequencies(self.settings.prior_weight)
        self._entries: dict[str, _Indexed] = {}
        self._postings: dict[str, list[str]] = defaultdict(list)
        self._exact: dict[str, str] = {}  # exact key -> entry key
        self._story_feeds: dict[StoryId, Counter[str]] = defaultdict(Counter)
        self._members: dict[StoryId, set[str]] = defaultdict(set)
        # decide() then add() of one report analyse its text once.
        self._last: tuple[Report, TextFeatures, dict[str, float]] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries

    def story_of(self, key: str) -> StoryId | None:
        """The story of a retained entry, or None."""
        entry = self._entries.get(key)
        return entry.story if entry else None

    def decide(self, report: Report) -> StoryDecision:
        """Return the story ``report`` joins (or None for a new one), with rule and score.

        Does not change the index: call ``add`` with the story chosen.
        """
        for exact_key in report.exact_keys:
            other = self._exact.get(exact_key)
            if other is not None and other != report.key:
                rule: Rule = "same-url" if exact_key.startswith("url:") else "same-text"
                return StoryDecision(self._entries[other].story, rule, 1.0, other)
        _features, vector = self._analyse(report)
        best_story, best_score, best_key = self._nearest(report, vector)
        if best_story is not None and best_score >= self.settings.threshold:
            return StoryDecision(best_story, "similar", best_score, best_key)
        return StoryDecision(None, None, best_score, best_key)

    def add(self, report: Report, story_id: StoryId) -> None:
        """Retain ``report`` as a report of ``story_id`` (replacing an earlier version)."""
        if report.key in self._entries:
            self._forget(report.key)
        features, vector = self._analyse(report)
        self._last = None
        terms = tuple(sys.intern(t) for t in features.terms())
        self.frequencies.add(terms)
        entry = _Indexed(
            key=report.key,
            feed=report.feed,
            story=story_id,
            published=report.published.timestamp(),
            terms=terms,
            vector_terms=tuple(sys.intern(t) for t in vector),
            vector_weights=array("f", vector.values()),
            probes=self._probes(vector),
            exact_keys=report.exact_keys,
        )
        self._entries[report.key] = entry
        for probe in entry.probes:
            self._postings[probe].append(report.key)
        for exact_key in report.exact_keys:
            self._exact.setdefault(exact_key, report.key)
        self._story_feeds[story_id][report.feed] += 1
        self._members[story_id].add(report.key)

    def update(self, report: Report) -> None:
        """Replace a retained entry's text (an updated item); it keeps its story."""
        story = self.story_of(report.key)
        if story is not None:
            self.add(report, story)

    def move(self, key: str, story_id: StoryId) -> None:
        """Put a retained entry in another story (an admin split it out, say)."""
        entry = self._entries.get(key)
        if entry is None:
            return
        self._story_feeds[entry.story][entry.feed] -= 1
        self._members[entry.story].discard(key)
        entry.story = story_id
        self._story_feeds[story_id][entry.feed] += 1
        self._members[story_id].add(key)

    def prune(self, now: datetime) -> int:
        """Forget entries published before ``now`` - 2 x window; return how many.

        Twice the window, so an entry that arrives late (a slow feed, a retry) still
        finds the reports published up to a window before it.
        """
        horizon = (now - 2 * self.settings.window).timestamp()
        old = [key for key, entry in self._entries.items() if entry.published < horizon]
        for key in old:
            self._forget(key)
        return len(old)

    def related(
        self, story_id: StoryId, *, floor: float, limit: int
    ) -> list[tuple[StoryId, float]]:
        """Other stories alike ``story_id`` (the same people, places or topic) but not
        the same event: their reports' best cosine with its reports is at least
        ``floor``, and too low to have merged them at the time between them. Highest
        first, at most ``limit``. Looked up through the inverted index, like ``decide``;
        retained entries only.
        """
        best: dict[StoryId, float] = {}
        for key in self._members.get(story_id, ()):
            entry = self._entries[key]
            vector = dict(zip(entry.vector_terms, entry.vector_weights, strict=True))
            shared: Counter[str] = Counter()
            for probe in entry.probes:
                for other_key in self._postings.get(probe, ()):
                    shared[other_key] += 1
            for other_key, _count in shared.most_common(self.settings.max_candidates):
                other = self._entries[other_key]
                if other.story == story_id:
                    continue
                score = sum(
                    vector.get(term, 0.0) * weight
                    for term, weight in zip(other.vector_terms, other.vector_weights, strict=True)
                )
                gap = abs(other.published - entry.published)
                mergeable = score * _closeness(gap, self.settings) >= self.settings.threshold
                if score >= floor and not mergeable and score > best.get(other.story, 0.0):
                    best[other.story] = score
        ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))
        return [(other, round(score, 4)) for other, score in ranked[:limit]]

    @classmethod
    def rebuild(
        cls, rows: Iterable[tuple[Report, StoryId]], settings: StorySettings | None = None
    ) -> StoryIndex:
        """An index holding stored reports (oldest first is best), e.g. after a restart."""
        index = cls(settings)
        for report, story_id in rows:
            index.add(report, story_id)
        return index

    def _forget(self, key: str) -> None:
        entry = self._entries.pop(key)
        self.frequencies.remove(entry.terms)
        for probe in entry.probes:
            posting = self._postings[probe]
            posting.remove(key)
            if not posting:
                del self._postings[probe]
        for exact_key in entry.exact_keys:
            if self._exact.get(exact_key) == key:
                del self._exact[exact_key]
        members = self._members[entry.story]
        members.discard(key)
        if not members:
            del self._members[entry.story]
        feeds = self._story_feeds[entry.story]
        feeds[entry.feed] -= 1
        if feeds[entry.feed] <= 0:
            del feeds[entry.feed]
        if not feeds:
            del self._story_feeds[entry.story]

    def _vector(self, features: TextFeatures) -> dict[str, float]:
        """The entry's strongest terms with L2-normalised sublinear TF x IDF x boost."""
        settings = self.settings
        counts: dict[str, float] = {}
        for part, weight in (
            (features.title, settings.title_weight),
            (features.lead, 1.0),
            (features.rest, settings.rest_weight),
        ):
            for term, count in part.items():
                counts[term] = counts.get(term, 0.0) + weight * count
        weights: dict[str, float] = {}
        idf = self.frequencies.idf
        for term, frequency in counts.items():
            weight = (1 + math.log(frequency)) * idf(term)
            if weight <= 0:
                continue
            if term.startswith(NAME_PREFIX):
                weight *= settings.name_boost
            elif term.startswith(NUMBER_PREFIX):
                weight *= settings.number_boost
            elif term in features.proper:
                weight *= settings.proper_boost
            weights[term] = weight
        strongest = sorted(weights, key=weights.__getitem__, reverse=True)
        kept = strongest[: settings.vector_terms]
        norm = math.sqrt(sum(weights[term] ** 2 for term in kept)) or 1.0
        return {term: weights[term] / norm for term in kept}

    def _probes(self, vector: dict[str, float]) -> tuple[str, ...]:
        # The strongest terms: rare, and in the headline or lead. (The vector is
        # sorted strongest first.)
        return tuple(list(vector)[: self.settings.probe_terms])

    def _analyse(self, report: Report) -> tuple[TextFeatures, dict[str, float]]:
        """The report's features and vector; kept from ``decide`` for the ``add`` after it."""
        if self._last is not None and self._last[0] is report:
            return self._last[1], self._last[2]
        features = extract(report.title, report.text, self.settings.lead_chars)
        vector = self._vector(features)
        self._last = (report, features, vector)
        return features, vector

    def _nearest(
        self, report: Report, vector: dict[str, float]
    ) -> tuple[StoryId | None, float, str | None]:
        """The best story another feed's report offers, its cosine and that report's key."""
        settings = self.settings
        published = report.published.timestamp()
        window = settings.window.total_seconds()
        shared: Counter[str] = Counter()
        for probe in self._probes(vector):
            for key in self._postings.get(probe, ()):
                shared[key] += 1
        best: tuple[StoryId | None, float, str | None] = (None, 0.0, None)
        for key, _count in shared.most_common(settings.max_candidates):
            entry = self._entries[key]
            if key == report.key or entry.feed == report.feed:
                continue
            if abs(entry.published - published) > window:
                continue
            if self._story_feeds[entry.story].get(report.feed):
                continue  # the story already has this feed's report
            if not _enough_shared(vector, entry.vector_terms, settings.min_shared_terms):
                continue
            score = sum(
                vector.get(term, 0.0) * weight
                for term, weight in zip(entry.vector_terms, entry.vector_weights, strict=True)
            ) * _closeness(abs(entry.published - published), settings)
            if score > best[1]:
                best = (entry.story, score, key)
        return best
