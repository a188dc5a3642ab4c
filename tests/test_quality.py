"""Quality floors of story grouping and filing on labeled newsrooms (benchmarks/quality.py).

Deterministic: the pure code is fed each file in both arrival orders, and the real
pipeline (feed files polled into SQLite by an Aggregator, one worker) polls them. The
floors are what the code reaches today, so a change that loses quality fails here;
run ``python benchmarks/quality.py`` to see the whole table.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import quality
from tests.conftest import require_shared

DATA = Path(__file__).resolve().parent / "data" / "newsroom"


def floor_check(path: Path, order: str) -> quality.Quality:
    return quality.evaluate(quality.load_scenario(path), order)


@pytest.mark.parametrize("order", ["poll", "time"])
def test_dev_newsroom_meets_the_goals(order: str) -> None:
    result = floor_check(require_shared("fixtures/newsroom-dev.json"), order)
    assert result.precision >= 0.98
    assert result.recall >= 0.95
    assert result.exact_shown_twice == 0
    assert result.worded_separate <= 0.05 * result.worded_total
    assert result.near_misses_merged == 0
    assert result.in_true_section >= 0.97
    assert result.wrong_sections_per_story <= 0.05


@pytest.mark.parametrize("order", ["poll", "time"])
def test_alt_newsroom_floor(order: str) -> None:
    # Harder than dev: 12 of its 20 near-miss pairs fall inside the 72 h window.
    result = floor_check(DATA / "newsroom-alt.json", order)
    assert result.precision >= 0.99
    assert result.recall >= 0.98
    assert result.exact_shown_twice == 0
    assert result.worded_separate <= 0.02 * result.worded_total
    assert result.near_misses_merged == 0
    assert result.in_true_section >= 0.97
    assert result.wrong_sections_per_story <= 0.03


@pytest.mark.parametrize("order", ["poll", "time", "restart"])
def test_alt_newsroom_through_the_pipeline(order: str) -> None:
    """The same measures on what the pipeline stored: feeds in each outlet's format,
    parsed, sanitized, matched and filed by the writer, read back from SQLite; in
    ``restart`` each poll is a new process, its story index loaded from the database."""
    result = quality.evaluate_pipeline(quality.load_scenario(DATA / "newsroom-alt.json"), order)
    assert result.precision >= 0.98
    assert result.recall >= 0.95
    assert result.exact_shown_twice == 0
    assert result.worded_separate <= 0.03 * result.worded_total
    assert result.near_misses_merged == 0
    assert result.in_true_section >= 0.97
    assert result.wrong_sections_per_story <= 0.03


def test_dev_newsroom_through_the_pipeline() -> None:
    scenario = quality.load_scenario(require_shared("fixtures/newsroom-dev.json"))
    result = quality.evaluate_pipeline(scenario, "poll")
    assert (result.precision, result.recall) == (1.0, 1.0)
    assert result.exact_shown_twice == result.worded_separate == result.near_misses_merged == 0
    assert result.in_true_section == 1.0 and result.wrong_sections_per_story == 0


@pytest.mark.parametrize("order", ["poll", "time"])
def test_mini_newsroom_floor(order: str) -> None:
    result = quality.evaluate_pipeline(quality.load_scenario(DATA / "newsroom-mini.json"), order)
    assert (result.precision, result.recall) == (1.0, 1.0)
    assert result.exact_shown_twice == 0
    assert result.worded_separate == 0
    assert result.near_misses_merged == 0
    # m02 has no evidence at all: a NATIONAL desk tag, no default, no keyword.
    assert result.in_true_section >= 0.9
    assert result.wrong_sections_per_story == 0


def test_measure_reads_plain_mappings() -> None:
    """The measures take {report key -> cluster} and {report key -> slugs}, from anywhere."""
    scenario = quality.load_scenario(DATA / "newsroom-mini.json")
    truth = quality.true_stories(scenario)
    sections = quality.true_sections(scenario)
    perfect = quality.measure(scenario, truth, {key: {sections[s]} for key, s in truth.items()})
    assert (perfect.precision, perfect.recall, perfect.in_true_section) == (1.0, 1.0, 1.0)
    assert perfect.wrong_sections_per_story == 0
    apart = quality.measure(scenario, {key: key for key in truth}, {key: set() for key in truth})
    assert apart.recall == 0 and apart.worded_separate == apart.worded_total > 0
    assert apart.exact_shown_twice == apart.exact_total > 0


@pytest.mark.parametrize("order", ["poll", "restart"])
def test_holdout_newsroom_through_the_pipeline(order: str) -> None:
    """A set written apart from the rules and never tuned on (how they generalise):
    stories as well as on the others; its sections are harder (labels that disagree
    with the story, stories no evidence names)."""
    scenario = quality.load_scenario(DATA / "newsroom-holdout.json")
    result = quality.evaluate_pipeline(scenario, order)
    assert result.precision >= 0.99 and result.recall >= 0.98
    assert result.exact_shown_twice == result.near_misses_merged == 0
    assert result.worded_separate <= 0.02 * result.worded_total
    assert result.in_true_section >= 0.8 and result.wrong_sections_per_story <= 0.11


def test_a_labeled_file_from_elsewhere_is_measured() -> None:
    """A labeled set written by someone else may leave optional keys out (no tags, no
    summary, no default, no aliases or keywords, no near misses) or name a feed format
    this harness does not render: it is still measured, the unknown format served as
    RSS 2.0."""
    scenario = quality.load_scenario(DATA / "newsroom-mini.json")
    del scenario["near_misses"]
    for category in scenario["categories"]:
        del category["aliases"]
    for outlet in scenario["outlets"]:
        outlet.pop("default_category")
        outlet["format"] = "rss0.92"
    for story in scenario["stories"]:
        for variant in story["variants"]:
            del variant["tags"], variant["summary"]
    result = quality.evaluate_pipeline(scenario, "poll")
    assert (result.precision, result.recall) == (1.0, 1.0)
    assert result.near_misses_total == 0
    # Keywords alone still file most of the mini newsroom's stories.
    assert result.in_true_section >= 0.5
