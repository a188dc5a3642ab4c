"""Storage on a real SQLite file and (when configured) a real PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from aggregator.config import FeedConfig
from aggregator.storage import (
    MIGRATIONS,
    FeedFailure,
    FeedUpdate,
    ProcessedEntry,
    Storage,
    open_storage,
    schema,
)
from aggregator.types import Enclosure

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def make_entry(identity: str, **overrides: object) -> ProcessedEntry:
    values: dict[str, object] = {
        "identity": identity,
        "content_hash": "h-" + identity,
        "guid": identity,
        "link": f"https://example.org/{identity}",
        "canonical_url": f"https://example.org/{identity}",
        "title": f"Title {identity}",
        "summary_html": "<p>summary</p>",
        "content_html": "",
        "summary_text": "summary",
        "author": "A. Writer",
        "published": NOW - timedelta(hours=1),
        "updated": None,
        "tags": ("Local",),
        "enclosures": (Enclosure("https://example.org/a.mp3", "audio/mpeg", 1234),),
        "sections": ("us-news",),
        "story_keys": (f"url:https://example.org/{identity}",),
    }
    values.update(overrides)
    return ProcessedEntry(**values)  # type: ignore[arg-type]


def make_update(feed_id: int, *entries: ProcessedEntry, etag: str = '"v1"') -> FeedUpdate:
    return FeedUpdate(
        feed_id=feed_id,
        fetched_at=NOW,
        status=200,
        etag=etag,
        last_modified="Sun, 29 Nov 2026 11:00:00 GMT",
        body_hash="b" * 64,
        feed_title="Feed title",
        site_url="https://example.org",
        subtitle=None,
        permanent_redirect_url=None,
        next_check_at=NOW + timedelta(minutes=30),
        entries=entries,
    )


def add_feeds(storage: Storage, *urls: str) -> list[int]:
    storage.sync_feeds(tuple(FeedConfig(url=url) for url in urls), NOW)
    found = [storage.get_feed_by_url(url) for url in urls]
    return [feed.id for feed in found if feed]


def count(storage: Storage, table: object) -> int:
    with storage.read() as conn:
        return int(conn.scalar(select(func.count()).select_from(table)) or 0)  # type: ignore[arg-type]


def test_migrations_apply_once(db_url: str) -> None:
    first = open_storage(db_url)
    assert first.migrate() == []  # already applied by open_storage
    with first.read() as conn:
        versions = list(conn.scalars(select(schema.schema_migrations.c.version)))
    assert versions == [version for version, _, _ in MIGRATIONS]
    first.close()
    second = open_storage(db_url)
    assert second.migrate() == []
    second.close()


def test_sync_feeds_adds_updates_and_deactivates(storage: Storage) -> None:
    storage.sync_feeds(
        (FeedConfig(url="https://a.example/feed"), FeedConfig(url="https://b.example/feed")), NOW
    )
    storage.sync_feeds(
        (
            FeedConfig(
                url="https://a.example/feed", title="A", section="US News", interval_seconds=3600
            ),
        ),
        NOW,
    )
    by_url = {feed.url: feed for feed in storage.list_feeds()}
    assert by_url["https://a.example/feed"].config_title == "A"
    assert by_url["https://a.example/feed"].section == "US News"
    assert by_url["https://a.example/feed"].interval_seconds == 3600
    assert by_url["https://a.example/feed"].active
    assert not by_url["https://b.example/feed"].active
    assert [feed.url for feed in storage.due_feeds(NOW)] == ["https://a.example/feed"]


def test_store_new_then_update_in_place_then_skip_unchanged(storage: Storage) -> None:
    (feed_id,) = add_feeds(storage, "https://a.example/feed")
    first = storage.store_feed_update(make_update(feed_id, make_entry("1"), make_entry("2")))
    assert (first.new, first.updated) == (2, 0)
    assert storage.get_entry_hashes(feed_id, ["1", "2", "3"]) == {"1": "h-1", "2": "h-2"}

    changed = make_entry("1", title="New title", content_hash="h-1b", sections=("us-military",))
    second = storage.store_feed_update(make_update(feed_id, changed, make_entry("2")))
    assert (second.new, second.updated) == (0, 1)
    assert count(storage, schema.entries) == 2
    with storage.read() as conn:
        row = conn.execute(select(schema.entries).where(schema.entries.c.identity == "1")).one()
        sections = list(
            conn.scalars(
                select(schema.entry_sections.c.section).where(
                    schema.entry_sections.c.entry_id == row.id
                )
            )
        )
    assert row.title == "New title"
    assert sections == ["us-military"]
    assert row.tags == ["Local"]
    assert row.enclosures == [
        {"url": "https://example.org/a.mp3", "type": "audio/mpeg", "length": 1234}
    ]
    assert row.first_seen_at == NOW


def test_update_writes_validators_and_clears_errors(storage: Storage) -> None:
    (feed_id,) = add_feeds(storage, "https://a.example/feed")
    storage.record_failure(
        FeedFailure(
            feed_id=feed_id, fetched_at=NOW, error="HTTP 500", status=500, next_check_at=NOW
        )
    )
    assert storage.get_feed(feed_id).error_count == 1  # type: ignore[union-attr]
    storage.store_feed_update(make_update(feed_id, make_entry("1"), etag='"v2"'))
    feed = storage.get_feed(feed_id)
    assert feed is not None
    assert (feed.etag, feed.error_count, feed.last_error, feed.last_status) == (
        '"v2"',
        0,
        None,
        200,
    )
    assert feed.feed_title == "Feed title"
    assert feed.next_check_at == NOW + timedelta(minutes=30)


def test_gone_feed_is_not_due(storage: Storage) -> None:
    (feed_id,) = add_feeds(storage, "https://a.example/feed")
    storage.record_failure(
        FeedFailure(
            feed_id=feed_id,
            fetched_at=NOW,
            error="HTTP 410 Gone",
            status=410,
            gone=True,
            next_check_at=NOW,
        )
    )
    assert storage.get_feed(feed_id).gone  # type: ignore[union-attr]
    assert storage.due_feeds(NOW + timedelta(days=1)) == []


def test_entries_from_different_feeds_share_a_story(storage: Storage) -> None:
    wire, local, other = add_feeds(
        storage,
        "https://wire.example/feed",
        "https://local.example/feed",
        "https://other.example/feed",
    )
    storage.store_feed_update(
        make_update(wire, make_entry("w1", story_keys=("url:https://wire.example/a", "text:abc")))
    )
    # Same canonical URL from another outlet, and a verbatim copy under another URL.
    storage.store_feed_update(
        make_update(other, make_entry("o1", story_keys=("url:https://wire.example/a",)))
    )
    storage.store_feed_update(
        make_update(local, make_entry("l1", story_keys=("url:https://local.example/b", "text:abc")))
    )
    storage.store_feed_update(
        make_update(local, make_entry("l2", story_keys=("url:https://local.example/c",)))
    )
    with storage.read() as conn:
        story_of = dict(
            conn.execute(select(schema.entries.c.identity, schema.entries.c.story_id)).all()
        )
    assert story_of["w1"] == story_of["o1"] == story_of["l1"]
    assert story_of["l2"] != story_of["w1"]
    assert count(storage, schema.stories) == 2


def test_text_with_nul_is_stored(storage: Storage) -> None:
    (feed_id,) = add_feeds(storage, "https://a.example/feed")
    entry = make_entry("nul", title="Bad\x00title", summary_html="<p>a\x00b</p>", author="x\x00y")
    storage.store_feed_update(make_update(feed_id, entry))
    with storage.read() as conn:
        row = conn.execute(select(schema.entries)).one()
    assert (row.title, row.summary_html, row.author) == ("Badtitle", "<p>ab</p>", "xy")


def test_future_dates_do_not_pin_entries_to_the_top(storage: Storage) -> None:
    (feed_id,) = add_feeds(storage, "https://a.example/feed")
    storage.store_feed_update(
        make_update(feed_id, make_entry("future", published=NOW + timedelta(days=30)))
    )
    with storage.read() as conn:
        row = conn.execute(select(schema.entries)).one()
    assert row.sort_at == NOW
    assert row.published_at == NOW + timedelta(days=30)


KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime, timedelta
    from sqlalchemy import insert
    from aggregator.storage import open_storage, schema
    import aggregator.storage._entries as entries_module
    from tests.test_storage import make_entry, make_update

    storage = open_storage(sys.argv[1])
    feed_id = int(sys.argv[2])
    update = make_update(feed_id, *[make_entry(str(i)) for i in range(200)], etag='"killed"')
    original = entries_module.write_updates

    def write_then_hang(*args, **kwargs):
        result = original(*args, **kwargs)
        print("written", flush=True)
        time.sleep(60)  # killed here, inside the transaction
        return result

    entries_module.write_updates = write_then_hang
    storage.store_feed_update(update)
    """
)


