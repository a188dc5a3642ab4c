"""Where a story is filed: one section (rarely two) from the evidence of all its reports. Pure.

Precedence, for each report (one vote per source feed):

1. **tags**: the entry's own tags that name a section (by name, slug or alias,
   case and punctuation folded) - the outlet filed this item;
2. **default**: its feed's ``category`` in feeds.yaml - the outlet's usual beat;
3. **keywords**: the section whose keywords the title and text mention most, when
   the report has neither tags nor default.

A label loses to the report's own words when they clearly contradict it: another
section's keywords are in the headline and score ``CONTRADICTED_DEFAULT`` (for a
feed's default) or ``CONTRADICTED_TAG`` (for a tag) more than the label's section
(a keyword scores 1, 2 when in the headline). A defense site's default "US Military"
on its article about Japan and the Philippines; a TV desk's "us-military" on a
senator's retirement. Measured on dev and alt: tag margins 2-4 and default margins
1-3 give the same filings; the tag rule fixes two dev stories and breaks one alt
story (a foreign election in a country no World keyword names).

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

from aggregator.config import SectionConfig, fold_label

LabelTrust = Literal["trust", "ignore_tags", "default_last", "ignore"]
LABEL_TRUST_VALUES: tuple[LabelTrust, ...] = ("trust", "ignore_tags", "default_last", "ignore")
EvidenceKind = Literal["tag", "default", "keywords"]

TAG_WEIGHT = 3.0
DEFAULT_WEIGHT = 2.0
KEYWORD_WEIGHT = 1.0
# How far ahead (in keyword score) another section must be to overrule a label.
CONTRADICTED_DEFAULT = 2
CONTRADICTED_TAG = 3
SECOND_SECTION_TAGGING_FEEDS = 2


@dataclass(frozen=True)
class FeedLabels:
    """What a report's source feed says about sections: its default and how far to trust it."""

    default_section: str | None = None  # a section name
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

    def __init__(self, sections: Iterable[SectionConfig]) -> None:
        self.names: tuple[str, ...] = ()
        self._by_label: dict[str, str] = {}
        self._keywords: list[tuple[str, re.Pattern[str]]] = []
        names = []
        for section in sections:
            names.append(section.name)
            for label in (section.name, section.slug, *section.aliases):
                self._by_label.setdefault(fold_label(label), section.name)
            if section.keywords:
                words = sorted(section.keywords, key=len, reverse=True)
                alternation = "|".join(re.escape(word) for word in words)
                # Whole words, a plural s allowed ("troops", "recruits", "storms").
                pattern = re.compile(rf"(?<!\w)(?:{alternation})(?:e?s)?(?!\w)", re.IGNORECASE)
                self._keywords.append((section.name, pattern))
        self.names = tuple(names)

    def section_for_label(self, label: str) -> str | None:
        """The section a tag or label names, or None."""
        return self._by_label.get(fold_label(label))

    def leftover_tags(self, tags: Iterable[str]) -> tuple[str, ...]:
        """The tags that name no section (kept as plain tags of the entry)."""
        return tuple(tag for tag in tags if self.section_for_label(tag) is None)

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


@dataclass(frozen=True)
class _Keywords:
    """The keywords of each section one report mentions: in its text, and in its title."""

    found: dict[str, tuple[str, ...]]
    in_title: dict[str, tuple[str, ...]]

    def score(self, section: str) -> int:
        # A headline keyword counts twice: the headline says what the story is.
        return len(self.found.get(section, ())) + len(self.in_title.get(section, ()))

    def strongest(self) -> tuple[str, ...]:
        """The sections with the best score (several on a tie), or ()."""
        if not self.found:
            return ()
        best = max(self.score(name) for name in self.found)
        return tuple(name for name in self.found if self.score(name) == best)

    def contradicts(self, section: str, margin: int) -> str | None:
        """Another section the report's own words clearly favour over ``section``, or None.

        Clearly: named in the headline, and ``margin`` points ahead (see the module doc).
        """
        for name in self.strongest():
            ahead = self.score(name) >= self.score(section) + margin
            if name != section and self.in_title.get(name) and ahead:
                return name
        return None


def _report_vote(
    rules: SectionRules,
    report: ReportEvidence,
    keywords: _Keywords,
    reasons: list[Reason],
) -> _Vote | None:
    """What one report says, by the precedence of the module doc; records the reasons."""
    trust = report.labels.trust
    tags_count = trust in ("trust", "default_last")
    tagged: list[str] = []
    for tag in report.tags:
        section = rules.section_for_label(tag)
        if section is not None and section not in tagged:
            tagged.append(section)
            reasons.append(Reason(section, "tag", report.feed, tag, tags_count))
    if tags_count:
        kept = [name for name in tagged if not keywords.contradicts(name, CONTRADICTED_TAG)]
        _mark_overruled(reasons, report.feed, "tag", set(tagged) - set(kept))
        if kept:
            return _Vote(tuple(kept), TAG_WEIGHT)
    default = report.labels.default_section
    if default in rules.names and trust in ("trust", "ignore_tags"):
        contradicted = keywords.contradicts(default, CONTRADICTED_DEFAULT) is not None
        reasons.append(Reason(default, "default", report.feed, default, not contradicted))
        if not contradicted:
            return _Vote((default,), DEFAULT_WEIGHT)
    sections = keywords.strongest()
    for name in sections:
        reasons.append(Reason(name, "keywords", report.feed, ", ".join(keywords.found[name])))
    return _Vote(sections, KEYWORD_WEIGHT) if sections else None


def _mark_overruled(reasons: list[Reason], feed: str, kind: str, sections: set[str]) -> None:
    for position, reason in enumerate(reasons):
        if reason.feed == feed and reason.kind == kind and reason.section in sections:
            reasons[position] = _not_used(reason)


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
        keywords = _Keywords(
            rules.keywords_in(f"{report.title}\n{report.text}"), rules.keywords_in(report.title)
        )
        for name in keywords.found:
            keyword_totals[name] += keywords.score(name)
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
