"""The admin's use cases on Aggregator (core/_admin.py and the feeds use cases they
lean on): subscribing by any address through the same guard as polling, importing
OPML, editing feeds.yaml and putting it in force, a fix taking effect at once, local
files looked at by modification time, /healthz's verdict and the feeds' activity."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.config import load_config, parse_config
from aggregator.core import Aggregator
from aggregator.errors import BlockedAddressError, ConfigConflictError, ConfigEditError
from aggregator.storage import open_storage
from aggregator.update import host_of
from tests.clock import FixedClock
from tests.conftest import MakeAggregator
from tests.httpserver import FeedServer, Response

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
OPML = Path(__file__).resolve().parent / "data" / "opml"


def rss(title: str, *guids: str) -> bytes:
    items = "".join(
        f"<item><title>Story {guid}</title><guid>{guid}</guid>"
        f"<link>https://news.example/{guid}</link></item>"
        for guid in guids
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://news.example/</link>{items}</channel></rss>"
    ).encode()


def page(*links: str, title: str = "A site") -> bytes:
    heads = "".join(links)
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title>{heads}</head>"
        "<body><h1>Hello</h1></body></html>"
    ).encode()


def write_config(folder: Path, feeds: str = "", polling: str = "") -> Path:
    path = folder / "feeds.yaml"
    path.write_text(
        "# My newsroom\n"
        "polling:\n  interval: 1h\n  host_spacing: 0\n"
        + polling
        + "categories:\n  - name: World\n\n"
        + "feeds:\n"
        + (feeds or "  - url: https://existing.example/feed\n    category: World\n"),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


def open_aggregator(make: MakeAggregator, path: Path, clock: FixedClock) -> Aggregator:
    return make(load_config(path), clock=clock)


# --- subscribing by any address ---------------------------------------------------------------


def test_a_site_address_finds_the_feed_its_page_links(
    tmp_path: Path, make_aggregator: MakeAggregator, clock: FixedClock, server: FeedServer
) -> None:
    server.route("/feed.xml", FeedServer.feed(rss("Site News", "a", "b", "c")))
    server.route("/comments.xml", FeedServer.feed(rss("Comments", "x")))
    server.route(
        "/",
        Response(
            200,
            page(
                '<link rel="alternate" type="application/rss+xml" title="News" href="/feed.xml">',
                '<link rel="alternate" type="application/rss+xml" href="comments.xml">',
                '<link rel="stylesheet" href="/site.css">',
            ),
            {"Content-Type": "text/html; charset=utf-8"},
        ),
    )
    path = write_config(tmp_path, polling="  allow_private_networks: true\n")
    aggregator = open_aggregator(make_aggregator, path, clock)
    discovery = aggregator.discover_feeds(server.url("/"))
    assert [(c.url, c.title, c.item_count, c.found) for c in discovery.candidates] == [
        (server.url("/feed.xml"), "Site News", 3, "linked"),
        (server.url("/comments.xml"), "Comments", 1, "linked"),
    ]
    assert discovery.candidates[0].link_title == "News"
    assert all(c.usable for c in discovery.candidates)

    edit = aggregator.plan_add_feed(discovery.candidates[0].url, {"category": "World"})
    assert f"+  - url: {server.url('/feed.xml')}\n+    category: World\n" in edit.diff()
    assert aggregator.save_config_edit(edit)
    assert server.url("/feed.xml") in {feed.url for feed in aggregator.config.feeds}
    stored = aggregator.get_feeds()
    assert server.url("/feed.xml") in {feed.url for feed in stored}
    # Written to the file, comments and all.
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# My newsroom\n") and server.url("/feed.xml") in text


def test_without_links_the_usual_addresses_are_tried(
    tmp_path: Path, make_aggregator: MakeAggregator, clock: FixedClock, server: FeedServer
) -> None:
    server.route("/blog/", Response(200, page(), {"Content-Type": "text/html"}))
    server.route("/rss", FeedServer.feed(rss("Guessed", "g1", "g2")))
    aggregator = open_aggregator(
        make_aggregator,
        write_config(tmp_path, polling="  allow_private_networks: true\n"),
        clock,
    )
    discovery = aggregator.discover_feeds(server.url("/blog/"))
    assert [(c.url, c.title, c.item_count, c.found) for c in discovery.candidates] == [
        (server.url("/rss"), "Guessed", 2, "guessed")
    ]
    tried = [request.path for request in server.requests]
    assert tried[0] == "/blog/"
    assert {"/feed", "/rss", "/atom.xml", "/feed.json"} <= set(tried)


def test_a_feed_address_is_itself_the_candidate_and_listed_ones_say_so(
    tmp_path: Path, make_aggregator: MakeAggregator, clock: FixedClock, server: FeedServer
) -> None:
    server.route("/direct.xml", FeedServer.feed(rss("Direct", "d")))
    server.route("/nothing", Response(200, page(), {"Content-Type": "text/html"}))
    feeds = f"  - url: {server.url('/direct.xml')}\n"
    aggregator = open_aggregator(
        make_aggregator,
        write_config(tmp_path, feeds=feeds, polling="  allow_private_networks: true\n"),
        clock,
    )
    [candidate] = aggregator.discover_feeds(server.url("/direct.xml")).candidates
    assert (candidate.found, candidate.title, candidate.listed) == ("given", "Direct", True)
    assert not candidate.usable
    with pytest.raises(ConfigEditError, match="already in"):
        aggregator.plan_add_feed(candidate.url)
    nothing = aggregator.discover_feeds(server.url("/nothing"))
    assert nothing.candidates == ()
    assert nothing.note is not None and "/feed.json" in nothing.note


def test_discovery_goes_through_the_address_guard(
    tmp_path: Path, make_aggregator: MakeAggregator, clock: FixedClock, server: FeedServer
) -> None:
    server.route("/", Response(200, page(), {"Content-Type": "text/html"}))
    aggregator = open_aggregator(make_aggregator, write_config(tmp_path), clock)
    with pytest.raises(BlockedAddressError, match=r"polling\.allow_private_networks"):
        aggregator.discover_feeds(server.url("/"))
    assert server.requests == []


# --- importing ---------------------------------------------------------------------------------


def test_importing_a_miniflux_export(
    tmp_path: Path, make_aggregator: MakeAggregator, clock: FixedClock
) -> None:
    feeds = "  - url: https://hnrss.org/frontpage\n"
    path = write_config(tmp_path, feeds=feeds)
    aggregator = open_aggregator(make_aggregator, path, clock)
    plan = aggregator.plan_import((OPML / "miniflux.opml").read_bytes())
    assert plan.listed_already == ("https://hnrss.org/frontpage",)
    assert plan.added == (
        ("https://breakingdefense.com/feed/", "Defense"),
        ("https://warontherocks.com/feed/", "Defense"),
        ("https://feeds.arstechnica.com/arstechnica/index", "Tech & Science"),
        (
            "https://www.nasa.gov/news-release/feed/?utm_source=rss&utm_medium=feed",
            "Tech & Science",
        ),
    )
    assert plan.new_sections == ("Defense", "Tech & Science")
    assert plan.edit is not None
    aggregator.save_config_edit(plan.edit)
    config = load_config(path)
    by_url = {feed.url: feed for feed in config.feeds}
    assert by_url["https://warontherocks.com/feed/"].paused  # miniflux:disabled
    assert by_url["https://breakingdefense.com/feed/"].title == "Breaking Defense"
    assert [s.name for s in config.sections] == ["World", "Defense", "Tech & Science"]
    # Imported again: nothing new.
    again = aggregator.plan_import((OPML / "miniflux.opml").read_bytes())
    assert again.edit is None and len(again.listed_already) == 5


def test_a_reserved_folder_name_is_no_section(
    tmp_path: Path, make_aggregator: MakeAggregator, clock: FixedClock
) -> None:
    aggregator = open_aggregator(make_aggregator, write_config(tmp_path), clock)
    plan = aggregator.plan_import((OPML / "miniflux.opml").read_bytes())
    assert ("https://hnrss.org/frontpage", None) in plan.added  # Miniflux's "All"
    assert any("folder 'All' is not used as a section" in note for note in plan.skipped)


@pytest.mark.parametrize(
    "name", ["feedly.opml", "freshrss.opml", "inoreader.opml", "netnewswire.opml"]
)
def test_every_export_imports_into_a_valid_config(
    tmp_path: Path, make_aggregator: MakeAggregator, clock: FixedClock, name: str
) -> None:
    path = write_config(tmp_path)
    aggregator = open_aggregator(make_aggregator, path, clock)
    plan = aggregator.plan_import((OPML / name).read_bytes())
    assert plan.edit is not None and plan.added
    aggregator.save_config_edit(plan.edit)
    config = load_config(path)
    assert {url for url, _ in plan.added} <= {feed.url for feed in config.feeds}
    assert config.feeds[0].url == "https://existing.example/feed"
    if name == "feedly.opml":
        assert plan.duplicates == ("line 13: https://news.usni.org/feed",)
    if name == "freshrss.opml":
        assert any("scraping" in note for note in plan.skipped)


# --- editing, and a fix taking effect at once ----------------------------------------------


def test_a_change_made_on_a_file_changed_since_is_refused(
    tmp_path: Path, make_aggregator: MakeAggregator, clock: FixedClock
) -> None:
    path = write_config(tmp_path)
    aggregator = open_aggregator(make_aggregator, path, clock)
    digest = aggregator.config_snapshot().digest
    path.write_text(path.read_text(encoding="utf-8") + "  - https://other.example/feed\n")
    with pytest.raises(ConfigConflictError):
        aggregator.plan_feed_change("https://existing.example/feed", {"title": "X"}, digest=digest)
    edit = aggregator.plan_feed_change("https://existing.example/feed", {"title": "X"})
    path.write_text(path.read_text(encoding="utf-8") + "  - https://third.example/feed\n")
    with pytest.raises(ConfigConflictError):
        aggregator.save_config_edit(edit)
    assert "title: X" not in path.read_text(encoding="utf-8")


def test_allowing_private_networks_makes_refused_feeds_due_at_once(
    tmp_path: Path, make_aggregator: MakeAggregator, clock: FixedClock, server: FeedServer
) -> None:
    server.route("/feed.xml", FeedServer.feed(rss("LAN feed", "l1")))
    feeds = f"  - url: {server.url('/feed.xml')}\n"
    path = write_config(tmp_path, feeds=feeds)
    aggregator = open_aggregator(make_aggregator, path, clock)
    [outcome] = aggregator.update_feeds().outcomes
    assert outcome.status == "failed"
    assert "set polling.allow_private_networks: true in feeds.yaml" in (outcome.error or "")
    [feed] = aggregator.get_feeds()
    assert feed.next_check_at is not None and feed.next_check_at > NOW  # backed off
    clock.advance(timedelta(minutes=1))
    assert aggregator.feeds_to_update() == []

    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "  host_spacing: 0\n", "  host_spacing: 0\n  allow_private_networks: true\n"
        ),
        encoding="utf-8",
    )
    assert aggregator.reload_config()
    assert [f.url for f in aggregator.feeds_to_update()] == [server.url("/feed.xml")]
    [outcome] = aggregator.update_feeds().outcomes
    assert (outcome.status, outcome.new) == ("ok", 1)


def test_changing_a_failing_feeds_interval_makes_it_due(
    tmp_path: Path, make_aggregator: MakeAggregator, clock: FixedClock, server: FeedServer
) -> None:
    server.route("/broken.xml", FeedServer.status(500))
    server.route("/fine.xml", FeedServer.feed(rss("Fine", "f")))
    feeds = f"  - url: {server.url('/broken.xml')}\n  - url: {server.url('/fine.xml')}\n"
    path = write_config(tmp_path, feeds=feeds, polling="  allow_private_networks: true\n")
    aggregator = open_aggregator(make_aggregator, path, clock)
    aggregator.update_feeds()
    clock.advance(timedelta(minutes=5))
    edit = aggregator.plan_feed_change(server.url("/broken.xml"), {"interval": 900})
    assert "+    interval: 15m\n" in edit.diff()
    aggregator.save_config_edit(edit)
    assert [f.url for f in aggregator.feeds_to_update()] == [server.url("/broken.xml")]


def test_correcting_a_failing_feeds_url_polls_it_at_once(
    tmp_path: Path, make_aggregator: MakeAggregator, clock: FixedClock, server: FeedServer
) -> None:
    server.route("/fixed.xml", FeedServer.feed(rss("Fixed", "x1")))
    feeds = f"  - url: {server.url('/typo.xml')}\n"
    path = write_config(tmp_path, feeds=feeds, polling="  allow_private_networks: true\n")
    aggregator = open_aggregator(make_aggregator, path, clock)
    [failed] = aggregator.update_feeds().outcomes
    assert failed.status == "failed"
    clock.advance(timedelta(minutes=2))
    edit = aggregator.plan_feed_change(server.url("/typo.xml"), {"url": server.url("/fixed.xml")})
    aggregator.save_config_edit(edit)
    assert [f.url for f in aggregator.feeds_to_update()] == [server.url("/fixed.xml")]
    [fixed] = aggregator.update_feeds().outcomes
    assert (fixed.status, fixed.new) == ("ok", 1)


def test_pausing_stops_polling_and_resuming_polls_at_once(
    tmp_path: Path, make_aggregator: MakeAggregator, clock: FixedClock, server: FeedServer
) -> None:
    server.route("/a.xml", FeedServer.feed(rss("A", "a")))
    path = write_config(
        tmp_path,
        feeds=f"  - url: {server.url('/a.xml')}\n",
        polling="  allow_private_networks: true\n",
    )
    aggregator = open_aggregator(make_aggregator, path, clock)
    aggregator.save_config_edit(aggregator.plan_feed_change(server.url("/a.xml"), {"paused": True}))
    assert aggregator.feeds_to_update() == []
    assert aggregator.feeds_to_update(scheduled=False) == []
    [feed] = aggregator.get_feeds()
    assert feed.paused and aggregator.feed_status(feed).code == "paused"
    aggregator.save_config_edit(
        aggregator.plan_feed_change(server.url("/a.xml"), {"paused": False})
    )
    assert [f.url for f in aggregator.feeds_to_update()] == [server.url("/a.xml")]
    assert "paused" not in path.read_text(encoding="utf-8")


def test_removing_a_feed_keeps_its_stories(
    tmp_path: Path, make_aggregator: MakeAggregator, clock: FixedClock, server: FeedServer
) -> None:
    server.route("/a.xml", FeedServer.feed(rss("A", "a")))
    path = write_config(
        tmp_path,
        feeds=f"  - url: {server.url('/a.xml')}\n  - https://other.example/feed\n",
        polling="  allow_private_networks: true\n",
    )
    aggregator = open_aggregator(make_aggregator, path, clock)
    aggregator.update_feeds(feeds=[f for f in aggregator.get_feeds() if "127.0.0.1" in f.url])
    aggregator.save_config_edit(aggregator.plan_remove_feed(server.url("/a.xml")))
    assert [f.url for f in aggregator.get_feeds()] == ["https://other.example/feed"]
    assert aggregator.get_stories("all").stories  # its stories stay


def test_refresh_makes_feeds_due_and_asks_the_poller(
    tmp_path: Path, make_aggregator: MakeAggregator, clock: FixedClock, server: FeedServer
) -> None:
    server.route("/a.xml", FeedServer.feed(rss("A", "a")))
    path = write_config(
        tmp_path,
        feeds=f"  - url: {server.url('/a.xml')}\n",
        polling="  allow_private_networks: true\n",
    )
    aggregator = open_aggregator(make_aggregator, path, clock)
    aggregator.update_feeds()
    assert aggregator.feeds_to_update() == [] and not aggregator.take_poll_request()
    assert aggregator.request_refresh() == 1
    assert aggregator.take_poll_request() and not aggregator.take_poll_request()
    assert [f.url for f in aggregator.feeds_to_update()] == [server.url("/a.xml")]


# --- local files --------------------------------------------------------------------------


def test_local_files_are_no_host() -> None:
    assert host_of("file:///srv/a.xml") != host_of("file:///srv/b.xml")
    assert host_of("https://A.example/x") == host_of("https://a.example/y")


def test_an_edited_local_file_is_due_at_the_next_tick(
    tmp_path: Path, make_aggregator: MakeAggregator, clock: FixedClock
) -> None:
    folder = tmp_path / "local"
    folder.mkdir()
    for name in ("a", "b", "c"):
        (folder / f"{name}.xml").write_bytes(rss(name.upper(), f"{name}1"))
    feeds = "".join(f"  - local/{name}.xml\n" for name in ("a", "b", "c"))
    aggregator = open_aggregator(make_aggregator, write_config(tmp_path, feeds=feeds), clock)
    assert {o.status for o in aggregator.update_feeds().outcomes} == {"ok"}
    clock.advance(timedelta(minutes=1))
    assert aggregator.feeds_to_update() == []  # unchanged files are not due
    # Unchanged files are not read again, even when every feed is polled.
    assert {o.status for o in aggregator.update_feeds(scheduled=False).outcomes} == {"not_modified"}

    edited = folder / "b.xml"
    edited.write_bytes(rss("B", "b1", "b2"))
    stat = edited.stat()
    os.utime(edited, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    due = aggregator.feeds_to_update()
    assert [f.url for f in due] == [edited.as_uri()]
    [outcome] = aggregator.update_feeds(feeds=due).outcomes
    assert (outcome.status, outcome.new) == ("ok", 1)
    assert aggregator.feeds_to_update() == []


# --- health ---------------------------------------------------------------------------------


def test_health_is_degraded_by_a_broken_file_and_by_failing_feeds(
    tmp_path: Path, make_aggregator: MakeAggregator, clock: FixedClock, server: FeedServer
) -> None:
    server.route("/ok.xml", FeedServer.feed(rss("Ok", "o")))
    server.route("/bad1.xml", FeedServer.status(500))
    server.route("/bad2.xml", FeedServer.status(404))
    feeds = "".join(f"  - url: {server.url(p)}\n" for p in ("/ok.xml", "/bad1.xml", "/bad2.xml"))
    path = write_config(tmp_path, feeds=feeds, polling="  allow_private_networks: true\n")
    aggregator = open_aggregator(make_aggregator, path, clock)
    assert aggregator.health()["status"] == "ok"
    aggregator.update_feeds()
    health = aggregator.health()
    assert (health["status"], health["feeds"], health["feeds_failing"]) == ("degraded", 3, 2)
    assert health["reasons"] == [
        "2 of 3 source feeds are failing (more than health.failing_feeds, 50%)"
    ]

    path.write_text(path.read_text(encoding="utf-8") + "health:\n  failing_feeds: 70%\n")
    aggregator.reload_config()
    assert aggregator.health()["status"] == "ok"

    path.write_text(path.read_text(encoding="utf-8") + "  intervall: 1h\n")
    aggregator.reload_config()
    health = aggregator.health()
    assert health["status"] == "degraded"
    assert health["reasons"][0].startswith(f"{path} has errors")


def test_feed_activity_counts_new_entries_per_day(
    tmp_path: Path, make_aggregator: MakeAggregator, clock: FixedClock, server: FeedServer
) -> None:
    bodies = iter([rss("A", "a1", "a2"), rss("A", "a1", "a2", "a3")])
    current = {"body": next(bodies)}
    server.route("/a.xml", lambda request: Response(200, current["body"], {}))
    path = write_config(
        tmp_path,
        feeds=f"  - url: {server.url('/a.xml')}\n",
        polling="  allow_private_networks: true\n",
    )
    aggregator = open_aggregator(make_aggregator, path, clock)
    clock.set(NOW - timedelta(days=2))
    aggregator.update_feeds(scheduled=False)
    clock.set(NOW)
    current["body"] = next(bodies)
    aggregator.update_feeds(scheduled=False)
    [activity] = aggregator.feed_activity(days=5).values()
    assert activity.first_day == date(2026, 11, 25)
    assert activity.new_per_day == (0, 0, 2, 0, 1)
    assert [a.outcome for a in activity.attempts] == ["ok", "ok"]


def test_migration_9_adds_paused_to_an_older_database(db_url: str) -> None:
    storage = open_storage(db_url)
    with storage.write() as conn:  # a database from before migration 9
        conn.exec_driver_sql("ALTER TABLE feeds DROP COLUMN paused")
        conn.exec_driver_sql("DELETE FROM schema_migrations WHERE version = 9")
    storage.close()
    upgraded = open_storage(db_url)
    try:
        config = parse_config(
            "feeds:\n  - url: https://a.example/feed\n    paused: true\n", "f.yaml"
        )
        upgraded.sync_feeds(config.feeds, NOW)
        [feed] = upgraded.list_feeds()
        assert feed.paused and upgraded.due_feeds(NOW) == []
    finally:
        upgraded.close()
