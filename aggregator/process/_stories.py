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

import heapq
import math
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
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
    # Entries scored in full per decision (those sharing the most probes). Measured:
    # 20 and 40 decide alike on dev, alt and holdout; 20 costs half.
    max_candidates: int = 20
    # Two reports must share at least this many of their strongest terms that are not
    # figures: a date and a stock phrase ("Text of ... 0") are not an event. Measured:
    # 3 to 5 give the same decisions on dev and alt; 7 loses alt recall.
    min_shared_terms: int = 4


@dataclass(frozen=True)
class StoryDecision:
    """Where an entry goes: ``story_id`` None means a new story.

    ``rule`` and ``similarity`` explain a join ("similar", 0.42); for a new story,
    ``similarity`` is the best score seen (below the threshold) and ``matched_key``
    the nearest report. ``related`` are other stories alike it but too far for a
    merge (story, cosine), best first: "related reading".
    """

    story_id: StoryId | None
    rule: Rule | None
    similarity: float
    matched_key: str | None
    related: tuple[tuple[StoryId, float], ...] = ()


# One retained entry, kept small (a cold ingest holds tens of thousands): its vector
# as term ids (strongest first; the first ``probe_terms`` are its probes in the
# inverted index) with float32 weights, and what the rules need besides.
@dataclass(slots=True)
class _Indexed:
    feed: int
    story: StoryId
    published: float  # POSIX seconds
    terms: array[int]
    weights: array[float]


