"""Round trip: the labeled newsroom scenario (shared/fixtures/newsroom-dev.json) is
served as real feeds, polled through the whole pipeline, republished, and the merged
feeds are parsed back and walked page by page (rel="next" / next_url)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import pytest
from flask.testing import FlaskClient

from aggregator.config import Config, OutputConfig, PublishConfig, SiteConfig, slugify
from aggregator.publish import FORMATS, outputs_of, plain_line, story_id_uri, story_matches
from aggregator.storage import Storage
from aggregator.types import StoryView
from aggregator.web import create_app
from tests.clock import FixedClock
from tests.conftest import MakeAggregator, require_shared
from tests.httpserver import FeedServer
from tests.newsroom import load_scenario
from tests.test_newsroom import latest_variants, poll, scenario_config, serve_outlets
from tests.test_publish import check_output, entries_of

SITE = SiteConfig(title="Newsroom", base_url="https://news.example.org")
PAGE_SIZE = 7
CUSTOM = OutputConfig(
    name="ships-and-storms",
    title="Ships and storms",
    include=("Navy", "ship", "storm"),
    exclude=("Congress",),
)


@dataclass
class Published:
    scenario: dict[str, Any]
    config: Config
    storage: Storage
    client: FlaskClient
    outlet_of: dict[str, dict[str, Any]]  # feed URL -> outlet
    stories: list[StoryView]  # every stored story, newest first


@pytest.fixture(scope="module")
def scenario() -> dict[str, Any]:
    return load_scenario(require_shared("fixtures/newsroom-dev.json"))


@pytest.fixture
def published(
    scenario: dict[str, Any], storage: Storage, make_aggregator: MakeAggregator
) -> Iterator[Published]:
    with FeedServer() as server:
        config = replace(
            scenario_config(scenario, server),
            site=SITE,
            publish=PublishConfig(page_size=PAGE_SIZE),
        )
        config = replace(config, outputs=(CUSTOM,))
        clock = FixedClock(datetime(2026, 11, 30, tzinfo=UTC))
        aggregator = make_aggregator(config, clock=clock)
        serve_outlets(server, scenario, with_updates=False)
        poll(aggregator)
        serve_outlets(server, scenario, with_updates=True)
        clock.advance(timedelta(hours=1))
        poll(aggregator)
        client = create_app(aggregator).test_client()
        stories = list(storage.list_stories(limit=10_000).stories)
        outlet_of = {server.url(f"/{o['id']}"): o for o in scenario["outlets"]}
        yield Published(scenario, config, storage, client, outlet_of, stories)


def next_url(fmt: str, body: bytes) -> str | None:
    if fmt == "json":
        url = json.loads(body).get("next_url")
    else:
        links = feedparser.parse(body).feed.get("links", [])
        url = next((link["href"] for link in links if link.get("rel") == "next"), None)
    return url.removeprefix(SITE.base_url) if url else None


def walk(client: FlaskClient, path: str, fmt: str) -> list[dict[str, Any]]:
    """Every entry of an output, following next links from the newest page."""
    entries: list[dict[str, Any]] = []
    url: str | None = path
    pages = 0
    while url:
        response = client.get(url)
        assert response.status_code == 200, url
        check_output(fmt, response.data)
        page = entries_of(fmt, response.data)
        assert len(page) <= PAGE_SIZE
        entries.extend(page)
        url = next_url(fmt, response.data)
        pages += 1
        assert pages < 1000
    return entries


def ids(stories: list[StoryView]) -> list[str]:
    return [story_id_uri(SITE, story.id) for story in stories]


@pytest.mark.parametrize("fmt", FORMATS)
def test_walking_every_output_returns_each_story_once(published: Published, fmt: str) -> None:
    everything = walk(published.client, f"/feeds/all.{fmt}", fmt)
    assert [entry["id"] for entry in everything] == ids(published.stories)
    assert len(published.stories) > 3 * PAGE_SIZE  # several pages were walked
    for category in published.config.sections:
        walked = walk(published.client, f"/feeds/{category.slug}.{fmt}", fmt)
        expected = [s for s in published.stories if category.slug in s.sections]
        assert [entry["id"] for entry in walked] == ids(expected), category.slug
    output = outputs_of(published.config)[CUSTOM.name]
    walked = walk(published.client, f"/feeds/{CUSTOM.name}.{fmt}", fmt)
    expected = [s for s in published.stories if story_matches(output, s)]
    assert 0 < len(expected) < len(published.stories)
    assert [entry["id"] for entry in walked] == ids(expected)


def test_every_item_is_in_one_story_with_its_sources(published: Published) -> None:
    items = walk(published.client, "/feeds/all.json", "json")
    by_id = {story_id_uri(SITE, story.id): story for story in published.stories}
    reported: Counter[str] = Counter()
    for item in items:
        story = by_id[item["id"]]
        extension = item["_aggregator"]
        outlets = [extension["source"]["title"]] + [
            other["feed_title"] for other in extension.get("also_reported_by", [])
        ]
        assert outlets == [e.feed_title for e in (story.lead, *story.others)]
        assert extension["source"]["feed_url"] == story.lead.feed_url
        assert item["title"] == plain_line(story.lead.title, 300)
        reported.update(
            published.outlet_of[e.feed_url]["title"] for e in (story.lead, *story.others)
        )
    # Every item of the scenario (latest versions) is reported exactly once.
    expected = Counter(
        next(o["title"] for o in published.scenario["outlets"] if o["id"] == outlet)
        for outlet, _guid in latest_variants(published.scenario)
    )
    assert reported == expected


def test_atom_and_rss_carry_sources_and_related_links(published: Published) -> None:
    by_id = {story_id_uri(SITE, story.id): story for story in published.stories}
    atom = walk(published.client, "/feeds/all.atom", "atom")
    multi = 0
    for entry in atom:
        story = by_id[entry["id"]]
        source = entry["source"]
        assert source["id"] == story.lead.feed_url
        assert source["title"] == story.lead.feed_title
        assert {"rel": "self", "href": story.lead.feed_url} in [
            {"rel": link["rel"], "href": link["href"]} for link in source["links"]
        ]
        related = {link["href"] for link in entry["links"] if link["rel"] == "related"}
        assert related <= {other.link for other in story.others}
        if story.others:
            multi += 1
            assert "Also reported by" in entry["content"][0]["value"]
            for other in story.others:
                assert other.feed_title in entry["content"][0]["value"]
    assert multi >= 5  # the scenario's wire copies and reposts
    rss = walk(published.client, "/feeds/all.rss", "rss")
    for item in rss:
        assert item["source"]["href"] == by_id[item["id"]].lead.feed_url


def test_stories_land_in_their_true_sections(published: Published) -> None:
    expected = latest_variants(published.scenario)
    story_of_item: dict[tuple[str, str], int] = {}
    for story in published.stories:
        for entry in (story.lead, *story.others):
            outlet = published.outlet_of[entry.feed_url]["id"]
            story_of_item[(outlet, entry.guid or "")] = story.id
    in_section: dict[str, set[str]] = defaultdict(set)
    for category in published.config.sections:
        for entry in walk(published.client, f"/feeds/{category.slug}.atom", "atom"):
            in_section[category.slug].add(entry["id"])
    hits = total = 0
    for (outlet, guid), (story, _variant) in expected.items():
        total += 1
        story_id = story_of_item.get((outlet, guid))
        assert story_id is not None, (outlet, guid)
        hits += story_id_uri(SITE, story_id) in in_section[slugify(story["category"])]
    assert hits / total >= 0.8, f"{hits}/{total}"