def test_killed_update_leaves_nothing_partial(
    storage: Storage, db_url: str, tmp_path: Path
) -> None:
    (feed_id,) = add_feeds(storage, "https://a.example/feed")
    storage.store_feed_update(make_update(feed_id, make_entry("0"), etag='"v1"'))
    script = tmp_path / "writer.py"
    script.write_text(KILLED_WRITER)
    repo = Path(__file__).resolve().parent.parent
    process = subprocess.Popen(
        [sys.executable, str(script), db_url, str(feed_id)],
        stdout=subprocess.PIPE,
        cwd=repo,
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, (str(repo), os.environ.get("PYTHONPATH")))),
        },
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "written"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
        if process.stdout:
            process.stdout.close()
    assert count(storage, schema.entries) == 1
    assert storage.get_feed(feed_id).etag == '"v1"'  # type: ignore[union-attr]
    # Running the same update again stores everything exactly once.
    redo = make_update(feed_id, *[make_entry(str(i)) for i in range(200)], etag='"v2"')
    result = storage.store_feed_update(redo)
    assert (result.new, result.updated) == (199, 0)
    assert count(storage, schema.entries) == 200
    assert storage.get_feed(feed_id).etag == '"v2"'  # type: ignore[union-attr]


def test_concurrent_writers_on_sqlite_do_not_hit_locked(tmp_path: Path) -> None:
    """Many threads updating feeds at once: BEGIN IMMEDIATE + busy timeout, no 'locked'."""
    from concurrent.futures import ThreadPoolExecutor

    storage = open_storage(f"sqlite:///{tmp_path / 'c.db'}")
    ids = add_feeds(storage, *[f"https://f{i}.example/feed" for i in range(8)])

    def write(feed_id: int) -> int:
        total = 0
        for round_ in range(5):
            entries = [make_entry(f"{feed_id}-{round_}-{i}") for i in range(20)]
            total += storage.store_feed_update(make_update(feed_id, *entries)).new
        return total

    with ThreadPoolExecutor(8) as pool:
        totals = list(pool.map(write, ids))
    assert totals == [100] * 8
    assert count(storage, schema.entries) == 800
    storage.close()


