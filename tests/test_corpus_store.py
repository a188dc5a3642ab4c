"""Every feed of feedparser's test corpus through parse → sanitize → store.

The whole processing path of a poll (Updater.process_entries: identity, sanitize,
categorize, story keys) and the real storage on SQLite and PostgreSQL. No
exception but ParseError escapes, and no stored HTML can run script.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from aggregator.config import Config, FeedConfig, SectionConfig
from aggregator.errors import ParseError
from aggregator.fetch import FetchResult
from aggregator.parse import parse_feed
from aggregator.storage import FeedUpdate, Storage, schema
from aggregator.update import Updater
from tests.conftest import require_shared
from tests.safety import assert_safe_html, url_is_safe
from tests.test_corpus_parse import response_headers

NOW = datetime(2026, 11, 29, tzinfo=UTC)


class NoFetch:
    def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        raise AssertionError("the corpus test never fetches")


def test_whole_corpus_is_stored_safely(storage: Storage) -> None:
    root = require_shared("corpus/feedparser")
    files = sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix in (".xml", ".rdf", ".json")
    )
    assert len(files) > 2000
    config = Config(
        path="corpus.yaml",
        sections=(
            SectionConfig(name="US News", slug="us-news", aliases=("news",), keywords=("test",)),
        ),
        feeds=tuple(FeedConfig(url=f"http://corpus.example/{i}") for i in range(len(files))),
    )
    storage.sync_feeds(config.feeds, NOW)
    feeds = {feed.url: feed for feed in storage.list_feeds()}
    updater = Updater.from_config(config, storage, NoFetch())
    parse_errors = stored_feeds = 0
    for index, path in enumerate(files):
        feed = feeds[f"http://corpus.example/{index}"]
        body = path.read_bytes()
        try:
            parsed = parse_feed(
                body, url="http://corpus.example/feed.xml", headers=response_headers(body)
            )
        except ParseError:
            parse_errors += 1
            continue
        processed = updater.process_entries(feed, parsed)
        storage.store_feed_update(
            FeedUpdate(
                feed_id=feed.id,
                fetched_at=NOW,
                status=200,
                etag=None,
                last_modified=None,
                body_hash=None,
                feed_title=parsed.title,
                site_url=parsed.link,
                subtitle=parsed.subtitle,
                permanent_redirect_url=None,
                next_check_at=NOW + timedelta(hours=1),
                entries=processed,
            )
        )
        stored_feeds += 1
    with storage.read() as conn:
        rows = conn.execute(
            select(
                schema.entries.c.summary_html, schema.entries.c.content_html, schema.entries.c.link
            )
        ).all()
    for summary_html, content_html, link in rows:
        assert_safe_html(summary_html)
        assert_safe_html(content_html)
        assert link is None or url_is_safe(link, ("http", "https"))
    print(f"\ncorpus: {len(files)} files, {stored_feeds} stored,", end=" ")
    print(f"{parse_errors} ParseError, {len(rows)} entries")
    assert stored_feeds > 1900 and len(rows) > 1000
