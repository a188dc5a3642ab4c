"""Which sections an entry belongs to. Pure: no I/O.

Sections come from three places, in this order of trust: the feed's default
category, the entry's own tags matched against category names and aliases
(case, spacing and punctuation folded, so "Us News", "U.S. News" and "us-news"
all mean *US News*), and whole-word keywords in the title and summary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aggregator.config import SectionConfig, fold_label


@dataclass(frozen=True)
class Categorization:
    sections: tuple[str, ...]  # category names, in config order
    tags: tuple[str, ...]  # the entry's tags that named no section


class Categorizer:
    """Built once per config; ``categorize`` is then cheap and thread-safe."""

    def __init__(self, categories: tuple[SectionConfig, ...]) -> None:
        self._order = {category.name: index for index, category in enumerate(categories)}
        self._by_label: dict[str, str] = {}
        for category in categories:
            for label in (category.name, category.slug, *category.aliases):
                self._by_label.setdefault(fold_label(label), category.name)
        # One alternation per category; \b-style guards that also work next to
        # punctuation ("U.N.") and keep "Navy" from matching "Navya".
        self._keyword_patterns: list[tuple[str, re.Pattern[str]]] = []
        for category in categories:
            if category.keywords:
                words = sorted(category.keywords, key=len, reverse=True)
                alternation = "|".join(re.escape(word) for word in words)
                pattern = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", re.IGNORECASE)
                self._keyword_patterns.append((category.name, pattern))

    def section_for_label(self, label: str) -> str | None:
        """Return the category name a tag or label means, or None."""
        return self._by_label.get(fold_label(label))

    def categorize(
        self,
        *,
        title: str,
        summary_text: str,
        tags: tuple[str, ...],
        feed_category: str | None,
    ) -> Categorization:
        """Return the entry's sections and its leftover tags."""
        sections: set[str] = set()
        if feed_category in self._order:
            sections.add(feed_category)
        leftover: list[str] = []
        for tag in tags:
            section = self.section_for_label(tag)
            if section is None:
                leftover.append(tag)
            else:
                sections.add(section)
        text = f"{title}\n{summary_text}"
        for name, pattern in self._keyword_patterns:
            if name not in sections and pattern.search(text):
                sections.add(name)
        ordered = tuple(sorted(sections, key=self._order.__getitem__))
        return Categorization(sections=ordered, tags=tuple(leftover))