def test_stories_are_listed_once_newest_first_with_their_other_reports(storage: Storage) -> None:
    wire, local = add_feeds(storage, "https://wire.example/feed", "https://local.example/feed")
    for i in range(5):
        storage.store_feed_update(
            make_update(
                wire,
                make_entry(
                    f"w{i}",
                    published=NOW - timedelta(hours=10 - i),
                    sections=("us-news",) if i % 2 else ("world",),
                    story_keys=(f"url:https://wire.example/{i}",),
                ),
            )
        )
    # The local paper reports story 3 too, later, in another section.
    storage.store_feed_update(
        make_update(
            local,
            make_entry("l3", sections=("us-military",), story_keys=("url:https://wire.example/3",)),
        )
    )
    page = storage.list_stories(limit=10)
    assert [story.lead.guid for story in page.stories] == ["w4", "w3", "w2", "w1", "w0"]
    story3 = page.stories[1]
    assert [other.guid for other in story3.others] == ["l3"]
    assert story3.others[0].feed_url == "https://local.example/feed"
    assert story3.sections == ("us-military", "us-news")
    assert page.next_cursor is None

    military = storage.list_stories(sections=("us-military",))
    assert [story.id for story in military.stories] == [story3.id]
    both = storage.list_stories(sections=("us-military", "us-news"))
    assert [story.lead.guid for story in both.stories] == ["w3", "w1"]


def test_keyset_pages_walk_everything_once_even_with_new_arrivals(storage: Storage) -> None:
    (feed_id,) = add_feeds(storage, "https://a.example/feed")
    same_time = NOW - timedelta(hours=1)  # ties on sort_at are broken by id
    storage.store_feed_update(
        make_update(
            feed_id,
            *[
                make_entry(str(i), published=same_time if i < 4 else NOW - timedelta(minutes=i))
                for i in range(10)
            ],
        )
    )
    seen: list[str | None] = []
    page = storage.list_stories(limit=3)
    seen += [story.lead.guid for story in page.stories]
    storage.store_feed_update(make_update(feed_id, make_entry("new", published=NOW)))
    while page.next_cursor:
        page = storage.list_stories(limit=3, before=page.next_cursor)
        seen += [story.lead.guid for story in page.stories]
    assert sorted(seen, key=str) == sorted([str(i) for i in range(10)], key=str)
    assert len(seen) == len(set(seen))


def test_section_versions_bump_only_when_something_changes(storage: Storage) -> None:
    (feed_id,) = add_feeds(storage, "https://a.example/feed")
    storage.store_feed_update(make_update(feed_id, make_entry("1", sections=("us-news",))))
    first = storage.section_versions(("*", "us-news", "world"))
    assert set(first) == {"*", "us-news"}
    storage.store_feed_update(make_update(feed_id, make_entry("1", sections=("us-news",))))
    assert storage.section_versions(("*", "us-news")) == first  # nothing changed
    moved = make_entry("1", content_hash="changed", sections=("world",))
    storage.store_feed_update(make_update(feed_id, moved))
    after = storage.section_versions(("*", "us-news", "world"))
    assert after["*"][0] == first["*"][0] + 1
    assert after["us-news"][0] == first["us-news"][0] + 1  # it left us-news
    assert after["world"][0] == 1
    assert storage.list_stories(sections=("us-news",)).stories == ()


