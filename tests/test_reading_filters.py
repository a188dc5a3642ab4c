"""Reading filters (issue 15): include/exclude phrases per source feed and per section
hide stories from the reader's lists, counts and search, decided when a story is filed
and kept as flags, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

from aggregator.config import parse_config
from aggregator.core import Aggregator
from aggregator.scopes import ALL, feed_scope, section_scope
from tests.clock import FixedClock
from tests.conftest import MakeAggregator
from tests.httpserver import FeedServer

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def rss(title: str, items: list[tuple[str, str, str, str]]) -> bytes:
    """An RSS feed of (guid, title, link, summary) items."""
    body = "".join(
        f"<item><guid>{guid}</guid><title>{escape(headline)}</title><link>{escape(link)}</link>"
        f"<description>{escape(summary)}</description>"
        "<pubDate>Thu, 03 Dec 2026 09:00:00 GMT</pubDate></item>"
        for guid, headline, link, summary in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://{title.lower()}.example/</link>{body}</channel></rss>"
    ).encode()


GAZETTE = [
    (
        "g1",
        "Sponsored: the best widgets of the year",
        "https://gazette.example/widgets",
        "Our partners picked these widgets for you.",
    ),
    (
        "g2",
        "Harbor dredging finishes ahead of schedule",
        "https://gazette.example/harbor",
        "The channel is open to larger ships.",
    ),
    (
        "g3",
        "Sponsored: council approves parking meters downtown",
        "https://shared.example/meters",
        "Brought to you by a parking app.",
    ),
]
DAILY = [
    (
        "d1",
        "Council approves parking meters downtown",
        "https://shared.example/meters",
        "The vote was 5-2 after hours of comment.",
    ),
    (
        "d2",
        "Opinion: the meters are a tax on shoppers",
        "https://daily.example/opinion-meters",
        "A columnist on the vote.",
    ),
    (
        "d3",
        "New telescope sees the early universe",
        "https://daily.example/telescope",
        "Astronomers share the first space images.",
    ),
    ("d4", "Comet passes Earth", "https://daily.example/comet", "Visible at dawn this week."),
]


def config_text(
    server: FeedServer, *, gazette: str = "", world: str = "", science: str = ""
) -> str:
    return (
        "polling:\n  allow_private_networks: true\n  host_spacing: 0\n"
        "categories:\n"
        f"  - name: World\n{world}"
        f"  - name: Science\n    keywords: [telescope, astronomers, comet]\n{science}"
        "feeds:\n"
        f"  - url: {server.url('/gazette.xml')}\n    category: World\n    priority: 10\n{gazette}"
        f"  - url: {server.url('/daily.xml')}\n    category: World\n"
    )


def newsroom(
    make: MakeAggregator, server: FeedServer, folder: Path, **filters: str
) -> tuple[Aggregator, int, int]:
    server.route("/gazette.xml", FeedServer.feed(rss("Gazette", GAZETTE)))
    server.route("/daily.xml", FeedServer.feed(rss("Daily", DAILY)))
    config = parse_config(config_text(server, **filters), str(folder / "feeds.yaml"))
    aggregator = make(config, clock=FixedClock(NOW))
    aggregator.update_feeds(scheduled=False)
    gazette = aggregator._storage.get_feed_by_url(server.url("/gazette.xml"))
    daily = aggregator._storage.get_feed_by_url(server.url("/daily.xml"))
    assert gazette is not None and daily is not None
    return aggregator, gazette.id, daily.id


def titles(aggregator: Aggregator, scope: str) -> set[str]:
    return {item.story.lead.title for item in aggregator.get_stories(scope, limit=100).stories}


def searched(aggregator: Aggregator, query: str, section: str | None = None) -> set[str]:
    page = aggregator.search(query, section=section)
    return {item.story.lead.title for item in page.stories}


EVERYTHING = {
    "Sponsored: the best widgets of the year",
    "Harbor dredging finishes ahead of schedule",
    "Council approves parking meters downtown",
    "Opinion: the meters are a tax on shoppers",
    "New telescope sees the early universe",
    "Comet passes Earth",
}


def test_without_filters_everything_shows(
    tmp_path: Path, make_aggregator: MakeAggregator, server: FeedServer
) -> None:
    aggregator, _, _ = newsroom(make_aggregator, server, tmp_path)
    assert titles(aggregator, ALL) == EVERYTHING - {"Council approves parking meters downtown"} | {
        "Sponsored: council approves parking meters downtown"
    }  # the gazette leads
    assert aggregator.unread_counts().of(ALL) == 6
    assert searched(aggregator, "widgets") == {"Sponsored: the best widgets of the year"}


def test_a_feeds_exclude_hides_its_entries_from_lists_counts_and_search(
    tmp_path: Path, make_aggregator: MakeAggregator, server: FeedServer
) -> None:
    aggregator, gazette, daily = newsroom(
        make_aggregator, server, tmp_path, gazette="    exclude: [sponsored]\n"
    )
    # The sponsored entry told by the gazette alone is gone; the story the daily told
    # too stays, led by the daily's report although the gazette has priority.
    assert titles(aggregator, ALL) == EVERYTHING - {"Sponsored: the best widgets of the year"}
    assert titles(aggregator, feed_scope(gazette)) == {"Harbor dredging finishes ahead of schedule"}
    assert "Council approves parking meters downtown" in titles(aggregator, feed_scope(daily))
    counts = aggregator.unread_counts()
    assert counts.of(ALL) == 5
    assert counts.of(feed_scope(gazette)) == 1
    assert counts.of(section_scope("world")) == 3
    assert searched(aggregator, "widgets") == set()
    # The hidden report's own words do not find the story it shares.
    assert searched(aggregator, "app") == set()
    assert searched(aggregator, "comment") == {"Council approves parking meters downtown"}


def test_a_feeds_include_shows_only_what_mentions_a_phrase(
    tmp_path: Path, make_aggregator: MakeAggregator, server: FeedServer
) -> None:
    aggregator, gazette, _ = newsroom(
        make_aggregator, server, tmp_path, gazette="    include: [harbor, ships]\n"
    )
    assert titles(aggregator, feed_scope(gazette)) == {"Harbor dredging finishes ahead of schedule"}
    assert aggregator.unread_counts().of(ALL) == 5


def test_a_sections_filters_hide_stories_from_that_section_only(
    tmp_path: Path, make_aggregator: MakeAggregator, server: FeedServer
) -> None:
    aggregator, _, daily = newsroom(
        make_aggregator,
        server,
        tmp_path,
        world="    exclude: [Opinion, Sponsored]\n",
        science="    include: [space, universe]\n",
    )
    world = titles(aggregator, section_scope("world"))
    assert world == {"Harbor dredging finishes ahead of schedule"}
    assert titles(aggregator, section_scope("science")) == {"New telescope sees the early universe"}
    # The lists of everything and of the feeds keep them all.
    assert titles(aggregator, ALL) == EVERYTHING - {"Council approves parking meters downtown"} | {
        "Sponsored: council approves parking meters downtown"
    }
    assert "Opinion: the meters are a tax on shoppers" in titles(aggregator, feed_scope(daily))
    counts = aggregator.unread_counts()
    assert counts.of(section_scope("world")) == 1
    assert counts.of(section_scope("science")) == 1
    assert counts.of(ALL) == 6
    assert searched(aggregator, "columnist") == {"Opinion: the meters are a tax on shoppers"}
    assert searched(aggregator, "columnist", section="world") == set()
    assert searched(aggregator, "channel", section="world") == {
        "Harbor dredging finishes ahead of schedule"
    }


def test_changing_the_filters_refiles_stored_stories(
    tmp_path: Path, make_aggregator: MakeAggregator, server: FeedServer
) -> None:
    aggregator, gazette, _ = newsroom(make_aggregator, server, tmp_path)
    assert aggregator.unread_counts().of(ALL) == 6
    folder = str(tmp_path / "feeds.yaml")
    filtered = config_text(
        server, gazette="    exclude: [sponsored]\n", world="    exclude: [opinion]\n"
    )
    aggregator.apply_config(parse_config(filtered, folder))
    assert titles(aggregator, ALL) == EVERYTHING - {"Sponsored: the best widgets of the year"}
    assert "Opinion: the meters are a tax on shoppers" not in titles(
        aggregator, section_scope("world")
    )
    counts = aggregator.unread_counts()
    assert (counts.of(ALL), counts.of(feed_scope(gazette)), counts.of(section_scope("world"))) == (
        5,
        1,
        2,
    )
    assert searched(aggregator, "widgets") == set()
    # Filters removed: everything is back, counted and searchable.
    aggregator.apply_config(parse_config(config_text(server), folder))
    assert aggregator.unread_counts().of(ALL) == 6
    assert searched(aggregator, "widgets") == {"Sponsored: the best widgets of the year"}
    assert len(titles(aggregator, section_scope("world"))) == 4


def test_a_new_entry_matching_a_filter_is_hidden_when_it_is_stored(
    tmp_path: Path, make_aggregator: MakeAggregator, server: FeedServer
) -> None:
    aggregator, gazette, _ = newsroom(
        make_aggregator, server, tmp_path, gazette="    exclude: [sponsored]\n"
    )
    more = [*GAZETTE, ("g4", "Sponsored: a cruise", "https://gazette.example/cruise", "Sail.")]
    server.route("/gazette.xml", FeedServer.feed(rss("Gazette", more), etag='"v2"'))
    aggregator.update_feeds(scheduled=False)
    assert "Sponsored: a cruise" not in titles(aggregator, ALL)
    assert aggregator.unread_counts().of(feed_scope(gazette)) == 1


def test_the_published_outputs_ignore_the_reading_filters(
    tmp_path: Path, make_aggregator: MakeAggregator, server: FeedServer
) -> None:
    aggregator, _, _ = newsroom(
        make_aggregator,
        server,
        tmp_path,
        gazette="    exclude: [sponsored]\n",
        world="    exclude: [opinion]\n",
    )
    everything = aggregator.render_output("all", "atom").body.decode()
    assert "the best widgets of the year" in everything
    world = aggregator.render_output("world", "atom").body.decode()
    assert "Opinion: the meters are a tax on shoppers" in world
    assert "the best widgets of the year" in world
