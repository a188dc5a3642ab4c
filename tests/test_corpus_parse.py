"""Every feed of feedparser's own test suite through parse_feed and sanitize_html.

No exception but ParseError may escape, every parsed feed keeps parse.py's promises
(tests.safety.assert_clean_feed), and every sanitized summary and content is inert
(tests.safety.assert_safe_html). One test per directory keeps collection fast; counts
and the total parse time are printed at the end of the module (never asserted).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from aggregator.errors import ParseError
from aggregator.parse import parse_feed
from aggregator.process import html_to_text, sanitize_html
from tests.conftest import require_shared, shared_dir
from tests.safety import assert_clean_feed, assert_safe_html

CORPUS = "corpus/feedparser"
FEED_URL = "http://corpus.example/feed.xml"
# "Header: Name: value" lines in a corpus file's leading comment are the HTTP response
# headers feedparser's own tests serve it with.
_HEADER_LINE = re.compile(rb"^Header:\s*([A-Za-z0-9-]+):[ \t]*(.*?)\s*$", re.MULTILINE)


@dataclass
class Tally:
    files: int = 0
    parse_errors: int = 0
    warnings: int = 0
    entries: int = 0
    seconds: float = 0.0


TALLIES: dict[str, Tally] = {}


def corpus_directories() -> list[str]:
    """Return every corpus directory holding files, relative to the corpus root."""
    base = shared_dir()
    root = base / CORPUS if base else None
    if root is None or not root.is_dir():
        return ["(absent)"]  # the test itself skips, saying why
    folders = {path.parent for path in root.rglob("*") if path.is_file()} - {root}
    return sorted(str(folder.relative_to(root)) for folder in folders)


def response_headers(body: bytes) -> dict[str, str]:
    """Return the headers named in the file's leading comment (first 4 KB)."""
    return {
        name.decode("ascii"): value.decode("latin-1")
        for name, value in _HEADER_LINE.findall(body[:4096])
    }


@pytest.fixture(scope="module", autouse=True)
def report_counts(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if not TALLIES:
        return
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    total = Tally()
    lines = []
    for folder, tally in sorted(TALLIES.items()):
        lines.append(
            f"  {folder:32} {tally.files:5} files {tally.parse_errors:4} ParseError "
            f"{tally.warnings:4} with warning {tally.entries:5} entries {tally.seconds:6.2f}s"
        )
        for field in ("files", "parse_errors", "warnings", "entries", "seconds"):
            setattr(total, field, getattr(total, field) + getattr(tally, field))
    lines.append(
        f"  total: {total.files} files, {total.parse_errors} ParseError, "
        f"{total.warnings} with a warning, {total.entries} entries, "
        f"parsed in {total.seconds:.2f}s"
    )
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():  # teardown output is captured otherwise
        reporter.write_line("")
        reporter.write_line("feedparser corpus through parse_feed:")
        for line in lines:
            reporter.write_line(line)


@pytest.mark.parametrize("folder", corpus_directories())
def test_corpus_directory(folder: str) -> None:
    root = require_shared(CORPUS)
    directory = root / folder
    if not directory.is_dir():
        pytest.skip(f"{directory} is absent")
    tally = TALLIES.setdefault(folder, Tally())
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        check_file(path, tally)


def check_file(path: Path, tally: Tally) -> None:
    """Parse and sanitize one corpus file, counting the outcome in ``tally``."""
    body = path.read_bytes()
    tally.files += 1
    started = time.perf_counter()
    try:
        feed = parse_feed(body, url=FEED_URL, headers=response_headers(body))
    except ParseError:
        tally.parse_errors += 1
        return
    finally:
        tally.seconds += time.perf_counter() - started
    tally.warnings += feed.warning is not None
    tally.entries += len(feed.entries)
    try:
        assert_clean_feed(feed)
        for entry in feed.entries:
            base_url = entry.link or feed.url
            for raw in (entry.summary_html, entry.content_html):
                assert_safe_html(sanitize_html(raw, base_url=base_url))
                html_to_text(raw)
    except AssertionError as e:
        raise AssertionError(f"{path.name}: {e}") from e
