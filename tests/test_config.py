"""feeds.yaml loading: every error kind with its exact file:line message, the shipped
configurations, the small parsers, and a property test that only ConfigErrors escape."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from aggregator.config import (
    CONFIG_KEYS,
    DEFAULT_CONFIG_PATH,
    Config,
    PollingConfig,
    SiteConfig,
    database_url,
    default_config_path,
    fold_label,
    format_duration,
    load_config,
    parse_duration,
    parse_size,
    slugify,
)
from aggregator.errors import ConfigError, ConfigErrors

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "config"


def errors_of(path: Path | str) -> list[str]:
    """Return the "LINE: message" of each error load_config reports for path."""
    with pytest.raises(ConfigErrors) as caught:
        load_config(path)
    for error in caught.value.errors:
        assert isinstance(error, ConfigError)
        assert error.path == str(path)
        assert str(error).startswith(f"{path}:")
    return [str(e).removeprefix(f"{path}:") for e in caught.value.errors]


def write(tmp_path: Path, text: str, name: str = "feeds.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- each error kind, with its line -----------------------------------------------------------

ERROR_FILES = {
    "unknown_keys.yaml": [
        "6: unknown key 'worker' in polling; did you mean 'workers'?",
        "12: unknown key 'intervall' in feed #4 (https://d.example/feed.xml); "
        "did you mean 'interval'?",
        "13: unknown key 'categoreis' at the top level; did you mean 'categories'?",
        "14: unknown key 'database' at the top level "
        "(allowed: site, storage, polling, categories, feeds, publish, outputs, stories, "
        "health, access)",
    ],
    "durations.yaml": [
        "5: polling.interval: invalid duration '30 minutes' (use e.g. 30m, 1h, 1d)",
        "6: polling.timeout: duration '0s' is too short (minimum 1s)",
        "7: polling.connect_timeout: invalid duration -5 (must not be negative)",
        "8: polling.max_body: invalid size '15 megabytes' (use e.g. 512KB, 15MB)",
        "11: feed #1 (https://a.example/feed.xml) interval: invalid duration '1.5h' "
        "(use e.g. 30m, 1h, 1d)",
        "13: feed #2 (https://b.example/feed.xml) interval: duration '400d' is too long "
        "(maximum 365d)",
    ],
    "duplicate_feeds.yaml": [
        # Scheme and host compare case-insensitively; path and trailing slash exactly.
        "5: feed #3 url: duplicate feed URL 'HTTPS://EXAMPLE.ORG/feed.xml' "
        "(first listed on line 2)",
        "7: feed #5 url: duplicate feed URL 'https://news.example.com/rss' "
        "(first listed on line 4)",
    ],
    "categories.yaml": [
        "7: category #2 (US News) alias #2: duplicate alias 'Defense': "
        "already used by category 'US Military' (line 3)",
        "8: category #3 name: duplicate category name 'us news': "
        "already used by category 'US News' (line 4)",
        "9: category #4 name: 'All' would publish at /feeds/all.atom, "
        "which is reserved for all items; choose another name",
        "10: category #5 name: '...' has no letters or digits",
        "12: category #6 (World) alias #2: '???' has no letters or digits",
        "13: category #6 (World) keyword #2: must not be empty",
        "16: feed #1 (https://a.example/feed.xml) category: unknown category "
        "'US Millitary'; did you mean 'US Military'?",
        "20: feed #3 (https://c.example/feed.xml) category: unknown category 'Sports' "
        "(defined: US Military, US News, "
        "All, World)",
    ],
    "urls.yaml": [
        "2: site.base_url: must be an absolute http(s) URL, got 'localhost:8000'",
        "4: storage.url: not a database URL: 'aggregator.db' "
        "(use e.g. sqlite:///aggregator.db or postgresql+psycopg://user@host/dbname)",
        "6: feed #1 url: empty URL",
        "7: feed #2 url: unsupported URL scheme 'ftp' in 'ftp://files.example.org/feed.xml' "
        "(use http, https or file)",
        "8: feed #3 url: URL 'https://' has no host",
        "9: feed #4 url: URL 'http://news.example .org/feed' contains whitespace",
        "10: feed #5 url: URL '//cdn.example.org/feed.xml' has no scheme; "
        "write 'https://cdn.example.org/feed.xml'",
        "11: feed #6 url: URL 'https://news.example.org:99999/feed' has an invalid port",
        "12: feed #7 url: file URL 'file://fileserver/feeds/news.xml' names a host; "
        "only local files are allowed",
        f"13: feed #8 url: file not found: {DATA}/feeds/missing.xml",
        f"14: feed #9 url: file not found: {DATA}/www.example.org/feed.xml "
        "(for a web feed write 'https://www.example.org/feed.xml')",
        "15: feed #10: missing required key 'url'",
    ],
    "types.yaml": [
        "1: site: expected a mapping of keys to values, got 'Newsroom'",
        "3: polling.workers: expected a whole number, got 'many'",
        "4: polling.allow_private_networks: expected true or false, got 'maybe'",
        "5: polling.per_host: 0 is out of range (use 1 to 64)",
        "6: categories: expected a list, got 'US News'",
        "7: feeds: expected a list, got a mapping",
    ],
    "syntax.yaml": [
        "5: invalid YAML: while parsing a block collection, expected <block end>, "
        "but found '<block mapping start>' (check the indentation)",
    ],
}


@pytest.mark.parametrize("name", sorted(ERROR_FILES))
def test_error_file(name: str) -> None:
    assert errors_of(DATA / name) == ERROR_FILES[name]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: 1\na: 2\n", ["2: invalid YAML: duplicate key 'a'"]),
        (
            "site:\n\ttitle: x\n",
            [
                "2: invalid YAML: while scanning for the next token, found character '\\t' "
                "that cannot start any "
                "token (indent with spaces, not tabs)"
            ],
        ),
        (
            "feeds: [https://a.example/x\n",
            [
                "1: invalid YAML: while parsing a flow sequence, "
                "expected ',' or ']', but got '<stream end>' "
                "(it is not closed before the end of the file)"
            ],
        ),
        (
            "site: {title: x}\n--- \nfeeds: []\n",
            [
                "2: invalid YAML: expected a single document "
                "in the stream, but found another document"
            ],
        ),
        (
            # An open quote is noticed at the end of the file: the line where it opened.
            'feeds:\n  - url: https://a.example/x\n    title: "Wire\n\n\n',
            [
                "3: invalid YAML: while scanning a quoted scalar, found unexpected end of "
                "stream (it is not closed before the end of the file)"
            ],
        ),
        ("a: *nowhere\n", ["1: invalid YAML: found undefined alias 'nowhere'"]),
        (
            "title: \x07\n",
            ["1: invalid YAML: special characters are not allowed (character U+0007)"],
        ),
        (
            "- url: https://a.example/\n",
            [
                "1: expected a mapping with keys site, storage, polling, "
                "categories, feeds, publish, outputs, stories, health, access at the top "
                "level, got a list"
            ],
        ),
        (
            "feeds:\n  - 42\n  - [a, b]\n",
            [
                "2: feed #1: expected a mapping of keys to values, got 42",
                "3: feed #2: expected a mapping of keys to values, got a list",
            ],
        ),
        ("site:\n  title: '   '\n", ["2: site.title: must not be empty"]),
        (
            "site:\n  base_url: https://a.example/?x=1\n",
            ["2: site.base_url: must not have a query or fragment, got 'https://a.example/?x=1'"],
        ),
        ("polling:\n  workers: true\n", ["2: polling.workers: expected a whole number, got true"]),
        (
            "polling:\n  timeout: 10s\n  connect_timeout: 20s\n",
            [
                "3: polling.connect_timeout (20s) is longer than polling.timeout (10s), "
                "the deadline for the whole fetch"
            ],
        ),
        ("categories:\n  - aliases: [x]\n", ["2: category #1: missing required key 'name'"]),
        (
            "feeds:\n  - url: https://a.example/\n    category: News\n",
            [
                "3: feed #1 (https://a.example/) category: unknown category 'News' "
                "(no categories are defined under 'categories:')"
            ],
        ),
        (
            "1: x\n? [a, b]\n: y\n",
            [
                "1: unknown key 1 at the top level "
                "(allowed: site, storage, polling, categories, feeds, publish, outputs, "
                "stories, health, access)",
                "2: unknown key \"('a', 'b')\" at the top level "
                "(allowed: site, storage, polling, categories, feeds, publish, outputs, "
                "stories, health, access)",
            ],
        ),
        (
            "site:\n  title: !!int abc\n",
            [" invalid YAML: invalid literal for int() with base 10: 'abc'"],
        ),
        ("feeds:\n  - !feed https://a.example/\n", ["2: invalid YAML: unknown tag '!feed'"]),
        # An unknown tag next to another error once made ruamel.yaml raise from a finaliser.
        ("- !x {a: 1}\n- !!int abc\n", ["1: invalid YAML: unknown tag '!x'"]),
    ],
)
def test_error_text(tmp_path: Path, text: str, expected: list[str]) -> None:
    path = write(tmp_path, text)
    assert errors_of(path) == [e.format(dir=tmp_path) for e in expected]


def test_errors_are_sorted_by_line_and_all_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "feeds:\n"
        "  - url: https://a.example/\n"
        "    category: nope\n"
        "  - url: https://a.example/\n"
        "categories:\n"
        "  - name: Politics\n"
        "    colour: red\n"
        "polling:\n"
        "  interval: soon\n",
    )
    lines = [int(e.split(":")[0]) for e in errors_of(path)]
    assert lines == [3, 4, 7, 9]


def test_unreadable_file_is_one_error_without_line(tmp_path: Path) -> None:
    missing = tmp_path / "feeds.yaml"
    with pytest.raises(ConfigErrors) as caught:
        load_config(missing)
    [error] = caught.value.errors
    assert error.line is None
    assert str(error) == f"{missing}: cannot read: No such file or directory"
    assert errors_of(tmp_path) == [" cannot read: Is a directory"]


def test_non_utf8_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_bytes(b"site:\n  title: Caf\xe9\n")
    assert errors_of(path) == ["2: cannot read: not UTF-8 text (byte 0xe9)"]


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "feeds.yaml"
    path.write_bytes("\ufeffsite:\n  title: Café\n".encode())
    assert load_config(path).site.title == "Café"


# --- valid files -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n", "feeds:\n", "site: {}\n"])
def test_empty_files_give_defaults(tmp_path: Path, text: str) -> None:
    config = load_config(write(tmp_path, text))
    assert config.site == SiteConfig()
    assert config.polling == PollingConfig()
    assert config.sections == ()
    assert config.feeds == ()
    assert config.storage.url == f"sqlite:///{tmp_path}/aggregator.db"
    assert config.path == str(tmp_path / "feeds.yaml")


def test_valid_file() -> None:
    config = load_config(DATA / "valid.yaml")
    assert config.path == str(DATA / "valid.yaml")
    assert config.site == SiteConfig("Test Newsroom", "https://news.example.org/reader")
    assert config.storage.url == f"sqlite:///{DATA}/data/test.db"
    assert config.polling == PollingConfig(
        interval_seconds=5400,
        allow_private_networks=True,
        workers=4,
        per_host=1,
        timeout_seconds=20.0,
        connect_timeout_seconds=5.0,
        max_body_bytes=512 * 1024,
    )
    military, news, tech = config.sections
    assert (military.name, military.slug) == ("US Military", "us-military")
    # Repeats (ignoring case and spacing) are dropped; the first spelling stays.
    assert military.aliases == ("Us Military", "U.S. Military", "Military", "Defense")
    assert military.keywords == ("Navy", "Air Force")
    assert news.aliases == ("U.S. News",)  # a single alias may be written without a list
    assert (tech.name, tech.slug, tech.aliases) == ("Technology", "technology", ())
    first, second, third = config.feeds
    assert first.url == "https://example.org/military.xml"
    assert first.title == "Military Wire"
    assert first.section == "US Military"  # written "u.s. military": stored as the name
    assert first.interval_seconds == 7200
    assert first.line == 23
    assert second.section == "US Military"  # named by an alias
    assert (second.title, second.interval_seconds, second.line) == (None, None, 27)
    assert (third.url, third.line) == ("https://example.org/tech.xml", 29)


def test_shipped_feeds_yaml_is_valid() -> None:
    config = load_config(ROOT / "feeds.yaml")
    assert config.site.title == "Newsroom"
    assert config.storage.url == f"sqlite:///{ROOT}/aggregator.db"
    assert config.polling.interval_seconds == 30 * 60
    assert config.polling.allow_private_networks is False
    names = [c.name for c in config.sections]
    assert names[:2] == ["US Military", "US News"]
    assert {"World", "Politics", "Technology", "Science"} <= set(names)
    by_name = {c.name: c for c in config.sections}
    assert {"Us Military", "U.S. Military", "Defense"} <= set(by_name["US Military"].aliases)
    assert {"Us News", "U.S. News"} <= set(by_name["US News"].aliases)
    assert 12 <= len(config.feeds) <= 16
    assert all(feed.url.startswith("https://") for feed in config.feeds)
    assert {feed.section for feed in config.feeds} == set(names)


def test_shipped_feeds_yaml_documents_every_key() -> None:
    text = (ROOT / "feeds.yaml").read_text(encoding="utf-8")
    for section, keys in CONFIG_KEYS.items():
        for key in keys:
            assert f"{key}:" in text or f" {key} " in text, (section, key)


def test_offline_example_is_valid() -> None:
    folder = ROOT / "examples" / "offline"
    config = load_config(folder / "feeds.yaml")
    assert config.storage.url == f"sqlite:///{folder}/offline.db"
    assert len(config.feeds) >= 6
    for feed in config.feeds:
        assert feed.url.startswith("file:///")
        assert Path(feed.url.removeprefix("file://")).is_file()
    shipped = load_config(ROOT / "feeds.yaml")
    assert [c.name for c in config.sections] == [c.name for c in shipped.sections]


# --- local files and databases ---------------------------------------------------------------


def test_local_feed_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "feeds").mkdir()
    for name in ("a.xml", "b c.xml", "d.json", "e.xml"):
        (tmp_path / "feeds" / name).write_text("<rss/>", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    config_path = write(
        elsewhere,
        "feeds:\n  - feeds/a.xml\n".replace("feeds/", "../feeds/")
        + "  - url: file:../feeds/b%20c.xml\n"
        f"  - url: file://{tmp_path}/feeds/d.json\n"
        f"  - url: {tmp_path}/feeds/e.xml\n",
    )
    urls = [feed.url for feed in load_config(config_path).feeds]
    assert urls == [
        (tmp_path / "feeds" / "a.xml").as_uri(),
        (tmp_path / "feeds" / "b c.xml").as_uri(),
        (tmp_path / "feeds" / "d.json").as_uri(),
        (tmp_path / "feeds" / "e.xml").as_uri(),
    ]
    assert urls[1].endswith("/feeds/b%20c.xml")


def test_local_feed_errors(tmp_path: Path) -> None:
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "a.xml").write_text("<rss/>", encoding="utf-8")
    path = write(
        tmp_path,
        "feeds:\n"
        "  - url: feeds/a.xml\n"
        "  - url: file:feeds/a.xml\n"
        "  - url: feeds\n"
        "  - url: file:?x\n",
    )
    assert errors_of(path) == [
        f"3: feed #2 url: duplicate feed URL '{(tmp_path / 'feeds' / 'a.xml').as_uri()}' "
        "(first listed on line 2)",
        f"4: feed #3 url: not a file: {tmp_path}/feeds",
        "5: feed #4 url: file URL 'file:?x' must not have a query or fragment",
    ]


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("sqlite:///aggregator.db", "sqlite:///{dir}/aggregator.db"),
        ("sqlite:///data/../news.db", "sqlite:///{dir}/news.db"),
        ("sqlite:///news.db?timeout=10", "sqlite:///{dir}/news.db?timeout=10"),
        ("sqlite+pysqlite:///news.db", "sqlite+pysqlite:///{dir}/news.db"),
        ("sqlite:////var/lib/aggregator/news.db", "sqlite:////var/lib/aggregator/news.db"),
        ("sqlite://", "sqlite://"),
        ("'sqlite:///:memory:'", "sqlite:///:memory:"),
        (
            "postgresql+psycopg://news:secret@db.internal:5432/news",
            "postgresql+psycopg://news:secret@db.internal:5432/news",
        ),
    ],
)
def test_storage_url(tmp_path: Path, written: str, stored: str) -> None:
    config = load_config(write(tmp_path, f"storage:\n  url: {written}\n"))
    assert config.storage.url == stored.format(dir=tmp_path)


def test_database_url_environment_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGGREGATOR_DATABASE_URL", raising=False)
    config = load_config(write(tmp_path, "storage:\n  url: sqlite:///news.db\n"))
    assert database_url(config) == f"sqlite:///{tmp_path}/news.db"
    monkeypatch.setenv("AGGREGATOR_DATABASE_URL", "postgresql+psycopg://localhost/news")
    assert database_url(config) == "postgresql+psycopg://localhost/news"
    # load_config itself never reads the environment.
    assert load_config(tmp_path / "feeds.yaml").storage.url == f"sqlite:///{tmp_path}/news.db"
    monkeypatch.setenv("AGGREGATOR_DATABASE_URL", "")
    assert database_url(config) == f"sqlite:///{tmp_path}/news.db"


def test_default_config_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGGREGATOR_CONFIG", raising=False)
    assert default_config_path() == DEFAULT_CONFIG_PATH == "feeds.yaml"
    monkeypatch.setenv("AGGREGATOR_CONFIG", "/etc/aggregator/feeds.yaml")
    assert default_config_path() == "/etc/aggregator/feeds.yaml"


def test_config_is_plain_data() -> None:
    config = load_config(DATA / "valid.yaml")
    assert isinstance(config, Config)
    for value in (config.site.title, config.sections[0].name, config.feeds[0].url):
        assert type(value) is str  # not a ruamel.yaml scalar subclass


# --- small parsers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30m", 1800),
        ("1h", 3600),
        ("90s", 90),
        ("1d", 86400),
        ("2w", 14 * 86400),
        ("1h30m", 5400),
        ("1d 2h 3m 4s", 93784),
        ("1H", 3600),
        (" 45 ", 45),
        ("45", 45),
        (45, 45),
        (0, 0),
        ("0s", 0),
    ],
)
def test_parse_duration(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("30 minutes", "invalid duration '30 minutes' (use e.g. 30m, 1h, 1d)"),
        ("", "invalid duration '' (use e.g. 30m, 1h, 1d)"),
        ("m", "invalid duration 'm' (use e.g. 30m, 1h, 1d)"),
        ("30m1h", "invalid duration '30m1h' (use e.g. 30m, 1h, 1d)"),
        ("1.5h", "invalid duration '1.5h' (use e.g. 30m, 1h, 1d)"),
        ("-5m", "invalid duration '-5m' (use e.g. 30m, 1h, 1d)"),
        ("٣٠m", "invalid duration '٣٠m' (use e.g. 30m, 1h, 1d)"),
        (-5, "invalid duration -5 (must not be negative)"),
        (True, "invalid duration True (use e.g. 30m, 1h, 1d)"),
        (1.5, "invalid duration 1.5 (use e.g. 30m, 1h, 1d)"),
    ],
)
def test_parse_duration_errors(text: object, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)  # type: ignore[arg-type]
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (45, "45s"), (1800, "30m"), (5400, "1h30m"), (90061, "1d1h1m1s")],
)
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("15MB", 15 * 1024**2),
        ("512KB", 512 * 1024),
        ("512kb", 512 * 1024),
        ("1.5 GB", 1536 * 1024**2),
        ("2MiB", 2 * 1024**2),
        ("4k", 4096),
        ("100B", 100),
        ("4096", 4096),
        (4096, 4096),
    ],
)
def test_parse_size(text: str | int, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["15 megabytes", "MB", "", "1e3KB", "-1MB", "15TB"])
def test_parse_size_errors(text: str) -> None:
    with pytest.raises(ValueError, match="invalid size"):
        parse_size(text)


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("US Military", "us-military"),
        ("US News", "us-news"),
        ("U.S. News", "u-s-news"),
        ("  Science & Technology  ", "science-technology"),
        ("Crime/Courts", "crime-courts"),
        ("Économie", "economie"),
        ("snake_case", "snake-case"),
        ("2026 Elections", "2026-elections"),
        ("---", ""),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug


@pytest.mark.parametrize(
    "label", ["Us News", "U.S. News", "us-news", "US  NEWS", "US News", "us_news", "ＵＳ Ｎｅｗｓ"]
)
def test_fold_label_folds_case_spacing_and_punctuation(label: str) -> None:
    assert fold_label(label) == "usnews"


@pytest.mark.parametrize(
    ("first", "second", "same"),
    [
        ("Défense", "Defense", True),
        ("STRASSE", "Straße", True),
        ("US Military", "US Militaryy", False),
        ("World", "Word", False),
    ],
)
def test_fold_label_pairs(first: str, second: str, same: bool) -> None:
    assert (fold_label(first) == fold_label(second)) is same


# --- only ConfigErrors escape ----------------------------------------------------------------

_YAML_PIECES = [
    *"abc :-[]{},&*!|>'\"#\n\t%@`?<.019",
    "site",
    "feeds",
    "url",
    "polling",
    "interval",
    "categories",
    "name",
    "aliases",
    "keywords",
    "storage",
    "!!int",
    "!!float",
    "!!timestamp",
    "!!binary",
    "<<",
    "file:",
    "http://",
    "sqlite:///",
    "30m",
    "\n  ",
    "\n  - ",
    "\n- ",
    "&a ",
    "*a",
    "---\n",
]
_KEYS = st.sampled_from([*{k for keys in CONFIG_KEYS.values() for k in keys}, "x"])
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(),
    st.text(max_size=20),
    st.sampled_from(
        [
            "30m",
            "0s",
            "x.xml",
            "file:x.xml",
            "http://a",
            "https://",
            "sqlite:///a.db",
            "postgresql://u@h/db",
            "15MB",
            "US News",
            "all",
            "!!!",
            "//a/b",
            "www.a.org/f",
        ]
    ),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=5)),
    max_leaves=30,
)


@pytest.fixture(scope="module")
def fuzz_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "x.xml").write_text("<rss/>", encoding="utf-8")
    return folder / "feeds.yaml"


def _load_only_config_errors(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    try:
        load_config(path)
    except ConfigErrors as e:
        assert e.errors
        assert all(isinstance(error, ConfigError) for error in e.errors)
        lines = [error.line or 0 for error in e.errors]
        assert lines == sorted(lines)
        # A real line of the file: never one past its end.
        assert all(line <= max(1, len(text.splitlines())) for line in lines), text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.one_of(
        st.text(),
        st.lists(st.sampled_from(_YAML_PIECES), max_size=80).map("".join),
    )
)
def test_any_text_raises_only_config_errors(fuzz_path: Path, text: str) -> None:
    _load_only_config_errors(fuzz_path, text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=st.one_of(_VALUES, st.dictionaries(_KEYS, _VALUES, max_size=6)))
def test_any_yaml_document_raises_only_config_errors(fuzz_path: Path, document: object) -> None:
    buffer = io.StringIO()
    YAML(typ="safe").dump(document, buffer)
    _load_only_config_errors(fuzz_path, buffer.getvalue())


def test_config_path_may_be_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "feeds:\n  - https://a.example/feed.xml\n")
    monkeypatch.chdir(tmp_path)
    config = load_config("feeds.yaml")
    assert config.path == os.path.join(tmp_path, "feeds.yaml")
    write(tmp_path, "polling: {interval: 30 minutes}\n")
    assert errors_of("feeds.yaml") == [
        "1: polling.interval: invalid duration '30 minutes' (use e.g. 30m, 1h, 1d)"
    ]


# --- polling bounds, spacing, error threshold and retention (issue 5) ----------------------


def test_polling_policy_keys(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            "storage:\n  retention: 30d\npolling:\n  min_interval: 10m\n  max_interval: 12h\n"
            "  host_spacing: 0\n  error_threshold: 5\n",
        )
    )
    assert config.storage.retention_seconds == 30 * 86400
    assert (config.polling.min_interval_seconds, config.polling.max_interval_seconds) == (
        600,
        43200,
    )
    assert config.polling.host_spacing_seconds == 0
    assert config.polling.error_threshold == 5
    forever = load_config(write(tmp_path, "storage:\n  retention: forever\n"))
    assert forever.storage.retention_seconds is None
    defaults = load_config(write(tmp_path, "feeds: []\n"))
    assert defaults.storage.retention_seconds == 90 * 86400
    assert defaults.polling.host_spacing_seconds == 1.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "polling:\n  min_interval: 2h\n  max_interval: 1h\n",
            "2: polling.min_interval (2h) is longer than polling.max_interval (1h)",
        ),
        ("storage:\n  retention: 1h\n", "2: storage.retention: duration '1h' is too short"),
        ("polling:\n  host_spacing: 2m\n", "2: polling.host_spacing: duration '2m' is too long"),
        ("polling:\n  error_threshold: 0\n", "2: polling.error_threshold: 0 is out of range"),
    ],
)
def test_polling_policy_errors(tmp_path: Path, text: str, expected: str) -> None:
    (message,) = errors_of(write(tmp_path, text))
    assert message.startswith(expected), message


def test_feed_admin_keys_and_health(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            "health:\n  failing_feeds: 25%\n"
            "feeds:\n"
            "  - url: https://a.example/feed\n    priority: 5\n    labels: ignore-tags\n"
            "    paused: true\n"
            "  - https://b.example/feed\n",
        )
    )
    assert config.health.failing_share == 0.25
    first, second = config.feeds
    assert (first.priority, first.labels, first.paused) == (5, "ignore_tags", True)
    assert (second.priority, second.labels, second.paused) == (0, "trust", False)
    assert (
        load_config(write(tmp_path, "health:\n  failing_feeds: 0.1\n")).health.failing_share == 0.1
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "feeds:\n  - url: https://a.example/feed\n    priority: high\n",
            "3: feed #1 (https://a.example/feed) priority: expected a whole number, got 'high'",
        ),
        (
            "feeds:\n  - url: https://a.example/feed\n    labels: sometimes\n",
            "3: feed #1 (https://a.example/feed) labels: 'sometimes' is not one of trust, "
            "ignore_tags, default_last, ignore",
        ),
        (
            "health:\n  failing_feeds: 150%\n",
            "2: health.failing_feeds: share '150%' is out of range (use 0% to 100%)",
        ),
        (
            "health:\n  failing_feeds: half\n",
            "2: health.failing_feeds: invalid share 'half' (use e.g. 50% or 0.5)",
        ),
    ],
)
def test_feed_admin_key_errors(tmp_path: Path, text: str, expected: str) -> None:
    assert errors_of(write(tmp_path, text)) == [expected]


# --- access and private outputs (accounts) ----------------------------------------------------


def test_access_and_private_outputs(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, "feeds: []\n")).access == "private"
    config = load_config(
        write(
            tmp_path,
            "access: Public\noutputs:\n  - name: inside\n    title: In\n    private: true\n",
        )
    )
    assert config.access == "public"
    assert config.outputs[0].private
    path = write(
        tmp_path,
        "site:\n  title: T\naccess: open\noutputs:\n  - name: inside\n    title: In\n"
        "    private: maybe\n",
    )
    assert errors_of(path) == [
        "3: access: expected 'private' or 'public', got 'open'",
        "7: output #1 (inside) private: expected true or false, got 'maybe'",
    ]


# --- full text and reading filters (issue 15) ------------------------------------------------


def test_full_text_and_reading_filter_keys(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            "categories:\n"
            "  - name: World\n    exclude: [Sponsored, sponsored, Paid post]\n"
            "  - name: Science\n    include: Space\n"
            "feeds:\n"
            "  - url: https://a.example/feed\n    full_text: true\n"
            "    exclude: [Advertorial]\n    include: [Harbor, port]\n"
            "  - https://b.example/feed\n",
        )
    )
    world, science = config.sections
    assert (world.include, world.exclude) == ((), ("Sponsored", "Paid post"))
    assert (science.include, science.exclude) == (("Space",), ())
    first, second = config.feeds
    assert (first.full_text, first.include, first.exclude) == (
        True,
        ("Harbor", "port"),
        ("Advertorial",),
    )
    assert (second.full_text, second.include, second.exclude) == (False, (), ())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "feeds:\n  - url: https://a.example/feed\n    full_text: sometimes\n",
            "3: feed #1 (https://a.example/feed) full_text: expected true or false",
        ),
        (
            "feeds:\n  - url: https://a.example/feed\n    exclude: [Sponsored, '']\n",
            "3: feed #1 (https://a.example/feed) exclude",
        ),
        (
            "feeds:\n  - url: https://a.example/feed\n    include: {a: 1}\n",
            "3: feed #1 (https://a.example/feed) include",
        ),
        (
            "categories:\n  - name: World\n    exclude: [[nested]]\n",
            "3: category #1 (World) exclude phrase #1: expected text, got a list",
        ),
        (
            "categories:\n  - name: World\n    exclud: [Sponsored]\n",
            "3: unknown key 'exclud' in category #1 (World); did you mean 'exclude'?",
        ),
    ],
)
def test_full_text_and_reading_filter_errors(tmp_path: Path, text: str, expected: str) -> None:
    (message,) = errors_of(write(tmp_path, text))
    assert message.startswith(expected), message
