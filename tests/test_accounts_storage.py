"""Read state per reader in storage, on a real SQLite file and (when configured) a real
PostgreSQL: readers are independent, the first user takes over the state of before
accounts, a removed user leaves nothing, and migration 8 upgrades a database whose
state was global. The property test of the counters with several readers is in
tests/test_reader_storage.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Boolean, Column, ForeignKey, Integer, MetaData, Table, Text, select

from aggregator.errors import AccountError
from aggregator.scopes import ALL, STARRED, feed_scope, section_scope
from aggregator.storage import Storage, open_storage, schema
from aggregator.storage.schema import UTCDateTime
from aggregator.types import ANONYMOUS, StreamFilter, User
from tests.test_reader_storage import assert_counts_exact, ids, top
from tests.test_storage import NOW, add_feeds, make_entry, make_update


def add_user(storage: Storage, name: str, role: str = "reader") -> User:
    return storage.add_user(
        name, role, "hash", session_key=f"s-{name}", feed_token=f"t-{name}", now=NOW
    )


def newsroom(storage: Storage) -> tuple[int, int]:
    feed_a, feed_b = add_feeds(storage, "https://a.example/feed", "https://b.example/feed")
    storage.store_feed_update(
        make_update(
            feed_a,
            *(make_entry(f"e{n}", published=NOW - timedelta(minutes=n)) for n in range(4)),
        )
    )
    storage.store_feed_update(
        # Published with e0 and stored after it: e0 (feed A) leads the story.
        make_update(
            feed_b, make_entry("b-e0", published=NOW, story_keys=("url:https://example.org/e0",))
        )
    )
    return feed_a, feed_b


def test_readers_keep_their_own_state(storage: Storage) -> None:
    feed_a, feed_b = newsroom(storage)
    alice, bob = add_user(storage, "alice", "admin"), add_user(storage, "bob")
    first, second, *_ = ids(storage.list_reader_stories(ALL, user=alice.id))
    storage.set_read(first, True, NOW, user=alice.id)
    storage.set_starred(second, True, NOW, user=bob.id)
    assert assert_counts_exact(storage, alice.id)[ALL] == 3
    assert assert_counts_exact(storage, bob.id)[ALL] == 4
    assert not storage.get_reader_story(first, user=alice.id).unread  # type: ignore[union-attr]
    assert storage.get_reader_story(first, user=bob.id).unread  # type: ignore[union-attr]
    assert ids(storage.list_reader_stories(STARRED, user=bob.id)) == [second]
    assert ids(storage.list_reader_stories(STARRED, user=alice.id)) == []
    assert storage.unread_counts(user=bob.id).starred_total == 1
    assert storage.unread_counts(user=alice.id).starred_total == 0
    # Bob marks his whole list read; Alice's counts do not move.
    page = storage.list_reader_stories(ALL, user=bob.id)
    storage.mark_all_read(ALL, newest=top(page), watermark=page.watermark, now=NOW, user=bob.id)
    assert assert_counts_exact(storage, bob.id) == {}
    assert assert_counts_exact(storage, alice.id) == {
        ALL: 3,
        section_scope("us-news"): 3,
        feed_scope(feed_a): 3,
    }
    assert storage.list_reader_stories(ALL, unread_only=True, user=bob.id).stories == ()
    # A new report of a story keeps each reader's flag.
    storage.store_feed_update(
        make_update(feed_b, make_entry("b-e1", story_keys=("url:https://example.org/e1",)))
    )
    assert assert_counts_exact(storage, alice.id)[feed_scope(feed_b)] == 1
    assert assert_counts_exact(storage, bob.id) == {}


def test_the_first_user_takes_over_the_state_of_before_accounts(storage: Storage) -> None:
    newsroom(storage)
    first, second, third, _ = ids(storage.list_reader_stories(ALL))
    storage.set_read(first, True, NOW)  # ANONYMOUS: the state without accounts
    storage.set_starred(second, True, NOW)
    before = assert_counts_exact(storage)
    admin = add_user(storage, "admin", "admin")
    assert assert_counts_exact(storage, admin.id) == before
    assert ids(storage.list_reader_stories(STARRED, user=admin.id)) == [second]
    assert not storage.get_reader_story(first, user=admin.id).unread  # type: ignore[union-attr]
    # ANONYMOUS keeps the lists, with everything unread and nothing starred.
    assert assert_counts_exact(storage)[ALL] == 4
    assert storage.list_reader_stories(STARRED).stories == ()
    # A later user starts with everything unread, whatever the others did.
    storage.set_read(third, True, NOW, user=admin.id)
    later = add_user(storage, "later")
    assert assert_counts_exact(storage, later.id)[ALL] == 4
    assert storage.unread_counts(user=later.id).starred_total == 0


def test_a_removed_user_leaves_nothing_and_the_last_admin_stays(storage: Storage) -> None:
    newsroom(storage)
    admin, reader = add_user(storage, "admin", "admin"), add_user(storage, "reader")
    story = ids(storage.list_reader_stories(ALL, user=reader.id))[0]
    storage.set_starred(story, True, NOW, user=reader.id)
    storage.set_read(story, True, NOW, user=reader.id)
    with pytest.raises(AccountError, match="last admin"):
        storage.remove_user(admin.id)
    with pytest.raises(AccountError, match="last admin"):
        storage.set_role(admin.id, "reader")
    storage.remove_user(reader.id)
    with storage.read() as conn:
        for table in (schema.story_state, schema.story_listings, schema.unread_counts):
            owners = set(conn.scalars(select(table.c.user_id).distinct()))
            assert owners <= {ANONYMOUS, admin.id}, table.name
    assert assert_counts_exact(storage, admin.id)[ALL] == 4
    with pytest.raises(AccountError, match="no such user"):
        storage.remove_user(reader.id)
    storage.remove_user(admin.id)  # the last user of all may go
    assert storage.count_users() == 0


def test_a_name_is_taken_once(storage: Storage) -> None:
    add_user(storage, "alice")
    with pytest.raises(AccountError, match="already a user named 'alice'"):
        add_user(storage, "alice")
    assert [user.name for user in storage.list_users()] == ["alice"]


def test_streams_filter_by_state_and_lead_feed(storage: Storage) -> None:
    feed_a, feed_b = newsroom(storage)
    reader = add_user(storage, "reader")
    e0, e1, e2, e3 = ids(storage.list_reader_stories(ALL, user=reader.id))
    storage.set_states([e1, e2, 999_999], NOW, user=reader.id, read=True)
    storage.set_states([e2, e3], NOW, user=reader.id, starred=True)

    def stream(**options: object) -> list[int]:
        page = storage.stream_page(StreamFilter(**options), user=reader.id, limit=10)  # type: ignore[arg-type]
        return [ref.story_id for ref in page.refs]

    assert stream(scope=ALL) == [e0, e1, e2, e3]
    assert stream(scope=ALL, unread=True) == [e0, e3]
    assert stream(scope=ALL, unread=False) == [e1, e2]
    assert stream(scope=ALL, starred=True, unread=True) == [e3]
    assert stream(scope=ALL, starred=False) == [e0, e1]
    assert stream(scope=ALL, oldest_first=True) == [e3, e2, e1, e0]
    # e0 is reported by both feeds but led by feed A: it is in A's stream only.
    assert stream(scope=feed_scope(feed_b), lead_feed=feed_b) == []
    assert stream(scope=feed_scope(feed_a), lead_feed=feed_a) == [e0, e1, e2, e3]
    unread_by_feed = {
        item.feed_id: item.unread for item in storage.unread_by_lead_feed(user=reader.id)
    }
    assert unread_by_feed == {feed_a: 2}
    # Paging walks every story once, newest first.
    seen, after = [], None
    while True:
        page = storage.stream_page(StreamFilter(scope=ALL), user=reader.id, after=after, limit=3)
        seen.extend(ref.story_id for ref in page.refs)
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert seen == [e0, e1, e2, e3]
    assert storage.mark_stream_read(StreamFilter(scope=ALL), NOW, user=reader.id) == 2
    assert assert_counts_exact(storage, reader.id) == {}
    assert assert_counts_exact(storage)[ALL] == 4  # ANONYMOUS untouched


# --- migration 8: a database from before accounts ------------------------------------------


def old_state_tables(metadata: MetaData) -> tuple[Table, Table, Table]:
    """story_state, story_listings and unread_counts as migrations 3-5 left them."""
    state = Table(
        "story_state",
        metadata,
        Column("story_id", Integer, ForeignKey(schema.stories.c.id), primary_key=True),
        Column("read_at", UTCDateTime),
        Column("starred_at", UTCDateTime),
    )
    listings = Table(
        "story_listings",
        metadata,
        Column("story_id", Integer, ForeignKey(schema.stories.c.id), primary_key=True),
        Column("scope", Text, primary_key=True),
        Column("sort_at", UTCDateTime, nullable=False),
        Column("unread", Boolean, nullable=False),
    )
    counts = Table(
        "unread_counts",
        metadata,
        Column("scope", Text, primary_key=True),
        Column("unread", Integer, nullable=False),
    )
    return state, listings, counts


def test_migration_8_keeps_the_global_state_for_the_first_admin(db_url: str) -> None:
    storage = open_storage(db_url)
    newsroom(storage)
    first, second, *_ = ids(storage.list_reader_stories(ALL))
    storage.set_read(first, True, NOW)
    storage.set_starred(second, True, NOW)
    expected = assert_counts_exact(storage)
    # Turn the database back into one of before accounts, with its rows.
    new_tables = (schema.story_state, schema.story_listings, schema.unread_counts)
    old_tables = old_state_tables(MetaData())
    with storage.write() as conn:
        saved = {
            table.name: [dict(row._mapping) for row in conn.execute(select(table))]
            for table in new_tables
        }
        for table in (schema.api_tokens, schema.app_passwords, schema.login_failures, schema.users):
            table.drop(conn)
        for table in new_tables:
            table.drop(conn)
        for old in old_tables:
            old.create(conn)
            rows = [{k: v for k, v in row.items() if k != "user_id"} for row in saved[old.name]]
            if rows:
                conn.execute(old.insert(), rows)
        conn.execute(
            schema.schema_migrations.delete().where(schema.schema_migrations.c.version == 8)
        )
    storage.close()

    upgraded = open_storage(db_url)
    assert assert_counts_exact(upgraded) == expected  # ANONYMOUS holds the old state
    assert upgraded.migrate() == []
    admin = add_user(upgraded, "admin", "admin")
    assert assert_counts_exact(upgraded, admin.id) == expected
    assert ids(upgraded.list_reader_stories(STARRED, user=admin.id)) == [second]
    assert not upgraded.get_reader_story(first, user=admin.id).unread  # type: ignore[union-attr]
    upgraded.close()