@dataclass
class DocumentFrequencies:
    """In how many entries each term appeared, with an English-frequency prior.

    Counted over every entry added (not taken back when an entry is forgotten: an
    estimate of how common a term is in the news, not an exact count of the window).
    When the table grows past ``MAX_TERMS`` every count is halved and the terms left
    at zero are dropped, so recent news weighs most.
    """

    prior_weight: float
    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    # term -> its prior pseudo-count + 0.5: fixed per term, so computed once
    floors: dict[str, float] = field(default_factory=dict, repr=False)

    def add(self, terms: Iterable[str]) -> None:
        self.total += 1
        counts = self.counts
        for term in terms:
            counts[term] = counts.get(term, 0) + 1
        if len(counts) > MAX_TERMS:
            self.total //= 2
            self.counts = {term: n // 2 for term, n in counts.items() if n > 1}

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency: observed counts plus prior pseudo-entries."""
        expected = self.prior_weight * _prior_rate(term)
        seen = self.counts.get(term, 0)
        return math.log((self.total + self.prior_weight + 1) / (seen + expected + 0.5))

    def idfs(self, terms: Iterable[str]) -> list[float]:
        """``idf`` of each term, in one pass (the hot loop of every new entry)."""
        top = math.log(self.total + self.prior_weight + 1)
        seen = self.counts.get
        floor = self.floors
        if len(floor) > MAX_FLOORS:
            floor.clear()
        log = math.log
        found: list[float] = []
        for term in terms:
            base = floor.get(term)
            if base is None:
                base = floor[term] = self.prior_weight * _prior_rate(term) + 0.5
            found.append(top - log(seen(term, 0) + base))
        return found


MAX_TERMS = 400_000
MAX_FLOORS = 100_000  # a cache: cleared when full (news vocabulary turns over slowly)


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


class StoryIndex:
    """Recent entries, ready to say which story a new entry belongs to. Not thread-safe."""

    def __init__(self, settings: StorySettings | None = None) -> None:
        self.settings = settings or StorySettings()
        self.frequencies = DocumentFrequencies(self.settings.prior_weight)
        self._entries: dict[str, _Indexed] = {}
        self._term_ids: dict[str, int] = {}
        self._term_names: list[str] = []
        self._numbers: set[int] = set()  # ids of figure terms ("#2000")
        self._feed_ids: dict[str, int] = {}
        self._postings: dict[int, list[str]] = defaultdict(list)
        self._exact: dict[str, str] = {}  # exact key -> entry key
        self._exact_of: dict[str, tuple[str, ...]] = {}  # entry key -> its exact keys
        self._last_terms: list[str] = []  # the distinct terms of the last text analysed
        self._story_feeds: dict[StoryId, Counter[int]] = defaultdict(Counter)
        self._members: dict[StoryId, set[str]] = defaultdict(set)
        self._related: dict[StoryId, dict[StoryId, float]] = {}
        # decide() then add() of one report analyse its text (and search) once.
        self._last: tuple[Report, dict[str, float], StoryDecision | None] | None = None

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
        vector = self._analyse(report)
        decision = self._nearest(report, vector)
        self._last = (report, vector, decision)
        return decision

    def add(self, report: Report, story_id: StoryId) -> None:
        """Retain ``report`` as a report of ``story_id`` (replacing an earlier version)."""
        last = self._last
        decision = last[2] if last is not None and last[0] is report else None
        vector = self._analyse(report)
        self._last = None
        self.frequencies.add(self._last_terms)  # every distinct term of this report
        self._retain(report.key, report.feed, story_id, report.published.timestamp(), vector)
        for exact_key in report.exact_keys:
            self._exact.setdefault(exact_key, report.key)
        if report.exact_keys:
            self._exact_of[report.key] = report.exact_keys
        if decision is not None:
            self._remember_related(story_id, decision.related)

    def add_vector(
        self,
        key: str,
        feed: str,
        story_id: StoryId,
        published: datetime,
        vector: Iterable[tuple[str, float]],
    ) -> None:
        """Retain a stored entry from the vector ``vector_of`` gave when it was added
        (no text to analyse: an index is loaded quickly after a start).

        Its terms count in the document frequencies: only its strongest ones are
        stored, but those (names, rare words) are the ones whose frequency matters;
        the English prior stands in for the everyday words.
        """
        weights = dict(vector)
        if key not in self._entries:
            self.frequencies.add(weights)
        self._retain(key, feed, story_id, published.timestamp(), weights)

    def vector_of(self, key: str) -> list[tuple[str, float]]:
        """A retained entry's vector (term, weight), strongest first, for storing."""
        entry = self._entries[key]
        names = self._term_names
        return [(names[t], w) for t, w in zip(entry.terms, entry.weights, strict=True)]

    def update(self, report: Report) -> None:
        """Replace a retained entry's text (an updated item); it keeps its story."""
        story = self.story_of(report.key)
        if story is not None:
            self._forget(report.key)
            self._retain(
                report.key, report.feed, story, report.published.timestamp(), self._analyse(report)
            )
            self._last = None

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
        the same event: seen when its reports were decided (their cosine at least
        ``floor``, too low to merge at the time between them). Highest first, at most
        ``limit``; only stories still retained.
        """
        found = self._related.get(story_id, {})
        ranked = sorted(
            (
                (other, score)
                for other, score in found.items()
                if score >= floor and other != story_id and other in self._members
            ),
            key=lambda item: (-item[1], item[0]),
        )
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

    # --- inside ----------------------------------------------------------------------

    def _retain(
        self, key: str, feed: str, story_id: StoryId, published: float, vector: dict[str, float]
    ) -> None:
        if key in self._entries:
            self._forget(key)
        feed_id = self._feed_ids.setdefault(feed, len(self._feed_ids))
        term_ids = array("i", (self._term_id(term) for term in vector))
        entry = _Indexed(feed_id, story_id, published, term_ids, array("f", vector.values()))
        self._entries[key] = entry
        for term in term_ids[: self.settings.probe_terms]:
            self._postings[term].append(key)
        self._story_feeds[story_id][feed_id] += 1
        self._members[story_id].add(key)

    def _term_id(self, term: str) -> int:
        term_id = self._term_ids.get(term)
        if term_id is None:
            term_id = self._term_ids[term] = len(self._term_names)
            self._term_names.append(term)
            if term.startswith(NUMBER_PREFIX):
                self._numbers.add(term_id)
        return term_id

    def _forget(self, key: str) -> None:
        entry = self._entries.pop(key)
        for term in entry.terms[: self.settings.probe_terms]:
            posting = self._postings[term]
            posting.remove(key)
            if not posting:
                del self._postings[term]
        for exact_key in self._exact_of.pop(key, ()):
            if self._exact.get(exact_key) == key:
                del self._exact[exact_key]
        members = self._members[entry.story]
        members.discard(key)
        if not members:
            del self._members[entry.story]
            self._related.pop(entry.story, None)
        feeds = self._story_feeds[entry.story]
        feeds[entry.feed] -= 1
        if feeds[entry.feed] <= 0:
            del feeds[entry.feed]
        if not feeds:
            del self._story_feeds[entry.story]

    def _remember_related(
        self, story_id: StoryId, related: Iterable[tuple[StoryId, float]]
    ) -> None:
        for other, score in related:
            if other == story_id:
                continue
            for one, two in ((story_id, other), (other, story_id)):
                kept = self._related.setdefault(one, {})
                if score > kept.get(two, 0.0):
                    kept[two] = score
                if len(kept) > 2 * RELATED_KEPT:  # keep the best few
                    for weakest, _score in sorted(kept.items(), key=lambda i: i[1])[:RELATED_KEPT]:
                        del kept[weakest]

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
        self._last_terms = terms = list(counts)
        weights: dict[str, float] = {}
        proper = features.proper
        log = math.log
        for term, frequency, idf in zip(
            terms, counts.values(), self.frequencies.idfs(terms), strict=True
        ):
            weight = (1 + log(frequency)) * idf
            if weight <= 0:
                continue
            first = term[:1]
            if first == NAME_PREFIX:
                weight *= settings.name_boost
            elif first == NUMBER_PREFIX:
                weight *= settings.number_boost
            elif term in proper:
                weight *= settings.proper_boost
            weights[term] = weight
        kept = heapq.nlargest(settings.vector_terms, weights, key=weights.__getitem__)
        norm = math.sqrt(sum(weights[term] ** 2 for term in kept)) or 1.0
        return {term: weights[term] / norm for term in kept}

    def _analyse(self, report: Report) -> dict[str, float]:
        """The report's vector; kept from ``decide`` for the ``add`` after it."""
        if self._last is not None and self._last[0] is report:
            return self._last[1]
        vector = self._vector(extract(report.title, report.text, self.settings.lead_chars))
        self._last = (report, vector, None)
        return vector

    def _nearest(self, report: Report, vector: dict[str, float]) -> StoryDecision:
        """The best story another feed's report offers, and the stories alike but too far."""
        settings = self.settings
        published = report.published.timestamp()
        window = settings.window.total_seconds()
        feed_id = self._feed_ids.get(report.feed, -1)
        term_ids = self._term_ids
        own = {term_ids[t]: w for t, w in vector.items() if t in term_ids}
        words = {t for t in own if t not in self._numbers}
        shared: Counter[str] = Counter()
        postings = self._postings
        for term in list(own)[: settings.probe_terms]:
            posting = postings.get(term)
            if posting:
                # Postings are in arrival order: the newest are the reports in reach.
                shared.update(posting[-MAX_POSTING_SCAN:])
        best: tuple[float, StoryId | None, str | None] = (0.0, None, None)
        nearest = 0.0  # the best score against the threshold, joined or not
        alike: dict[StoryId, float] = {}
        for key, _count in shared.most_common(settings.max_candidates):
            if key == report.key:
                continue
            entry = self._entries[key]
            gap = abs(entry.published - published)
            if entry.feed == feed_id or gap > window:
                continue
            overlap = 0
            score = 0.0
            for term, weight in zip(entry.terms, entry.weights, strict=True):
                mine = own.get(term)
                if mine is not None:
                    score += mine * weight
                    overlap += term in words
            if overlap < settings.min_shared_terms:
                continue
            effective = score * _closeness(gap, settings)
            nearest = max(nearest, effective)
            if effective >= settings.threshold and not self._story_feeds[entry.story].get(feed_id):
                if effective > best[0]:
                    best = (effective, entry.story, key)
            elif score >= RELATED_FLOOR and score > alike.get(entry.story, 0.0):
                alike[entry.story] = score
        related = tuple(
            sorted(
                ((story, score) for story, score in alike.items() if story != best[1]),
                key=lambda item: -item[1],
            )[:RELATED_KEPT]
        )
        if best[1] is not None:
            return StoryDecision(best[1], "similar", best[0], best[2], related)
        return StoryDecision(None, None, nearest, None, related)


RELATED_FLOOR = 0.08  # a cosine this high: related reading, if not the same event
RELATED_KEPT = 5
# At most this many reports per probe term are counted as candidates: a term in more
# recent reports than this says little about which is the same event, and counting
# all of them made a small vocabulary (benchmarks/farm.py) quadratic.
MAX_POSTING_SCAN = 256
