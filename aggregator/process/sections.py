"""Where a story is filed: one section (rarely two) from the evidence of all its reports. Pure.

Precedence, for each report (one vote per source feed):

1. **tags**: the entry's own tags that name a section (by name, slug or alias,
   case and punctuation folded) - the outlet filed this item;
2. **default**: its feed's ``category`` in feeds.yaml - the outlet's usual beat;
3. **keywords**: the section whose keywords the title and text mention most, when
   the report has neither tags nor default.

A feed's default loses to the report's own words when they clearly contradict it:
no keyword of the default section, and at least ``CONTRADICTED_DEFAULT_KEYWORDS``
distinct keywords of one other section (a defense site's default "US Military" on
its article about Japan and the Philippines). Tags are never overruled by keywords.

Then the story: each report's vote weighs ``TAG_WEIGHT``, ``DEFAULT_WEIGHT`` or
``KEYWORD_WEIGHT`` (split between the sections when one report names several), so
several outlets agreeing outweigh one, and one misleading label does not add a
second section. Ties go to the section with more keyword evidence over all reports,
then to the first in feeds.yaml. A second section is added only when it is strongly
supported: named by the tags of at least two feeds.

How far a feed's labels are trusted is set per feed (``labels:`` in feeds.yaml):

- ``trust`` (default): its tags and its default count as above;
- ``ignore_tags``: its tags are not evidence (a feed that tags by desk or by whim);
- ``default_last``: its default counts only when nothing else - no report's tags and
  no keywords - says anything (a general feed with a nominal category);
- ``ignore``: neither; its reports vote by keywords.

Every decision comes with its reasons (tag X from feed Y, default of feed Z, keywords
K) for the story page.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from aggregator.config import fold_label
from aggregator.models import CategoryConfig

LabelTrust = Literal["trust", "ignore_tags", "default_last", "ignore"]
LABEL_TRUST_VALUES: tuple[LabelTrust, ...] = ("trust", "ignore_tags", "default_last", "ignore")
EvidenceKind = Literal["tag", "default", "keywords"]

TAG_WEIGHT = 3.0
DEFAULT_WEIGHT = 2.0
KEYWORD_WEIGHT = 1.0
CONTRADICTED_DEFAULT_KEYWORDS = 2
SECOND_SECTION_TAGGING_FEEDS = 2


@dataclass(frozen=True)
class FeedLabels:
    """What a report's source feed says about sections: its default and how far to trust it."""

    default_section: str | None = None  # a category name
    trust: LabelTrust = "trust"


@dataclass(frozen=True)
class ReportEvidence:
    """One report of a story as filing sees it: plain title and text, the entry's own tags."""

    feed: str
    title: str
    text: str
    tags: tuple[str, ...]
    labels: FeedLabels = FeedLabels()


@dataclass(frozen=True)
class Reason:
    """One piece of evidence: ``kind`` from ``feed`` for ``section``; ``detail`` what it was.

    ``detail`` is the tag as written, the default's name, or the keywords found;
    ``counted`` is False for evidence that was seen but outranked (shown as "not used").
    """

    section: str
    kind: EvidenceKind
    feed: str
    detail: str
    counted: bool = True


@dataclass(frozen=True)
class Filing:
    """The sections a story is filed in (strongest first; usually one) and why."""

    sections: tuple[str, ...]
    reasons: tuple[Reason, ...]


class SectionRules:
    """The sections of a config, ready to match tags and keywords. Built once per config."""

    def __init__(self, categories: Iterable[CategoryConfig]) -> None:
        self.names: tuple[str, ...] = ()
        self._by_label: dict[str, str] = {}
        self._keywords: list[tuple[str, re.Pattern[str]]] = []
        names = []
        for category in categories:
            names.append(category.name)
            for label in (category.name, category.slug, *category.aliases):
                self._by_label.setdefault(fold_label(label), category.name)
            if category.keywords:
                words = sorted(category.keywords, key=len, reverse=True)
                alternation = "|".join(re.escape(word) for word in words)
                # Whole words, a plural s allowed ("troops", "recruits", "storms").
                pattern = re.compile(rf"(?<!\w)(?:{alternation})(?:e?s)?(?!\w)", re.IGNORECASE)
                self._keywords.append((category.name, pattern))
        self.names = tuple(names)

    def section_for_label(self, label: str) -> str | None:
        """The section a tag or label names, or None."""
        return self._by_label.get(fold_label(label))

    def keywords_in(self, text: str) -> dict[str, tuple[str, ...]]:
        """{section -> the distinct keywords of it that ``text`` mentions}, sections with any."""
        found: dict[str, tuple[str, ...]] = {}
        for name, pattern in self._keywords:
            words = sorted({match.group(0).casefold() for match in pattern.finditer(text)})
            if words:
                found[name] = tuple(words)
        return found


