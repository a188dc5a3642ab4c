"""Pages of the merged feeds built from stored entry renderings (feed_pages.py,
storage/renderings.py): each entry is rendered once per change of its story, the
rendering is reused by every later build, in this process or another, and a change
of anything an entry shows renders it again. Each test runs on SQLite and, when
configured, PostgreSQL (the `storage` fixture)."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from aggregator.config import (
    Config,
    FeedConfig,
    OutputConfig,
    PublishConfig,
    SectionConfig,
    SiteConfig,
    StorageConfig,
)
from aggregator.core import Aggregator
from aggregator.publish import (
    FORMATS,
    RENDERINGS_MAX_AGE,
    FeedDocument,
    build_page,
    entry_context,
    outputs_of,
    prerender_changed,
    render_feed,
    versions_snapshot,
)
from aggregator.storage import Storage, StoryFiling, open_storage, schema
from aggregator.web import create_app
from aggregator.web.outputs import feed_cache
from tests.httpserver import FeedServer
from tests.test_publish import check_output
from tests.test_publish_http import make_config as poll_config
from tests.test_publish_http import poll_now, rss, serve
from tests.test_storage import NOW, add_feeds, make_entry, make_update

WIRE = "https://wire.example/feed"
GLOBE = "https://globe.example/feed"
SHARED = ("url:https://example.org/shared",)


def make_config(**changes: object) -> Config:
    config = Config(
        path="feeds.yaml",
        site=SiteConfig(title="Newsroom", base_url="https://news.example.org"),
        sections=(
            SectionConfig("US News", "us-news"),
            SectionConfig("World", "world"),
        ),
        feeds=(FeedConfig(url=WIRE), FeedConfig(url=GLOBE)),
        outputs=(OutputConfig(name="summits", title="Summits", include=("summit",)),),
        publish=PublishConfig(page_size=10),
    )
    return replace(config, **changes)  # type: ignore[arg-type]


def fill(storage: Storage) -> tuple[int, int]:
    """Five Wire stories (one about a summit), and a story both feeds report."""
    wire, globe = add_feeds(storage, WIRE, GLOBE)
    entries = [make_entry(f"w{n}", published=NOW - timedelta(hours=n + 2)) for n in range(4)] + [
        make_entry("summit", title="Leaders meet at the summit")
    ]
    storage.store_feed_update(make_update(wire, *entries))
    storage.store_feed_update(make_update(wire, make_entry("shared-w", story_keys=SHARED)))
    storage.store_feed_update(
        make_update(globe, make_entry("shared-g", story_keys=SHARED, sections=("world",)))
    )
    return wire, globe


def stored_count(storage: Storage) -> int:
    with storage.read() as conn:
        return int(conn.scalar(select(func.count()).select_from(schema.story_renderings)) or 0)


def stamps(storage: Storage) -> dict[int, str]:
    return {ref.id: ref.stamp for ref in storage.list_story_refs(limit=100).refs}


def guid_story(storage: Storage, guid: str) -> int:
    stories = storage.list_stories(limit=100).stories
    return next(s.id for s in stories if guid in {e.guid for e in (s.lead, *s.others)})


# --- story references ------------------------------------------------------------------------


def test_story_refs_carry_the_stamps_of_the_stories_themselves(storage: Storage) -> None:
    fill(storage)
    for sections in (None, ("world",), ("us-news", "world")):
        page = storage.list_stories(sections=sections, limit=100)
        refs = storage.list_story_refs(sections=sections, limit=100)
        assert [(r.id, r.sort_at, r.changed_at, r.stamp) for r in refs.refs] == [
            (s.id, s.sort_at, s.changed_at, s.stamp) for s in page.stories
        ]
    shared = storage.get_stories([guid_story(storage, "shared-g")])
    (story,) = shared.values()
    assert len(story.others) == 1 and story.sections == ("us-news", "world")
    # Pages of references walk like pages of stories.
    first = storage.list_story_refs(limit=4)
    rest = storage.list_story_refs(limit=4, before=first.next_cursor)
    assert first.next_cursor is not None and rest.next_cursor is None
    assert [r.id for r in (*first.refs, *rest.refs)] == [
        r.id for r in storage.list_story_refs(limit=100).refs
    ]


def test_stamps_follow_everything_an_entry_shows(storage: Storage) -> None:
    wire, globe = fill(storage)
    shared = guid_story(storage, "shared-g")
    w0 = guid_story(storage, "w0")
    w1 = guid_story(storage, "w1")

    before = stamps(storage)
    # A poll that changes nothing changes no stamp.
    storage.store_feed_update(
        make_update(wire, make_entry("w0", published=NOW - timedelta(hours=2)))
    )
    assert stamps(storage) == before

    # An entry corrected in place.
    later = NOW + timedelta(minutes=5)
    corrected = make_entry(
        "w0", title="Corrected", content_hash="h2", published=NOW - timedelta(hours=2)
    )
    storage.store_feed_update(replace(make_update(wire, corrected), fetched_at=later))
    after = stamps(storage)
    assert {s for s in before if before[s] != after[s]} == {w0}

    # The feed's own title changes: every story it reported shows it.
    before = after
    renamed = replace(make_update(globe), feed_title="The Globe")
    storage.store_feed_update(renamed)
    after = stamps(storage)
    assert {s for s in before if before[s] != after[s]} == {shared}

    # An admin names the feed in feeds.yaml.
    before = after
    storage.sync_feeds((FeedConfig(url=WIRE, title="Wire Service"), FeedConfig(url=GLOBE)), NOW)
    after = stamps(storage)
    assert {s for s in before if before[s] != after[s]} == set(before)  # Wire is in every story

    # A refile moves one story to another section.
    before = after
    storage.refile_stories(
        lambda reports: StoryFiling(("world",) if reports[0].title == "Title w1" else ("us-news",)),
        later,
    )
    after = stamps(storage)
    assert w1 in {s for s in before if before[s] != after[s]}
    assert before[w0] == after[w0]

    # Retention takes one report of the shared story away.
    before = after
    old = replace(
        make_update(globe, make_entry("g-old", story_keys=SHARED)),
        fetched_at=NOW - timedelta(days=200),
    )
    storage.store_feed_update(old)
    with_old = stamps(storage)
    assert with_old[shared] != before[shared]
    storage.prune_entries(NOW - timedelta(days=90), NOW)
    assert stamps(storage)[shared] != with_old[shared]


# --- building pages --------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_entry_is_rendered_once_for_every_process(db_url: str, fmt: str) -> None:
    config = make_config()
    output = outputs_of(config)["all"]
    first, second = open_storage(db_url), open_storage(db_url)  # two processes
    try:
        fill(first)
        cold = build_page(first, config, output, fmt, renderings={})
        assert cold.entries == cold.rendered == 6
        check_output(fmt, cold.body)
        # The same bytes as rendering every story from scratch.
        stories = first.list_stories(limit=10).stories
        document = FeedDocument(output, config.site, stories, config.section_names())
        assert cold.body == render_feed(fmt, document)
        # Nothing kept in memory: read back from the database, here and elsewhere.
        again = build_page(first, config, output, fmt, renderings={})
        elsewhere = build_page(second, config, output, fmt, renderings={})
        assert again.rendered == elsewhere.rendered == 0
        assert again.body == elsewhere.body == cold.body
        # Sections and other pages reuse the same entries.
        world = build_page(second, config, outputs_of(config)["world"], fmt, renderings={})
        assert world.entries == 1 and world.rendered == 0
        assert stored_count(first) == 6
        # A lost rendering is made again, alone.
        first.delete_renderings()
        assert build_page(second, config, output, fmt, renderings={}).rendered == 6
    finally:
        first.close()
        second.close()


def test_a_changed_story_is_rendered_again_never_served_stale(storage: Storage) -> None:
    config = make_config()
    output = outputs_of(config)["all"]
    wire, globe = fill(storage)
    build_page(storage, config, output, "atom", renderings={})
    later = NOW + timedelta(minutes=5)
    corrected = make_entry(
        "w2", title="Corrected headline", content_hash="h2", published=NOW - timedelta(hours=4)
    )
    storage.store_feed_update(replace(make_update(wire, corrected), fetched_at=later))
    page = build_page(storage, config, output, "atom", renderings={})
    assert page.rendered == 1
    assert b"Corrected headline" in page.body and b"Title w2" not in page.body
    # A feed's new name shows in every entry it reported (its source, "also reported by").
    storage.store_feed_update(replace(make_update(globe), feed_title="The Globe"))
    page = build_page(storage, config, output, "rss", renderings={})
    assert page.rendered == 6  # first rss build
    storage.store_feed_update(replace(make_update(globe), feed_title="Globe Daily"))
    page = build_page(storage, config, output, "rss", renderings={})
    assert page.rendered == 1 and b"Globe Daily" in page.body and b"The Globe" not in page.body


def test_a_new_site_or_section_name_renders_every_entry_again(storage: Storage) -> None:
    config = make_config()
    fill(storage)
    output = outputs_of(config)["all"]
    assert build_page(storage, config, output, "atom", renderings={}).rendered == 6
    moved = replace(config, site=replace(config.site, base_url="https://moved.example.org"))
    page = build_page(storage, moved, outputs_of(moved)["all"], "atom", renderings={})
    assert page.rendered == 6
    assert b"tag:moved.example.org" in page.body and b"tag:news.example.org" not in page.body
    renamed = replace(config, sections=(SectionConfig("Nation", "us-news"), config.sections[1]))
    page = build_page(storage, renamed, outputs_of(renamed)["all"], "atom", renderings={})
    assert page.rendered == 6 and b'label="Nation"' in page.body
    # Any change to the site renders them again (sites change rarely; safe beats clever).
    retitled = replace(config, site=replace(config.site, title="Other name"))
    assert (
        build_page(storage, retitled, outputs_of(retitled)["all"], "atom", renderings={}).rendered
        == 6
    )


def test_filtered_outputs_use_stored_renderings_too(storage: Storage) -> None:
    config = make_config()
    fill(storage)
    summits = outputs_of(config)["summits"]
    page = build_page(storage, config, summits, "json", renderings={})
    assert page.entries == page.rendered == 1 and b"Leaders meet" in page.body
    assert build_page(storage, config, summits, "json", renderings={}).rendered == 0
    assert (
        build_page(storage, config, outputs_of(config)["all"], "json", renderings={}).rendered == 5
    )


def test_kept_entries_are_used_before_the_database(storage: Storage) -> None:
    config = make_config()
    fill(storage)
    output = outputs_of(config)["all"]
    kept: dict[object, bytes] = {}
    build_page(storage, config, output, "atom", renderings=kept)
    storage.delete_renderings()
    again = build_page(storage, config, output, "atom", renderings=kept, save=False)
    assert again.rendered == 0 and stored_count(storage) == 0


def test_renderings_go_with_their_stories(storage: Storage) -> None:
    config = make_config()
    wire, _globe = fill(storage)
    old = replace(make_update(wire, make_entry("ancient")), fetched_at=NOW - timedelta(days=200))
    storage.store_feed_update(old)
    build_page(storage, config, outputs_of(config)["all"], "atom", renderings={})
    assert stored_count(storage) == 7
    storage.prune_entries(NOW - timedelta(days=90), NOW)
    assert stored_count(storage) == 6  # deleted with the story
    # Renderings of stories older than a date can go on their own.
    assert storage.prune_renderings(NOW - timedelta(hours=3, minutes=30)) == 2  # w2, w3
    assert stored_count(storage) == 4


def test_a_busy_database_does_not_hold_up_a_page(tmp_path: Path) -> None:
    storage = open_storage(f"sqlite:///{tmp_path / 'busy.db'}")
    try:
        fill(storage)
        config = make_config()
        blocker = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # a poll writing, say
        try:
            start = time.monotonic()
            page = build_page(storage, config, outputs_of(config)["all"], "atom", renderings={})
            waited = time.monotonic() - start
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert page.rendered == 6 and page.entries == 6
        assert waited < 10  # the usual busy timeout is 30 s: the save gave up early
        assert stored_count(storage) == 0
        # Once the writer is done, the next build stores them.
        assert (
            build_page(storage, config, outputs_of(config)["all"], "atom", renderings={}).rendered
            == 6
        )
        assert stored_count(storage) == 6
    finally:
        storage.close()


# --- over HTTP -------------------------------------------------------------------------------


def test_a_cold_server_reads_the_entries_rendered_before(storage: Storage) -> None:
    config = make_config()
    fill(storage)
    app = create_app(Aggregator(config, storage), test_config={"TESTING": True})
    client = app.test_client()
    with client.get("/feeds/all.atom") as first:  # closing it stores the renderings
        etag = first.headers["ETag"]
    cache = feed_cache(app)
    assert cache.rendered_entries == 6 and stored_count(storage) == 6
    cache.clear()
    with client.get("/feeds/all.atom") as again:
        assert again.headers["ETag"] == etag
    assert cache.rendered_entries == 6  # nothing rendered for the second build
    # A new process (another app on the same database) renders nothing either.
    other = create_app(Aggregator(config, storage), test_config={"TESTING": True})
    with other.test_client().get("/feeds/all.atom") as response:
        assert response.headers["ETag"] == etag
    assert feed_cache(other).rendered_entries == 0


def test_pruning_keeps_renderings_of_newest_pages_and_recent_stories_only(
    storage: Storage,
) -> None:
    config = make_config(
        storage=StorageConfig(url="unused", retention_seconds=None),
        publish=PublishConfig(page_size=5),
    )
    wire, globe = fill(storage)
    old = NOW - RENDERINGS_MAX_AGE - timedelta(days=1)
    # An old story past the newest page of every output it is on...
    storage.store_feed_update(make_update(wire, make_entry("old-news", published=old)))
    # ...and one still on the newest page of World, whose subscribers poll it.
    world_only = make_entry("old-world", published=old, sections=("world",))
    storage.store_feed_update(make_update(globe, world_only))
    old_news, old_world = guid_story(storage, "old-news"), guid_story(storage, "old-world")
    page = None
    while page is None or page.next_cursor is not None:  # every page of everything
        cursor = page.next_cursor if page is not None else None
        page = storage.list_story_refs(limit=5, before=cursor)
        build_page(storage, config, outputs_of(config)["all"], "atom", cursor=cursor, renderings={})
    assert stored_count(storage) == 8

    assert Aggregator(config, storage, clock=lambda: NOW).prune() == 0  # kept forever
    refs = {ref.id for ref in storage.list_story_refs(limit=100).refs}
    stored = set(storage.stored_renderings(sorted(refs), "atom", page_context(config)))
    assert old_news not in stored and old_world in stored
    assert stored_count(storage) == 7
    assert len(refs) == 8  # the stories themselves stay


def page_context(config: Config) -> str:
    return entry_context("atom", config.site, config.section_names())


# --- after a poll ----------------------------------------------------------------------------


def test_a_poll_renders_the_new_entries_of_the_outputs_it_changed(
    server: FeedServer, storage: Storage
) -> None:
    serve(server, "/news", rss([{"title": f"Town story {n}"} for n in range(4)]))
    serve(server, "/world", rss([{"title": f"Summit {n}"} for n in range(2)], "Globe"))
    config = poll_config(server, {"/news": "US News", "/world": "World"})
    poll_now(config, storage)
    # Every story, once per format, though it is on several changed outputs.
    assert stored_count(storage) == 6 * 3
    app = create_app(Aggregator(config, storage), test_config={"TESTING": True})
    client = app.test_client()
    for path in ("/feeds/all.atom", "/feeds/us-news.rss", "/feeds/world.json"):
        assert client.get(path).status_code == 200
    assert feed_cache(app).rendered_entries == 0  # subscribers find them rendered
    # A poll that changes nothing renders nothing.
    before = versions_snapshot(storage, config)
    poll_now(config, storage)
    assert prerender_changed(storage, config, before) == 0
    assert stored_count(storage) == 6 * 3
    # One new story: rendered alone, in each format, by the poll that brought it.
    serve(server, "/world", rss([{"title": f"Summit {n}"} for n in range(3)], "Globe"), 2)
    poll_now(config, storage)
    assert stored_count(storage) == 7 * 3
