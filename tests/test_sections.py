"""Where a story is filed: the precedence of aggregator.process.sections, case by case."""

from __future__ import annotations

import pytest

from aggregator.config import SectionConfig, slugify
from aggregator.process._sections import (
    FeedLabels,
    Reason,
    ReportEvidence,
    SectionRules,
    file_story,
)


def category(name: str, aliases: tuple[str, ...], keywords: tuple[str, ...]) -> SectionConfig:
    return SectionConfig(name=name, slug=slugify(name), aliases=aliases, keywords=keywords)


RULES = SectionRules(
    [
        category("US Military", ("Military", "Defense"), ("Pentagon", "Navy", "troops", "base")),
        category("US News", ("Us News", "National News"), ("storm", "wildfire", "evacuations")),
        category("World", ("International", "World News"), ("Japan", "Philippines", "China")),
        category("Politics", ("Elections",), ("Senate", "reelection", "governor", "vote")),
        category("Crime", ("Courts",), ("jury", "prison", "prosecutors", "arrested")),
    ]
)


def evidence(
    feed: str,
    title: str = "Something happened",
    text: str = "",
    tags: tuple[str, ...] = (),
    default: str | None = None,
    trust: str = "trust",
) -> ReportEvidence:
    return ReportEvidence(
        feed=feed,
        title=title,
        text=text,
        tags=tags,
        labels=FeedLabels(default_section=default, trust=trust),  # type: ignore[arg-type]
    )


def test_tags_name_sections_by_name_slug_or_alias_folded() -> None:
    for tag in ("US MILITARY", "us-military", "Defense", "military"):
        assert RULES.section_for_label(tag) == "US Military"
    assert RULES.section_for_label("Defence") is None  # another spelling is another label


def test_the_entrys_own_tag_outranks_its_feeds_default() -> None:
    filing = file_story(RULES, [evidence("capitol", tags=("Courts",), default="Politics")])
    assert filing.sections == ("Crime",)
    assert Reason("Crime", "tag", "capitol", "Courts") in filing.reasons


def test_the_default_applies_when_the_entry_has_no_section_tag() -> None:
    filing = file_story(RULES, [evidence("ledger", tags=("Readiness",), default="US Military")])
    assert filing.sections == ("US Military",)
    assert filing.reasons == (Reason("US Military", "default", "ledger", "US Military"),)


def test_keywords_decide_only_where_tags_and_default_say_nothing() -> None:
    text = "A wildfire forced evacuations; a storm is coming. The governor spoke."
    assert file_story(RULES, [evidence("daily", text=text)]).sections == ("US News",)
    tagged = file_story(RULES, [evidence("daily", text=text, tags=("Elections",))])
    assert tagged.sections == ("Politics",)


def test_a_headline_keyword_breaks_a_tie() -> None:
    filing = file_story(
        RULES, [evidence("daily", title="Earthquake shakes Japan", text="A storm cut power.")]
    )
    assert filing.sections == ("World",)


def test_a_misleading_default_loses_to_what_the_report_says() -> None:
    filing = file_story(
        RULES,
        [
            evidence(
                "ledger",
                title="Japan, Philippines expand defense pact",
                text="Japan and the Philippines will hold larger drills; China objected.",
                default="US Military",
            )
        ],
    )
    assert filing.sections == ("World",)
    assert Reason("US Military", "default", "ledger", "US Military", counted=False) in (
        filing.reasons
    )


def test_a_tag_stands_unless_the_headline_and_text_clearly_say_otherwise() -> None:
    weak = evidence(
        "tv", title="Senator retires", text="He chaired a committee.", tags=("Defense",)
    )
    assert file_story(RULES, [weak]).sections == ("US Military",)
    clear = evidence(
        "tv",
        title="Senate chairman won't seek reelection",
        text="The Senate veteran said the vote in 2028 is open.",
        tags=("Defense",),
    )
    filing = file_story(RULES, [clear])
    assert filing.sections == ("Politics",)
    assert Reason("US Military", "tag", "tv", "Defense", counted=False) in filing.reasons


def test_several_outlets_agreeing_outweigh_one_label() -> None:
    filing = file_story(
        RULES,
        [
            evidence("wire", tags=("INTERNATIONAL",)),
            evidence("tv", tags=("world-news",)),
            evidence("local", tags=("Military",)),
            evidence("ledger", default="US Military"),
        ],
    )
    assert filing.sections == ("World",)
    not_used = {(r.feed, r.section) for r in filing.reasons if not r.counted}
    assert not_used == {("local", "US Military"), ("ledger", "US Military")}


def test_two_defaults_outweigh_one_tag() -> None:
    filing = file_story(
        RULES,
        [
            evidence("a", default="US News"),
            evidence("b", default="US News"),
            evidence("c", tags=("Courts",)),
        ],
    )
    assert filing.sections == ("US News",)


def test_a_second_section_needs_the_tags_of_two_feeds() -> None:
    one = [evidence("a", tags=("Politics",)), evidence("b", tags=("Politics", "Military"))]
    assert file_story(RULES, one).sections == ("Politics",)
    two = [*one, evidence("c", tags=("Military",)), evidence("d", tags=("Politics",))]
    assert file_story(RULES, two).sections == ("Politics", "US Military")


def test_reports_of_one_feed_vote_once() -> None:
    filing = file_story(
        RULES,
        [
            evidence("wire", tags=("Courts",)),
            evidence("local", tags=("Us News",)),
            evidence("local", tags=("Us News",)),
        ],
    )
    assert len({r.feed for r in filing.reasons if r.section == "US News"}) == 1


def test_a_feed_with_ignored_tags_votes_with_its_default() -> None:
    filing = file_story(
        RULES, [evidence("desk", tags=("Elections",), default="US News", trust="ignore_tags")]
    )
    assert filing.sections == ("US News",)
    assert Reason("Politics", "tag", "desk", "Elections", counted=False) in filing.reasons


def test_a_default_last_feed_counts_its_default_only_when_nothing_else_does() -> None:
    general = evidence("general", default="US News", trust="default_last")
    assert file_story(RULES, [general]).sections == ("US News",)
    others = [general, evidence("daily", text="Prosecutors said the jury convicted him.")]
    assert file_story(RULES, others).sections == ("Crime",)


def test_an_ignored_feed_votes_by_keywords_only() -> None:
    filing = file_story(
        RULES,
        [
            evidence(
                "noisy",
                text="The Pentagon sent troops.",
                tags=("Elections",),
                default="US News",
                trust="ignore",
            )
        ],
    )
    assert filing.sections == ("US Military",)
    assert filing.reasons[-1] == Reason("US Military", "keywords", "noisy", "pentagon, troops")


def test_no_evidence_files_nowhere() -> None:
    assert file_story(RULES, [evidence("x", tags=("NATIONAL",))]).sections == ()


@pytest.mark.parametrize("word", ["troops", "bases", "storms", "Navy's"])
def test_keywords_match_whole_words_and_plurals(word: str) -> None:
    found = RULES.keywords_in(f"We saw {word} today.")
    assert found, word
    assert not RULES.keywords_in("Navya and baseball")
