"""The labeled newsroom scenario, served as real feeds in each outlet's format.

Exact duplicates (same canonical URL, verbatim wire text) must become one story,
updated items must change in place, and each story should land in its true
section: the accuracy is printed (run with -s to see it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from aggregator.config import Config, FeedConfig, PollingConfig, SectionConfig, slugify
from aggregator.core import Aggregator
from aggregator.process import canonical_url
from aggregator.storage import Storage, schema
from tests.clock import FixedClock
from tests.conftest import MakeAggregator, require_shared
from tests.httpserver import FeedServer
from tests.newsroom import CONTENT_TYPES, load_scenario, render, variants_by_outlet


@pytest.fixture(scope="module")
def scenario() -> dict[str, Any]:
    return load_scenario(require_shared("fixtures/newsroom-dev.json"))


def scenario_config(scenario: dict[str, Any], server: FeedServer) -> Config:
    categories = tuple(
        SectionConfig(
            name=c["name"],
            slug=slugify(c["name"]),
            aliases=tuple(c["aliases"]),
            keywords=tuple(c["keywords"]),
        )
        for c in scenario["categories"]
    )
    feeds = tuple(
        FeedConfig(url=server.url(f"/{o['id']}"), title=o["title"], section=o["default_category"])
        for o in scenario["outlets"]
    )
    return Config(
        path="newsroom.yaml",
        polling=PollingConfig(allow_private_networks=True, host_spacing_seconds=0),
        sections=categories,
        feeds=feeds,
    )


def serve_outlets(server: FeedServer, scenario: dict[str, Any], *, with_updates: bool) -> None:
    items = variants_by_outlet(scenario, with_updates=with_updates)
    for outlet in scenario["outlets"]:
        body = render(outlet, items[outlet["id"]])
        etag = '"v2"' if with_updates else '"v1"'
        server.route(
            f"/{outlet['id']}",
            FeedServer.feed(
                body, content_type=CONTENT_TYPES[outlet["format"]], etag=etag, last_modified=None
            ),
        )


def poll(aggregator: Aggregator) -> None:
    summary = aggregator.update_feeds()
    failed = [o for o in summary.outcomes if o.status == "failed"]
    assert not failed, failed


@pytest.fixture
def polled(
    scenario: dict[str, Any], storage: Storage, make_aggregator: MakeAggregator
) -> Iterator[dict[tuple[str, str], Any]]:
    """Poll every outlet twice (first versions, then updates); return rows by (outlet, guid)."""
    with FeedServer() as server:
        # The scenario's clock, given to everything the polls drive.
        clock = FixedClock(datetime(2026, 11, 30, tzinfo=UTC))
        aggregator = make_aggregator(scenario_config(scenario, server), clock=clock)
        serve_outlets(server, scenario, with_updates=False)
        poll(aggregator)
        serve_outlets(server, scenario, with_updates=True)
        clock.advance(timedelta(hours=1))
        poll(aggregator)
        outlet_of = {server.url(f"/{o['id']}"): o["id"] for o in scenario["outlets"]}
        with storage.read() as conn:
            rows = conn.execute(
                select(schema.entries, schema.feeds.c.url.label("feed_url")).join(schema.feeds)
            ).all()
            sections: dict[int, set[str]] = defaultdict(set)
            for entry_id, section in conn.execute(
                select(schema.entry_sections.c.entry_id, schema.entry_sections.c.section)
            ):
                sections[entry_id].add(section)
        yield {
            (outlet_of[row.feed_url], row.guid): {"row": row, "sections": sections[row.id]}
            for row in rows
        }


def latest_variants(
    scenario: dict[str, Any],
) -> dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]]:
    latest: dict[tuple[str, str], tuple[dict[str, Any], dict[str, Any]]] = {}
    for story in scenario["stories"]:
        for variant in story["variants"]:
            latest[(variant["outlet"], variant["guid"])] = (story, variant)
    return latest


def test_every_item_stored_once_and_updates_change_in_place(
    scenario: dict[str, Any], polled: dict[tuple[str, str], Any]
) -> None:
    expected = latest_variants(scenario)
    assert set(polled) == set(expected)
    for key, (_story, variant) in expected.items():
        assert polled[key]["row"].title == variant["title"], key


def test_exact_duplicates_are_one_story(
    scenario: dict[str, Any], polled: dict[tuple[str, str], Any]
) -> None:
    expected = latest_variants(scenario)
    exact_pairs = 0
    for story in scenario["stories"]:
        variants = [v for v in story["variants"] if expected[(v["outlet"], v["guid"])][1] is v]
        for i, a in enumerate(variants):
            for b in variants[i + 1 :]:
                same_url = canonical_url(a["url"]) == canonical_url(b["url"])
                verbatim = a["title"] == b["title"] and a["content_html"] == b["content_html"]
                if same_url or verbatim:
                    exact_pairs += 1
                    story_a = polled[(a["outlet"], a["guid"])]["row"].story_id
                    story_b = polled[(b["outlet"], b["guid"])]["row"].story_id
                    assert story_a == story_b, (story["id"], a["url"], b["url"])
    assert exact_pairs >= 5  # the scenario has wire copies and reposts to find
    print(f"\nexact duplicate pairs merged: {exact_pairs}")


def test_story_clustering_precision_and_recall(
    scenario: dict[str, Any], polled: dict[tuple[str, str], Any]
) -> None:
    """Pairs of items in one story: how many we merged, by URL, by text and by wording."""
    expected = latest_variants(scenario)
    keys = sorted(polled)
    true_pairs = merged_pairs = correct = 0
    for i, a in enumerate(keys):
        for b in keys[i + 1 :]:
            same_story = expected[a][0]["id"] == expected[b][0]["id"]
            merged = polled[a]["row"].story_id == polled[b]["row"].story_id
            true_pairs += same_story
            merged_pairs += merged
            correct += same_story and merged
    precision = correct / merged_pairs if merged_pairs else 1.0
    print(
        f"\nstory pairs: precision {correct}/{merged_pairs} = {precision:.1%}, "
        f"recall {correct}/{true_pairs} = {correct / true_pairs:.1%}"
    )
    assert precision == 1.0
    assert correct / true_pairs >= 0.9


def test_differently_worded_reports_are_one_story(
    scenario: dict[str, Any], polled: dict[tuple[str, str], Any]
) -> None:
    """Reports of one event in other words (no shared URL or text) joined by wording."""
    expected = latest_variants(scenario)
    worded = merged = 0
    for story in scenario["stories"]:
        variants = [v for v in story["variants"] if expected[(v["outlet"], v["guid"])][1] is v]
        for i, a in enumerate(variants):
            for b in variants[i + 1 :]:
                if canonical_url(a["url"]) == canonical_url(b["url"]) or a["title"] == b["title"]:
                    continue
                worded += 1
                rows = (
                    polled[(a["outlet"], a["guid"])]["row"],
                    polled[(b["outlet"], b["guid"])]["row"],
                )
                merged += rows[0].story_id == rows[1].story_id
                if rows[0].story_id == rows[1].story_id:
                    # Each joined by a rule the story page can show.
                    assert {rows[0].story_rule, rows[1].story_rule} & {"similar", "first"}
    assert worded >= 20  # the scenario tells most stories in several outlets' words
    assert merged >= 0.95 * worded, (merged, worded)


def test_different_stories_never_share_a_story(
    scenario: dict[str, Any], polled: dict[tuple[str, str], Any]
) -> None:
    expected = latest_variants(scenario)
    stories_of_cluster: dict[int, set[str]] = defaultdict(set)
    for key, value in polled.items():
        stories_of_cluster[value["row"].story_id].add(expected[key][0]["id"])
    merged_wrongly = {cluster: ids for cluster, ids in stories_of_cluster.items() if len(ids) > 1}
    assert not merged_wrongly


def test_section_accuracy(scenario: dict[str, Any], polled: dict[tuple[str, str], Any]) -> None:
    expected = latest_variants(scenario)
    hits = exact = extra = 0
    misses = []
    for key, value in polled.items():
        true_slug = slugify(expected[key][0]["category"])
        if true_slug in value["sections"]:
            hits += 1
            if value["sections"] == {true_slug}:
                exact += 1
            else:
                extra += 1
        else:
            misses.append((key, true_slug, sorted(value["sections"])))
    total = len(polled)
    accuracy = hits / total
    assigned = sum(len(value["sections"]) for value in polled.values())
    print(
        f"\nsection accuracy: {hits}/{total} = {accuracy:.1%} items in their true section; "
        f"{exact} in it alone, {extra} also in another; {len(misses)} missed"
    )
    print(
        f"section precision {hits}/{assigned} = {hits / assigned:.1%} of assigned sections "
        f"are true; recall {accuracy:.1%}"
    )
    for miss in misses:
        print("  missed:", miss)
    assert accuracy >= 0.8