@dataclass(frozen=True)
class _Vote:
    sections: tuple[str, ...]
    weight: float


def _keyword_vote(keywords: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    if not keywords:
        return ()
    most = max(len(words) for words in keywords.values())
    return tuple(name for name, words in keywords.items() if len(words) == most)


def _report_vote(
    rules: SectionRules,
    report: ReportEvidence,
    keywords: dict[str, tuple[str, ...]],
    reasons: list[Reason],
) -> _Vote | None:
    """What one report says, by the precedence of the module doc; records the reasons."""
    trust = report.labels.trust
    tagged: list[str] = []
    for tag in report.tags:
        section = rules.section_for_label(tag)
        if section is not None and section not in tagged:
            tagged.append(section)
            reasons.append(
                Reason(section, "tag", report.feed, tag, trust in ("trust", "default_last"))
            )
    if tagged and trust in ("trust", "default_last"):
        return _Vote(tuple(tagged), TAG_WEIGHT)
    default = report.labels.default_section
    if default in rules.names and trust in ("trust", "ignore_tags"):
        others = {name: words for name, words in keywords.items() if name != default}
        strongest = max((len(words) for words in others.values()), default=0)
        contradicted = default not in keywords and strongest >= CONTRADICTED_DEFAULT_KEYWORDS
        reasons.append(Reason(default, "default", report.feed, default, not contradicted))
        if not contradicted:
            return _Vote((default,), DEFAULT_WEIGHT)
    sections = _keyword_vote(keywords)
    for name in sections:
        reasons.append(Reason(name, "keywords", report.feed, ", ".join(keywords[name])))
    return _Vote(sections, KEYWORD_WEIGHT) if sections else None


def file_story(rules: SectionRules, reports: Sequence[ReportEvidence]) -> Filing:
    """Return the sections of a story told by ``reports`` and the reasons; () if none apply.

    Reports of one feed count once (the first of them).
    """
    reasons: list[Reason] = []
    scores: defaultdict[str, float] = defaultdict(float)
    keyword_totals: Counter[str] = Counter()
    tagging_feeds: dict[str, set[str]] = defaultdict(set)
    seen_feeds: set[str] = set()
    fallbacks: list[ReportEvidence] = []
    for report in reports:
        if report.feed in seen_feeds:
            continue
        seen_feeds.add(report.feed)
        keywords = rules.keywords_in(f"{report.title}\n{report.text}")
        for name, words in keywords.items():
            keyword_totals[name] += len(words)
        vote = _report_vote(rules, report, keywords, reasons)
        if vote is None:
            if report.labels.trust == "default_last":
                fallbacks.append(report)
            continue
        if vote.weight == TAG_WEIGHT:
            for name in vote.sections:
                tagging_feeds[name].add(report.feed)
        for name in vote.sections:
            scores[name] += vote.weight / len(vote.sections)
    if not scores:
        for report in fallbacks:
            default = report.labels.default_section
            if default in rules.names:
                reasons.append(Reason(default, "default", report.feed, default))
                scores[default] += DEFAULT_WEIGHT
    if not scores:
        return Filing((), tuple(reasons))
    order = {name: position for position, name in enumerate(rules.names)}
    ranked = sorted(scores, key=lambda name: (-scores[name], -keyword_totals[name], order[name]))
    sections = [ranked[0]]
    sections += [
        name for name in ranked[1:2] if len(tagging_feeds[name]) >= SECOND_SECTION_TAGGING_FEEDS
    ]
    used = set(sections)
    return Filing(
        tuple(sections),
        tuple(
            reason if reason.section in used or not reason.counted else _not_used(reason)
            for reason in reasons
        ),
    )


def _not_used(reason: Reason) -> Reason:
    return Reason(reason.section, reason.kind, reason.feed, reason.detail, counted=False)