def test_claims_never_hand_one_feed_to_two_pollers(storage: Storage) -> None:
    ids = add_feeds(storage, *[f"https://f{i}.example/feed" for i in range(6)])
    first = storage.claim_due_feeds(NOW, owner="a", lease_seconds=300, limit=4)
    second = storage.claim_due_feeds(NOW, owner="b", lease_seconds=300)
    assert len(first) == 4 and len(second) == 2
    assert {f.id for f in first} | {f.id for f in second} == set(ids)
    assert storage.claim_due_feeds(NOW, owner="c", lease_seconds=300) == []
    # Recording a result releases the lease; an expired lease can be taken over.
    storage.store_feed_update(replace_next_check(make_update(first[0].id), NOW))
    assert [f.id for f in storage.claim_due_feeds(NOW, owner="c", lease_seconds=300)] == [
        first[0].id
    ]
    later = NOW + timedelta(minutes=6)
    taken_over = storage.claim_due_feeds(later, owner="d", lease_seconds=300)
    assert {f.id for f in taken_over} == set(ids)


def replace_next_check(update: FeedUpdate, next_check_at: datetime) -> FeedUpdate:
    return replace(update, next_check_at=next_check_at)


def test_later_migrations_are_idempotent_and_upgrade_old_databases(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    storage = open_storage(url)
    with storage.write() as conn:  # make it look like a database from before migration 2
        conn.exec_driver_sql("ALTER TABLE feeds DROP COLUMN lease_owner")
        conn.exec_driver_sql("ALTER TABLE feeds DROP COLUMN lease_until")
        conn.exec_driver_sql("DELETE FROM schema_migrations WHERE version >= 2")
    storage.close()
    upgraded = open_storage(url)
    add_feeds(upgraded, "https://a.example/feed")
    assert len(upgraded.claim_due_feeds(NOW, owner="x", lease_seconds=60)) == 1
    upgraded.close()


def test_concurrent_first_reports_of_one_story_join_it(storage: Storage) -> None:
    """Feeds written at once (several processes on one database) that first report the
    same article end in one story: story assignment is one writer at a time (SQLite's
    write lock; an advisory lock on PostgreSQL)."""
    urls = [f"https://feed{n}.example/rss" for n in range(6)]
    feed_ids = add_feeds(storage, *urls)
    keys = ("url:https://wire.example/same",)
    start = threading.Barrier(len(feed_ids))

    def write(feed_id: int) -> None:
        start.wait()
        storage.store_feed_update(make_update(feed_id, make_entry(f"e{feed_id}", story_keys=keys)))

    threads = [threading.Thread(target=write, args=(feed_id,)) for feed_id in feed_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    with storage.read() as conn:
        owners = set(conn.scalars(select(schema.story_keys.c.story_id)))
        story_count = conn.scalar(select(func.count()).select_from(schema.stories))
        reports = conn.scalar(select(func.count()).select_from(schema.entries))
    assert story_count == 1 and len(owners) == 1 and reports == len(feed_ids)


def test_a_moved_feed_given_its_new_url_in_feeds_yaml_stays_the_same_feed(
    storage: Storage,
) -> None:
    old, new = "https://old.example/feed", "https://new.example/feed"
    other_old, other_new = "https://a.example/feed", "https://b.example/feed"
    feed_id, other_id = add_feeds(storage, old, other_old)
    moved = replace(
        make_update(feed_id, make_entry("a"), make_entry("b")),
        permanent_redirect_url=new,
        redirect_target=new,
        redirect_count=3,
        fetch_url=new,
    )
    storage.store_feed_update(moved)
    storage.store_feed_update(make_update(other_id, make_entry("c")))
    # The admin follows the suggestion for one feed and swaps the other for an
    # unrelated one.
    storage.sync_feeds((FeedConfig(url=new, title="Renamed"), FeedConfig(url=other_new)), NOW)

    feed = storage.get_feed_by_url(new)
    assert feed is not None and feed.id == feed_id and feed.active
    assert feed.title == "Renamed" and feed.etag == '"v1"'  # its validators are kept
    assert feed.fetch_url is None and feed.permanent_redirect_url is None
    assert feed.redirect_target is None and feed.redirect_count == 0
    assert storage.get_feed_by_url(old) is None
    # Its entries stay its own: the next poll finds them and stores nothing twice.
    assert storage.get_entry_hashes(feed_id, ["a", "b"]) == {"a": "h-a", "b": "h-b"}
    assert (
        storage.store_feed_update(make_update(feed_id, make_entry("a"), make_entry("b"))).new == 0
    )
    # A feed that did not move there is replaced, not renamed.
    replaced = storage.get_feed_by_url(other_new)
    assert replaced is not None and replaced.id != other_id
    stale = storage.get_feed(other_id)
    assert stale is not None and not stale.active
