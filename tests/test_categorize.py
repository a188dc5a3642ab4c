"""Sections from the feed default, folded tags and whole-word keywords."""

from __future__ import annotations

import pytest

from aggregator.config import SectionConfig
from aggregator.process import Categorizer

CATEGORIES = (
    SectionConfig(
        name="US Military",
        slug="us-military",
        aliases=("Us Military", "Military", "Defense"),
        keywords=("Pentagon", "Navy", "missile"),
    ),
    SectionConfig(name="US News", slug="us-news", aliases=("Us News", "U.S. News")),
    SectionConfig(
        name="World", slug="world", aliases=("International",), keywords=("U.N.", "NATO")
    ),
)
categorizer = Categorizer(CATEGORIES)


@pytest.mark.parametrize(
    ("tag", "section"),
    [
        ("Us News", "US News"),
        ("U.S. News", "US News"),
        ("us-news", "US News"),
        ("US NEWS", "US News"),
        ("  us   news ", "US News"),
        ("US MILITARY", "US Military"),
        ("defense", "US Military"),
        ("international", "World"),
        ("Local", None),
    ],
)
def test_tags_fold_to_sections(tag: str, section: str | None) -> None:
    assert categorizer.section_for_label(tag) == section


@pytest.mark.parametrize(
    ("title", "tags", "feed_category", "sections", "leftover"),
    [
        ("Storm hits coast", ("U.S. News", "Weather"), None, ("US News",), ("Weather",)),
        ("Pentagon budget", (), None, ("US Military",), ()),
        ("Navya robotics raises money", (), None, (), ()),  # whole words only
        ("Missile test", ("world",), None, ("US Military", "World"), ()),
        ("Quiet day", (), "US News", ("US News",), ()),
        ("U.N. vote on NATO", (), None, ("World",), ()),
        ("Garden show", ("breaking",), None, (), ("breaking",)),
    ],
)
def test_categorize(
    title: str,
    tags: tuple[str, ...],
    feed_category: str | None,
    sections: tuple[str, ...],
    leftover: tuple[str, ...],
) -> None:
    result = categorizer.categorize(
        title=title, summary_text="", tags=tags, feed_category=feed_category
    )
    assert result.sections == sections
    assert result.tags == leftover


def test_keywords_in_summary_count() -> None:
    result = categorizer.categorize(
        title="Ship returns",
        summary_text="The Navy said the crew is safe.",
        tags=(),
        feed_category=None,
    )
    assert result.sections == ("US Military",)
