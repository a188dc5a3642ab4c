"""Retention: old entries go (never starred ones), stories and counters follow, and a
pruned entry does not come back on the next poll."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from aggregator.config import Config, FeedConfig, SectionConfig
from aggregator.storage import ProcessedEntry, Storage, schema
from aggregator.types import EntryData, FeedData
from aggregator.update import Updater, story_filer
from tests.test_storage import NOW, add_feeds, make_entry, make_update


def make_update_at(feed_id: int, fetched_at: datetime, *entries: object) -> object:
    return replace(make_update(feed_id, *entries), fetched_at=fetched_at)  # type: ignore[arg-type]


def unread_recount(storage: Storage) -> dict[str, int]:
    listings = schema.story_listings
    with storage.read() as conn:
        rows = conn.execute(
            select(listings.c.scope, func.count())
            .where(listings.c.unread.is_(True))
            .group_by(listings.c.scope)
        ).all()
    return {scope: count for scope, count in rows}


SECTIONS = Config(
    path="x.yaml",
    sections=(SectionConfig("US News", "us-news"), SectionConfig("World", "world")),
)


def test_prune_keeps_starred_and_recent_and_refiles_stories(storage: Storage) -> None:
    feeds = (
        FeedConfig("https://wire.example/feed"),
        FeedConfig("https://local.example/feed", section="US News"),
    )
    storage.sync_feeds(feeds, NOW)
    wire, local = (storage.get_feed_by_url(feed.url).id for feed in feeds)  # type: ignore[union-attr]
    old, recent = NOW - timedelta(days=100), NOW - timedelta(days=1)
    shared = ("url:https://wire.example/shared",)
    filer = story_filer(SECTIONS)
    news, world = {"source_tags": ("US News",)}, {"source_tags": ("World",)}

    def store(feed_id: int, at: datetime, *entries: ProcessedEntry) -> None:
        storage.store_feed_update(make_update_at(feed_id, at, *entries), filer=filer)  # type: ignore[arg-type]

    store(wire, old, make_entry("old", **news), make_entry("starred", **news))
    # The wire's own tag says World; the local paper's default US News weighs less, so
    # the story is World while the wire's report is in it...
    store(wire, old, make_entry("shared-old", story_keys=shared, **world))
    store(local, recent, make_entry("shared-new", story_keys=shared, source_tags=()))
    store(local, recent, make_entry("new", **news))
    stories = {s.lead.guid: s for s in storage.list_stories(limit=100).stories}
    assert stories["shared-old"].sections == ("world",)
    storage.set_starred(stories["starred"].id, True, NOW)

    removed = storage.prune_entries(NOW - timedelta(days=90), NOW, filer)

    assert removed == 2  # "old" and "shared-old"
    with storage.read() as conn:
        guids = set(conn.scalars(select(schema.entries.c.guid)))
        pruned = set(conn.scalars(select(schema.pruned_entries.c.identity)))
    assert guids == {"starred", "shared-new", "new"}
    assert pruned == {"old", "shared-old"}
    remaining = {s.lead.guid: s for s in storage.list_stories(limit=100).stories}
    assert set(remaining) == {"starred", "shared-new", "new"}  # the shared story has a new lead
    assert remaining["shared-new"].id == stories["shared-old"].id
    # ...and filed again from what is left: the wire's "World" left with its entry.
    assert remaining["shared-new"].sections == ("us-news",)
    assert storage.list_stories(sections=("world",)).stories == ()
    counts = storage.unread_counts()
    assert {scope: counts.of(scope) for scope in unread_recount(storage)} == unread_recount(storage)
    assert counts.of("all") == 3


def test_a_pruned_entry_does_not_come_back(storage: Storage) -> None:
    (feed_id,) = add_feeds(storage, "https://wire.example/feed")
    old = make_entry("guid:old", guid="old")  # the identity a poll gives it
    storage.store_feed_update(make_update_at(feed_id, NOW - timedelta(days=100), old))  # type: ignore[arg-type]
    assert storage.prune_entries(NOW - timedelta(days=90), NOW) == 1
    feed = storage.get_feed(feed_id)
    assert feed is not None
    updater = Updater.from_config(Config(path="x.yaml"), storage, fetcher=None)  # type: ignore[arg-type]
    parsed = FeedData(
        url="https://wire.example/feed",
        title="Wire",
        link=None,
        entries=(
            EntryData(guid="old", link=None, title="Old", summary_html="", content_html=""),
            EntryData(guid="fresh", link=None, title="Fresh", summary_html="", content_html=""),
        ),
    )
    processed = updater.process_entries(feed, parsed)
    assert [entry.identity for entry in processed] == ["guid:fresh"]


def test_nothing_to_prune(storage: Storage) -> None:
    (feed_id,) = add_feeds(storage, "https://wire.example/feed")
    storage.store_feed_update(make_update(feed_id, make_entry("1")))
    assert storage.prune_entries(NOW - timedelta(days=90), datetime.now(UTC)) == 0
