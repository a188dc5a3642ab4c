"""Editing feeds.yaml (aggregator/config/_edit.py): each edit changes only its own
lines, keeps every comment and the formatting, is validated before it is written, and
is written atomically, only over the file it was made from."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.config import ConfigEditor, load_config, read_snapshot, write_edit
from aggregator.errors import ConfigConflictError, ConfigEditError, ConfigErrors

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = (ROOT / "feeds.yaml").read_text(encoding="utf-8")

SMALL = """\
# My newsroom.
polling:
  interval: 30m   # the default

categories:
  - name: World
    aliases: [International]

  - name: Technology

feeds:
  # World
  - url: https://world.example/feed   # the wire
    title: World Wire
    category: World
  - https://bare.example/rss

  # Technology
  - url: https://tech.example/feed
    category: Technology
    interval: 1h  # busy

# --- the end
publish:
  page_size: 20
"""


def write(tmp_path: Path, text: str, name: str = "feeds.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def editor_for(tmp_path: Path, text: str = SMALL) -> ConfigEditor:
    return ConfigEditor(read_snapshot(write(tmp_path, text)))


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    """(lines only in before, lines only in after), by a line diff."""
    import difflib

    removed, added = [], []
    for line in difflib.ndiff(before.splitlines(), after.splitlines()):
        if line.startswith("- "):
            removed.append(line[2:])
        elif line.startswith("+ "):
            added.append(line[2:])
    return removed, added


# --- adding ---------------------------------------------------------------------------------


def test_a_feed_joins_the_end_of_its_section(tmp_path: Path) -> None:
    editor = editor_for(tmp_path)
    editor.add_feed("https://new.example/feed", {"title": "New: World", "category": "world"})
    edit = editor.edit()
    removed, added = changed_lines(SMALL, edit.after)
    assert removed == []
    assert added == [
        "  - url: https://new.example/feed",
        "    title: 'New: World'",
        "    category: world",
    ]
    # Right after the last feed of the World section.
    assert "    category: World\n  - url: https://new.example/feed\n" in edit.after
    new = [feed for feed in edit.config.feeds if feed.url == "https://new.example/feed"]
    assert new[0].section == "World" and new[0].title == "New: World"
    assert edit.summary == ("add feed https://new.example/feed to world",)
    assert "+  - url: https://new.example/feed" in edit.diff()


def test_a_feed_without_a_section_goes_last_before_the_closing_comment(tmp_path: Path) -> None:
    editor = editor_for(tmp_path)
    editor.add_feed("https://plain.example/feed")
    after = editor.edit().after
    assert after.split("\n# --- the end")[0].endswith(
        "    interval: 1h  # busy\n  - url: https://plain.example/feed\n"
    )


def test_a_new_section_is_added_with_its_feeds(tmp_path: Path) -> None:
    editor = editor_for(tmp_path)
    editor.add_feeds(
        [
            ("https://a.example/feed", {"category": "Sports", "interval": "2h"}),
            ("https://b.example/feed", {"category": "Sports", "paused": True}),
        ]
    )
    edit = editor.edit()
    assert edit.after == SMALL.replace(
        "  - name: Technology\n", "  - name: Technology\n\n  - name: Sports\n"
    ).replace(
        "    interval: 1h  # busy\n",
        "    interval: 1h  # busy\n\n"
        "  # Sports\n"
        "  - url: https://a.example/feed\n    category: Sports\n    interval: 2h\n"
        "  - url: https://b.example/feed\n    category: Sports\n    paused: true\n",
    )
    assert [s.name for s in edit.config.sections] == ["World", "Technology", "Sports"]
    paused = edit.config.feeds[-1]
    assert (paused.section, paused.paused) == ("Sports", True)


def test_a_listed_url_is_refused(tmp_path: Path) -> None:
    editor = editor_for(tmp_path)
    with pytest.raises(ConfigEditError, match="already in"):
        editor.add_feed("HTTPS://BARE.example/rss")


@pytest.mark.parametrize(
    "text",
    [
        "site:\n  title: x\n",
        "site:\n  title: x",
        "feeds:\n",
        "feeds: []\n",
        "feeds: ~\n",
        "",
    ],
)
def test_the_first_feed_of_a_file(tmp_path: Path, text: str) -> None:
    editor = editor_for(tmp_path, text)
    editor.add_feed("https://a.example/feed", {"title": "A"})
    edit = editor.edit()
    assert [feed.url for feed in edit.config.feeds] == ["https://a.example/feed"]
    assert "  - url: https://a.example/feed\n    title: A\n" in edit.after
    if text.startswith("site"):
        assert edit.after.startswith("site:\n  title: x\n")


def test_values_are_quoted_only_when_they_must_be(tmp_path: Path) -> None:
    editor = editor_for(tmp_path)
    editor.add_feed("https://q.example/feed?x=1&y=2", {"title": "Fox # 5 - yes"})
    after = editor.edit().after
    assert "  - url: https://q.example/feed?x=1&y=2\n    title: 'Fox # 5 - yes'\n" in after
    assert load_config(write(tmp_path, after, "check.yaml")).feeds[-1].title == "Fox # 5 - yes"


def test_a_local_file_is_written_as_given(tmp_path: Path) -> None:
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "local.xml").write_text("<rss/>", encoding="utf-8")
    editor = editor_for(tmp_path)
    editor.add_feed("feeds/local.xml")
    edit = editor.edit()
    assert "  - url: feeds/local.xml\n" in edit.after
    assert edit.config.feeds[-1].url == (tmp_path / "feeds" / "local.xml").as_uri()
    with pytest.raises(ConfigEditError, match="already in"):
        ConfigEditor(read_snapshot(write(tmp_path, edit.after))).add_feed(
            (tmp_path / "feeds" / "local.xml").as_uri()
        )


# --- changing ------------------------------------------------------------------------------


def test_changing_keys_keeps_inline_comments(tmp_path: Path) -> None:
    editor = editor_for(tmp_path)
    editor.update_feed(
        "https://tech.example/feed", {"interval": "2h", "title": "Tech", "priority": 3}
    )
    edit = editor.edit()
    removed, added = changed_lines(SMALL, edit.after)
    assert removed == ["    interval: 1h  # busy"]
    assert added == ["    interval: 2h  # busy", "    title: Tech", "    priority: 3"]
    feed = edit.config.feeds[-1]
    assert (feed.title, feed.interval_seconds, feed.priority) == ("Tech", 7200, 3)
    assert edit.summary == ("change title, interval, priority of feed https://tech.example/feed",)


def test_defaults_remove_their_keys(tmp_path: Path) -> None:
    editor = editor_for(tmp_path)
    editor.update_feed(
        "https://world.example/feed", {"title": None, "category": "", "labels": "trust"}
    )
    removed, added = changed_lines(SMALL, editor.edit().after)
    assert removed == ["    title: World Wire", "    category: World"]
    assert added == []


def test_a_bare_item_becomes_a_mapping_when_it_gets_keys(tmp_path: Path) -> None:
    editor = editor_for(tmp_path)
    editor.update_feed("https://bare.example/rss", {"paused": True, "labels": "ignore_tags"})
    edit = editor.edit()
    removed, added = changed_lines(SMALL, edit.after)
    assert removed == ["  - https://bare.example/rss"]
    assert added == [
        "  - url: https://bare.example/rss",
        "    labels: ignore_tags",
        "    paused: true",
    ]
    bare = edit.config.feeds[1]
    assert (bare.paused, bare.labels) == (True, "ignore_tags")


def test_changing_the_url(tmp_path: Path) -> None:
    editor = editor_for(tmp_path)
    editor.update_feed("https://world.example/feed", {"url": "https://world.example/v2"})
    editor.update_feed("https://bare.example/rss", {"url": "https://bare.example/v2"})
    removed, added = changed_lines(SMALL, editor.edit().after)
    assert removed == [
        "  - url: https://world.example/feed   # the wire",
        "  - https://bare.example/rss",
    ]
    assert added == [
        "  - url: https://world.example/v2   # the wire",
        "  - https://bare.example/v2",
    ]


def test_a_new_section_named_by_a_change_is_added(tmp_path: Path) -> None:
    editor = editor_for(tmp_path)
    editor.update_feed("https://tech.example/feed", {"category": "Science"})
    edit = editor.edit()
    assert edit.config.feeds[-1].section == "Science"
    assert edit.summary == (
        "add section Science",
        "change category of feed https://tech.example/feed",
    )


def test_an_invalid_change_is_refused_with_its_line(tmp_path: Path) -> None:
    editor = editor_for(tmp_path)
    with pytest.raises(ConfigErrors, match=r"feeds.yaml:21: feed #3 .* interval: invalid duration"):
        editor.update_feed("https://tech.example/feed", {"interval": "soon"})


def test_an_unknown_feed(tmp_path: Path) -> None:
    with pytest.raises(ConfigEditError, match=r"no feed https://none\.example/ in"):
        editor_for(tmp_path).update_feed("https://none.example/", {"title": "x"})


# --- removing --------------------------------------------------------------------------------


def test_removing_the_last_feed_of_a_group_keeps_the_next_heading(tmp_path: Path) -> None:
    editor = editor_for(tmp_path)
    editor.remove_feed("https://bare.example/rss")
    editor.remove_feed("https://tech.example/feed")
    edit = editor.edit()
    removed, added = changed_lines(SMALL, edit.after)
    assert removed == [
        "  - https://bare.example/rss",
        "  - url: https://tech.example/feed",
        "    category: Technology",
        "    interval: 1h  # busy",
    ]
    assert added == []
    assert "  # Technology\n\n# --- the end\n" in edit.after
    assert [feed.url for feed in edit.config.feeds] == ["https://world.example/feed"]


def test_removing_every_feed(tmp_path: Path) -> None:
    editor = editor_for(tmp_path)
    for url in (
        "https://world.example/feed",
        "https://bare.example/rss",
        "https://tech.example/feed",
    ):
        editor.remove_feed(url)
    edit = editor.edit()
    assert edit.config.feeds == ()
    assert "# World" in edit.after and "# --- the end" in edit.after


# --- the shipped file ----------------------------------------------------------------------


def test_editing_the_shipped_file_changes_only_its_own_lines(tmp_path: Path) -> None:
    editor = editor_for(tmp_path, SHIPPED)
    editor.add_feed(
        "https://www.stripes.com/rss", {"title": "Stars and Stripes", "category": "US Military"}
    )
    editor.remove_feed("https://abcnews.go.com/abcnews/usheadlines")
    editor.update_feed("https://hnrss.org/frontpage", {"interval": None, "paused": True})
    edit = editor.edit()
    removed, added = changed_lines(SHIPPED, edit.after)
    assert removed == [
        "  - url: https://abcnews.go.com/abcnews/usheadlines",
        "    title: ABC News U.S.",
        "    category: US News",
        "    interval: 15m",
    ]
    assert added == [
        "  - url: https://www.stripes.com/rss",
        "    title: Stars and Stripes",
        "    category: US Military",
        "    paused: true",
    ]
    after = edit.after
    assert "    category: US Military\n\n  # US News\n" in after  # the group's heading stays
    assert "    title: CBS News U.S.\n    category: US News\n\n  # World\n" in after


# --- writing ---------------------------------------------------------------------------------


def test_writing_is_atomic_and_keeps_the_permissions(tmp_path: Path) -> None:
    path = write(tmp_path, SMALL)
    os.chmod(path, 0o640)
    editor = ConfigEditor(read_snapshot(path))
    editor.add_feed("https://new.example/feed")
    edit = editor.edit()
    write_edit(edit)
    assert path.read_text(encoding="utf-8") == edit.after
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feeds.yaml"]  # no temporary left
    assert load_config(path).feeds[-1].url == "https://new.example/feed"


def test_a_file_changed_since_is_not_overwritten(tmp_path: Path) -> None:
    path = write(tmp_path, SMALL)
    editor = ConfigEditor(read_snapshot(path))
    editor.add_feed("https://new.example/feed")
    edit = editor.edit()
    path.write_text(SMALL.replace("page_size: 20", "page_size: 30"), encoding="utf-8")
    with pytest.raises(ConfigConflictError, match="changed on disk since this change was prepared"):
        write_edit(edit)
    assert "page_size: 30" in path.read_text(encoding="utf-8")
    assert "new.example" not in path.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feeds.yaml"]


def test_crlf_and_a_bom_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + SMALL.replace("\n", "\r\n").encode())
    editor = ConfigEditor(read_snapshot(path))
    editor.add_feed("https://new.example/feed", {"category": "Technology"})
    write_edit(editor.edit())
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"    interval: 1h  # busy\r\n  - url: https://new.example/feed\r\n" in data


def test_an_invalid_file_must_be_fixed_by_hand_first(tmp_path: Path) -> None:
    with pytest.raises(ConfigErrors):
        editor_for(tmp_path, SMALL + "  intervall: 1h\n")


# --- any sequence of edits keeps every other line --------------------------------------------

URLS = [
    "https://world.example/feed",
    "https://bare.example/rss",
    "https://tech.example/feed",
    "https://x.example/1",
    "https://x.example/2",
]
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(
            st.just("add"),
            st.sampled_from(URLS),
            st.sampled_from([None, "World", "Technology", "Science", "international"]),
        ),
        st.tuples(st.just("remove"), st.sampled_from(URLS), st.none()),
        st.tuples(
            st.just("update"),
            st.sampled_from(URLS),
            st.sampled_from(
                [
                    {"title": "T: 1"},
                    {"title": None},
                    {"interval": "45m"},
                    {"paused": True},
                    {"paused": False},
                    {"category": "Technology"},
                    {"labels": "ignore"},
                ]
            ),
        ),
    ),
    max_size=8,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(operations=OPERATIONS)
def test_any_edits_keep_every_comment_in_order(tmp_path: Path, operations: list[tuple]) -> None:
    editor = editor_for(tmp_path)
    for operation, url, argument in operations:
        try:
            if operation == "add":
                editor.add_feed(url, {"category": argument} if argument else {})
            elif operation == "remove":
                editor.remove_feed(url)
            else:
                editor.update_feed(url, argument)
        except ConfigEditError:
            continue  # listed already, or not listed
    edit = editor.edit()
    comments = [line for line in SMALL.splitlines() if line.lstrip().startswith("#")]
    kept = [line for line in edit.after.splitlines() if line.lstrip().startswith("#")]
    new_headings = [line for line in kept if line not in comments]
    assert [line for line in kept if line in comments] == comments
    assert all(line.strip() in ("# Science",) for line in new_headings), new_headings
    for line in ("polling:", "  interval: 30m   # the default", "publish:", "  page_size: 20"):
        assert line in edit.after.splitlines()
