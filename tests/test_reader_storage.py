"""The reader's storage: read/starred state, lists, unread counters and search, on a real
SQLite file and (when configured) a real PostgreSQL.

Unread counters are maintained incrementally; ``expected_unread`` recomputes them from
the entries, sections and state tables, independently of the maintained data, and
every test compares the two.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import distinct, func, select

from aggregator.scopes import ALL, STARRED, feed_scope, section_scope
from aggregator.storage import Storage, fts5_query, open_storage, schema
from aggregator.types import ANONYMOUS, ReaderPage, StoryCursor
from tests.test_storage import NOW, add_feeds, make_entry, make_update

LATER = NOW + timedelta(minutes=5)


def expected_unread(storage: Storage, user: int = ANONYMOUS) -> dict[str, int]:
    """One reader's unread stories per scope, counted from scratch (the oracle for the
    counters)."""
    entries, state = schema.entries, schema.story_state
    read = select(state.c.story_id).where(state.c.read_at.is_not(None), state.c.user_id == user)
    counts: dict[str, int] = {}
    with storage.read() as conn:
        unread_stories = select(schema.stories.c.id).where(schema.stories.c.id.not_in(read))
        counts[ALL] = int(conn.scalar(select(func.count()).select_from(unread_stories.subquery())))
        by_feed = (
            select(entries.c.feed_id, func.count(distinct(entries.c.story_id)))
            .where(entries.c.story_id.not_in(read))
            .group_by(entries.c.feed_id)
        )
        for feed_id, number in conn.execute(by_feed):
            counts[feed_scope(feed_id)] = number
        by_section = (
            select(schema.entry_sections.c.section, func.count(distinct(entries.c.story_id)))
            .join(entries, entries.c.id == schema.entry_sections.c.entry_id)
            .where(entries.c.story_id.not_in(read))
            .group_by(schema.entry_sections.c.section)
        )
        for section, number in conn.execute(by_section):
            counts[section_scope(section)] = number
        starred = (
            select(func.count())
            .select_from(state)
            .where(
                state.c.starred_at.is_not(None),
                state.c.read_at.is_(None),
                state.c.user_id == user,
            )
        )
        counts[STARRED] = int(conn.scalar(starred) or 0)
    return {scope: number for scope, number in counts.items() if number}


def maintained_unread(storage: Storage, user: int = ANONYMOUS) -> dict[str, int]:
    counts = storage.unread_counts(user=user).by_scope
    return {scope: number for scope, number in counts.items() if number}


def assert_counts_exact(storage: Storage, user: int = ANONYMOUS) -> dict[str, int]:
    maintained = maintained_unread(storage, user)
    assert maintained == expected_unread(storage, user)
    return maintained


def ids(page: ReaderPage) -> list[int]:
    return [item.story.id for item in page.stories]


def top(page: ReaderPage) -> StoryCursor:
    first = page.stories[0].story
    return StoryCursor(first.sort_at, first.id)


def test_new_stories_are_unread_and_counted_per_list(storage: Storage) -> None:
    feed_a, feed_b = add_feeds(storage, "https://a.example/feed", "https://b.example/feed")
    storage.store_feed_update(
        make_update(
            feed_a,
            make_entry("one"),
            make_entry("two", sections=("us-news", "us-military")),
            make_entry("three", sections=()),
        )
    )
    # The same article from feed B joins story "one": still one unread story.
    storage.store_feed_update(
        make_update(feed_b, make_entry("b-one", story_keys=("url:https://example.org/one",)))
    )
    counts = assert_counts_exact(storage)
    assert counts == {
        ALL: 3,
        section_scope("us-news"): 2,
        section_scope("us-military"): 1,
        feed_scope(feed_a): 3,
        feed_scope(feed_b): 1,
    }
    page = storage.list_reader_stories(ALL)
    assert all(item.unread and not item.starred for item in page.stories)
    joined = next(item for item in page.stories if item.story.others)
    assert set(joined.scopes) >= {ALL, feed_scope(feed_a), feed_scope(feed_b)}


def test_read_and_unread_move_every_count_once(storage: Storage) -> None:
    feed_a, feed_b = add_feeds(storage, "https://a.example/feed", "https://b.example/feed")
    storage.store_feed_update(make_update(feed_a, make_entry("one"), make_entry("two")))
    storage.store_feed_update(
        make_update(feed_b, make_entry("b-one", story_keys=("url:https://example.org/one",)))
    )
    story = storage.list_reader_stories(feed_scope(feed_b)).stories[0].story
    for _ in range(2):  # marking twice changes nothing more
        state = storage.set_read(story.id, True, NOW)
        assert state is not None and not state.unread and state.read_at == NOW
    assert assert_counts_exact(storage) == {
        ALL: 1,
        section_scope("us-news"): 1,
        feed_scope(feed_a): 1,
    }
    assert storage.get_reader_story(story.id).unread is False  # type: ignore[union-attr]
    storage.set_read(story.id, False, NOW)
    assert assert_counts_exact(storage)[ALL] == 2
    assert storage.set_read(999_999, True, NOW) is None
    assert storage.set_starred(999_999, True, NOW) is None


def test_a_new_report_of_a_read_story_keeps_it_read(storage: Storage) -> None:
    feed_a, feed_c = add_feeds(storage, "https://a.example/feed", "https://c.example/feed")
    storage.store_feed_update(make_update(feed_a, make_entry("one")))
    story_id = storage.list_reader_stories(ALL).stories[0].story.id
    storage.set_read(story_id, True, NOW)
    storage.store_feed_update(
        make_update(
            feed_c,
            make_entry(
                "c-one", story_keys=("url:https://example.org/one",), sections=("us-military",)
            ),
        )
    )
    assert assert_counts_exact(storage) == {}
    listed = storage.list_reader_stories(section_scope("us-military"))
    assert ids(listed) == [story_id] and not listed.stories[0].unread
    assert ids(storage.list_reader_stories(feed_scope(feed_c), unread_only=True)) == []


def test_an_updated_entry_moves_its_count_to_its_new_section(storage: Storage) -> None:
    (feed_a,) = add_feeds(storage, "https://a.example/feed")
    storage.store_feed_update(make_update(feed_a, make_entry("one")))
    moved = make_entry("one", content_hash="h2", sections=("us-military",))
    storage.store_feed_update(make_update(feed_a, moved, etag='"v2"'))
    assert assert_counts_exact(storage) == {
        ALL: 1,
        section_scope("us-military"): 1,
        feed_scope(feed_a): 1,
    }
    assert ids(storage.list_reader_stories(section_scope("us-news"))) == []


def test_mark_all_read_stops_at_what_was_shown(storage: Storage) -> None:
    (feed_a,) = add_feeds(storage, "https://a.example/feed")
    shown = [make_entry(f"s{n}", published=NOW - timedelta(hours=n + 1)) for n in range(5)]
    other_section = make_entry("mil", sections=("us-military",))
    storage.store_feed_update(make_update(feed_a, *shown, other_section))
    page = storage.list_reader_stories(section_scope("us-news"))
    assert len(page.stories) == 5
    # Arriving after the page was shown: one newer than the top, one older (its
    # published date is in the past) that would sort in the middle of the page.
    late = [
        make_entry("newer", published=NOW),
        make_entry("late-old", published=NOW - timedelta(hours=2, minutes=30)),
    ]
    storage.store_feed_update(replace(make_update(feed_a, *late), fetched_at=LATER))
    marked = storage.mark_all_read(
        section_scope("us-news"), newest=top(page), watermark=page.watermark, now=LATER
    )
    assert marked == 5
    unread = storage.list_reader_stories(ALL, unread_only=True)
    titles = sorted(item.story.lead.title for item in unread.stories)
    assert titles == ["Title late-old", "Title mil", "Title newer"]
    assert_counts_exact(storage)


def test_unread_only_pages_walk_every_unread_story_once(storage: Storage) -> None:
    (feed_a,) = add_feeds(storage, "https://a.example/feed")
    entries = [make_entry(f"e{n}", published=NOW - timedelta(minutes=n)) for n in range(7)]
    storage.store_feed_update(make_update(feed_a, *entries))
    everything = ids(storage.list_reader_stories(ALL))
    for story_id in everything[1::2]:
        storage.set_read(story_id, True, NOW)
    seen: list[int] = []
    page = storage.list_reader_stories(ALL, unread_only=True, limit=2)
    while True:
        seen.extend(ids(page))
        newcomer = make_entry(f"new{len(seen)}", published=NOW + timedelta(minutes=len(seen)))
        storage.store_feed_update(replace(make_update(feed_a, newcomer), fetched_at=LATER))
        if page.next_cursor is None:
            break
        page = storage.list_reader_stories(ALL, unread_only=True, limit=2, before=page.next_cursor)
    assert seen == everything[0::2]
    assert_counts_exact(storage)


def test_starred_list_and_neighbours(storage: Storage) -> None:
    (feed_a,) = add_feeds(storage, "https://a.example/feed")
    entries = [make_entry(f"e{n}", published=NOW - timedelta(minutes=n)) for n in range(4)]
    storage.store_feed_update(make_update(feed_a, *entries))
    newest, second, third, oldest = ids(storage.list_reader_stories(ALL))
    storage.set_starred(third, True, NOW)
    state = storage.set_starred(newest, True, NOW)
    assert state is not None and state.starred and state.starred_at == NOW
    storage.set_read(newest, True, NOW)
    assert ids(storage.list_reader_stories(STARRED)) == [newest, third]
    assert storage.unread_counts().starred_total == 2
    assert assert_counts_exact(storage)[STARRED] == 1
    storage.set_starred(newest, False, NOW)
    assert ids(storage.list_reader_stories(STARRED)) == [third]
    assert_counts_exact(storage)
    around = storage.story_neighbours(second, ALL)
    assert (around.newer, around.older) == (newest, third)
    assert storage.story_neighbours(oldest, ALL).older is None
    assert storage.story_neighbours(third, STARRED).newer is None


def test_search_highlights_matches_and_filters_by_section(storage: Storage) -> None:
    feed_a, feed_b = add_feeds(storage, "https://a.example/feed", "https://b.example/feed")
    storage.store_feed_update(
        make_update(
            feed_a,
            make_entry("navy", title="Navy launches new frigate", summary_text="At sea."),
            make_entry(
                "budget",
                title="Budget talks",
                sections=("us-military",),
                content_html="<p>The <b>frigate</b> program &amp; its costs.</p>",
            ),
            make_entry("<b>", title="Tags <b> & ampersands", summary_text="x < y frigate"),
        )
    )
    storage.store_feed_update(
        make_update(
            feed_b,
            make_entry(
                "b-budget",
                story_keys=("url:https://example.org/budget",),
                title="Other outlet",
                summary_text="Mentions the submarine too.",
            ),
        )
    )
    hits = storage.search_stories("frigate")
    titles = [item.story.lead.title for item in hits.stories]
    assert titles == ["Tags <b> & ampersands", "Budget talks", "Navy launches new frigate"]
    navy = hits.stories[2]
    assert ("frigate", True) in navy.title_highlight
    assert "".join(text for text, _ in navy.title_highlight) == "Navy launches new frigate"
    budget = hits.stories[1]
    assert any(matched and text.lower() == "frigate" for text, matched in budget.snippet_highlight)
    # Text of another outlet's report finds the story too.
    assert [item.story.id for item in storage.search_stories("submarine").stories] == [
        budget.story.id
    ]
    in_military = storage.search_stories("frigate", section="us-military")
    assert [item.story.id for item in in_military.stories] == [budget.story.id]
    assert storage.search_stories('"launches new"').stories[0].story.id == navy.story.id
    assert storage.search_stories("frigate launches").stories[0].story.id == navy.story.id
    # Stemming: "launch" finds "launches".
    assert [item.story.id for item in storage.search_stories("launch").stories] == [navy.story.id]


@pytest.mark.parametrize(
    "query",
    ['"', "*", "NEAR(a b)", "title:x", "-", "AND", "a OR", "'", "\\", "^a", ":", "((", "", " ",
     "ünïcödé", "a\x00b", '"unterminated', "\ue000frigate\ue001", "NOT", "a -b", "x" * 2000],
)  # fmt: skip
def test_any_typed_query_is_safe(storage: Storage, query: str) -> None:
    (feed_a,) = add_feeds(storage, "https://a.example/feed")
    storage.store_feed_update(make_update(feed_a, make_entry("one", title="frigate")))
    storage.search_stories(query)  # no exception, whatever it finds


def test_fts5_query_quotes_every_term() -> None:
    expected = '"navy" AND "new frigate" AND "x" AND "title y"'
    assert fts5_query('navy "new frigate" -x title:y') == expected
    assert fts5_query('" * ( ') is None


def test_search_pages_walk_every_hit_once(storage: Storage) -> None:
    (feed_a,) = add_feeds(storage, "https://a.example/feed")
    storage.store_feed_update(
        make_update(feed_a, *(make_entry(f"e{n}", title=f"Frigate {n}") for n in range(5)))
    )
    seen: list[int] = []
    page = storage.search_stories("frigate", limit=2)
    while True:
        seen.extend(item.story.id for item in page.stories)
        if page.next_before is None:
            break
        page = storage.search_stories("frigate", limit=2, before=page.next_before)
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == 5


def test_feed_health_and_shared_secret(storage: Storage, db_url: str) -> None:
    feed_a, feed_b = add_feeds(storage, "https://a.example/feed", "https://b.example/feed")
    storage.store_feed_update(make_update(feed_a, make_entry("one"), make_entry("two")))
    counts = {feed.id: entry_count for feed, entry_count in storage.feed_health()}
    assert (counts[feed_a], counts[feed_b]) == (2, 0)
    secret = storage.shared_secret("session")
    assert len(secret) == 64
    other = open_storage(db_url)
    assert other.shared_secret("session") == secret
    other.close()


def test_upgrading_a_database_from_before_migration_3_indexes_its_stories(db_url: str) -> None:
    storage = open_storage(db_url)
    feed_a, feed_b = add_feeds(storage, "https://a.example/feed", "https://b.example/feed")
    storage.store_feed_update(make_update(feed_a, make_entry("one", title="Frigate")))
    storage.store_feed_update(
        make_update(feed_b, make_entry("b", story_keys=("url:https://example.org/one",)))
    )
    with storage.write() as conn:
        for table in ("story_search", "story_listings", "unread_counts", "story_state"):
            conn.exec_driver_sql(f"DROP TABLE {table}")
        conn.exec_driver_sql("DELETE FROM schema_migrations WHERE version >= 3")
    storage.close()
    upgraded = open_storage(db_url)
    assert assert_counts_exact(upgraded)[ALL] == 1
    assert len(upgraded.search_stories("frigate").stories) == 1
    assert upgraded.migrate() == []
    upgraded.close()


# --- counters stay exact under any sequence of operations, for several readers ------

FEEDS = ("https://a.example/feed", "https://b.example/feed", "https://c.example/feed")
SECTIONS = st.sets(st.sampled_from(["us-news", "us-military", "world"]), max_size=2)
READER = st.integers(0, 2)  # ANONYMOUS, then the first and second user added (if yet)
operation = st.one_of(
    st.tuples(st.just("store"), st.integers(0, 2), st.integers(0, 5), SECTIONS, st.integers(0, 3)),
    st.tuples(st.sampled_from(["read", "unread", "star", "unstar"]), st.integers(0, 30), READER),
    st.tuples(st.just("mark_all"), st.sampled_from([ALL, "section:us-news", "feed:1"]), READER),
    st.tuples(st.just("add_user")),
    st.tuples(st.just("remove_user"), READER),
)


def run_operation(storage: Storage, readers: list[int], op: tuple, version: int) -> None:  # type: ignore[type-arg]
    feed_ids = [1, 2, 3]
    if op[0] == "store":
        _, feed, item, sections, story = op
        entry = make_entry(
            f"i{item}",
            content_hash=f"v{version}",
            sections=tuple(sorted(sections)),
            story_keys=(f"story:{story}",),
        )
        storage.store_feed_update(make_update(feed_ids[feed], entry, etag=f'"{version}"'))
        return
    if op[0] == "add_user":
        user = storage.add_user(
            f"u{version}", "reader", "hash", session_key="s", feed_token=f"t{version}", now=NOW
        )
        readers.append(user.id)
        return
    user = readers[op[-1] % len(readers)]
    if op[0] == "remove_user":
        if user != ANONYMOUS:
            storage.remove_user(user)
            readers.remove(user)
    elif op[0] == "mark_all":
        page = storage.list_reader_stories(op[1], user=user)
        if page.stories:
            storage.mark_all_read(
                op[1], newest=top(page), watermark=page.watermark, now=NOW, user=user
            )
    elif op[0] in ("read", "unread"):
        storage.set_read(op[1], op[0] == "read", NOW, user=user)
    else:
        storage.set_starred(op[1], op[0] == "star", NOW, user=user)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(st.lists(operation, max_size=14))
def test_counters_match_a_recount_after_any_operations(operations: list[tuple]) -> None:  # type: ignore[type-arg]
    """Every reader's counters equal a recount after any sequence of polls, marks,
    users added (the first takes ANONYMOUS's state over) and users removed."""
    with tempfile.TemporaryDirectory() as folder:
        storage = open_storage(f"sqlite:///{Path(folder) / 'p.db'}")
        assert add_feeds(storage, *FEEDS) == [1, 2, 3]
        readers = [ANONYMOUS]
        for version, op in enumerate(operations, start=1):
            run_operation(storage, readers, op, version)
            for user in readers:
                assert maintained_unread(storage, user) == expected_unread(storage, user), op
        with storage.read() as conn:  # removed users left nothing behind
            for table in (schema.story_state, schema.story_listings, schema.unread_counts):
                owners = set(conn.scalars(select(table.c.user_id).distinct()))
                assert owners <= set(readers), table.name
        storage.close()
