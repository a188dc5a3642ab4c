"""Section rules: tags and labels folded to sections, plain tags kept, keywords found as
whole words. (How a story is filed from its reports: tests/test_sections.py.)"""

from __future__ import annotations

import pytest

from aggregator.config import SectionConfig
from aggregator.process import SectionRules

SECTIONS = (
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
rules = SectionRules(SECTIONS)


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
    assert rules.section_for_label(tag) == section


def test_tags_naming_no_section_are_kept_as_plain_tags() -> None:
    assert rules.leftover_tags(("U.S. News", "Weather", "breaking", "world")) == (
        "Weather",
        "breaking",
    )


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Pentagon budget", {"US Military": ("pentagon",)}),
        ("Navya robotics raises money", {}),  # whole words only
        ("Missiles and the Navy", {"US Military": ("missiles", "navy")}),  # plurals count
        ("U.N. vote on NATO", {"World": ("nato", "u.n.")}),
        ("Garden show", {}),
    ],
)
def test_keywords_are_whole_words(text: str, found: dict[str, tuple[str, ...]]) -> None:
    assert rules.keywords_in(text) == found
