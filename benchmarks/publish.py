"""How fast are the merged feeds? Build time uncached, and the server-side cost of a 304.

    .venv/bin/python benchmarks/publish.py                  # 100,000 entries, temp SQLite
    .venv/bin/python benchmarks/publish.py --db /tmp/b.db   # keep (and reuse) the database
    .venv/bin/python benchmarks/publish.py --database-url postgresql+psycopg://...

Fills a database through Storage.store_feed_update (the write path polls use) with
entries spread over 50 feeds and 6 sections, one story in fifteen reported by two
feeds. Then, for outputs of 50 and 500 entries, it times:

- the uncached build through the Flask app, with its in-memory cache (rendered pages
  and entries) emptied before every request: as after a restart, or in another
  process. Entries rendered before are read back from the database
  (story_renderings), as a server does nearly always: an entry is rendered once per
  change of its story;
- the first build, when no entry of the page was ever rendered (the stored renderings
  deleted too): feedgen renders every entry, and the renderings are stored;
- the parts: the storage queries and feedgen's rendering of the whole page;
- the usual rebuild: a GET after a poll stored one new story, when the other stories'
  rendered entries are still kept; once with the new entry rendered by the poll (as
  `serve` and `aggregator poll` do), once rendered by the GET;
- a conditional request answered 304, timed inside the WSGI app ("server-side": from
  the WSGI call until the response is complete; the Flask test client's own overhead
  is printed separately), once reading the section versions on every request and
  once with the default FEEDS_VERSIONS_TTL of 1 s (most requests touch no database).

Targets (issue 4): build <= 5 ms for 50 entries, <= 30 ms for 500; 304 < 1 ms.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.wsgi import ClosingIterator

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bulk import store_batch  # benchmarks/bulk.py, beside this script

from aggregator.config import Config, FeedConfig, PublishConfig, SectionConfig, SiteConfig
from aggregator.core import Aggregator
from aggregator.publish import (
    FeedDocument,
    collect_page,
    outputs_of,
    prerender_changed,
    render_feed,
    versions_snapshot,
)
from aggregator.storage import ProcessedEntry, Storage, open_storage
from aggregator.types import Enclosure
from aggregator.web import create_app
from aggregator.web.outputs import feed_cache

SECTIONS = ("US Military", "US News", "World", "Politics", "Technology", "Science")
FEEDS = 50
BATCH = 2000  # entries per store_feed_update
PARAGRAPH = (
    "<p>The hospital ship left port on Monday for a four-month humanitarian mission that "
    "will bring surgeons, dentists and veterinarians to island nations across the "
    'Pacific, <a href="https://example.org/more">officials said</a>.</p>'
)


def slug(name: str) -> str:
    return name.lower().replace(" ", "-")


def make_config(db_url: str, page_size: int) -> Config:
    return Config(
        path="benchmark.yaml",
        site=SiteConfig(title="Benchmark", base_url="https://news.example.org"),
        sections=tuple(SectionConfig(name=name, slug=slug(name)) for name in SECTIONS),
        feeds=tuple(
            FeedConfig(url=f"https://feed{n}.example/rss", section=SECTIONS[n % len(SECTIONS)])
            for n in range(FEEDS)
        ),
        publish=PublishConfig(page_size=page_size),
    )


def feed_of(number: int) -> int:
    if number % 16 == 1:  # the second report of the story of number - 1, by another feed
        return (feed_of(number - 1) + 1) % FEEDS
    return number % FEEDS


def entry(number: int, feed: int, published: datetime) -> ProcessedEntry:
    # Entries 16k and 16k+1 share a story key: one story in fifteen has two reports.
    keys = (f"k{number}",) + ((f"shared{number - number % 16}",) if number % 16 < 2 else ())
    sections = (slug(SECTIONS[feed % len(SECTIONS)]),)
    if number % 5 == 0:
        sections += (slug(SECTIONS[(feed + 1) % len(SECTIONS)]),)
    return ProcessedEntry(
        identity=f"e{number}",
        content_hash=f"h{number}",
        guid=f"https://feed{feed}.example/a/{number}",
        link=f"https://feed{feed}.example/a/{number}",
        canonical_url=f"https://feed{feed}.example/a/{number}",
        title=f"Story number {number}: the ship leaves port for a Pacific mission",
        summary_html=f"<p>Summary of story {number}: teams will visit Palau and Micronesia.</p>",
        content_html=PARAGRAPH * 3,
        summary_text=f"Summary of story {number}: teams will visit Palau and Micronesia.",
        author="Pat Reporter",
        published=published,
        updated=None,
        tags=("ships",),
        enclosures=(
            (Enclosure(f"https://cdn.example/{number}.jpg", "image/jpeg", 12345),)
            if number % 7 == 0
            else ()
        ),
        sections=sections,
        story_keys=keys,
    )


def fill(storage: Storage, config: Config, total: int) -> None:
    start = time.perf_counter()
    now = datetime(2026, 11, 1, tzinfo=UTC)
    storage.sync_feeds(config.feeds, now)
    feed_ids = {feed.url: feed.id for feed in storage.list_feeds()}
    per_feed: dict[int, list[ProcessedEntry]] = {n: [] for n in range(FEEDS)}
    for number in range(total):
        feed = feed_of(number)
        published = now - timedelta(minutes=total - number)
        per_feed[feed].append(entry(number, feed, published))
    done = 0
    for feed, entries in per_feed.items():
        url = config.feeds[feed].url
        for index in range(0, len(entries), BATCH):
            store_batch(storage, feed_ids[url], feed, entries[index : index + BATCH], now)
            done += len(entries[index : index + BATCH])
        if sys.stdout.isatty():
            print(f"\r  stored {done:,}/{total:,} entries", end="", flush=True)
    print(f"\r  stored {done:,} entries in {time.perf_counter() - start:.1f} s")


class NewStories:
    """Stores one new story at a time in a section, as a poll would."""

    def __init__(self, storage: Storage, config: Config, section: str | None) -> None:
        self.storage = storage
        # Feed n files its entries under SECTIONS[n % 6] (see entry()).
        self.feed_number = next((n for n, name in enumerate(SECTIONS) if slug(name) == section), 0)
        url = config.feeds[self.feed_number].url
        self.feed = next(feed for feed in storage.list_feeds() if feed.url == url)
        self.number = 10**9 + int(time.time() * 1000) % 10**6 * 1000

    def store(self) -> None:
        self.number += 1
        now = datetime.now(UTC)
        store_batch(
            self.storage,
            self.feed.id,
            self.feed_number,
            (entry(self.number, self.feed_number, now),),
            now,
        )


def timings(run: Callable[[], Any], repeat: int) -> list[float]:
    run()  # warm up (imports, statement caches)
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return samples


def summary(samples: Iterable[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"p50 {p50 * 1000:7.3f} ms   p95 {p95 * 1000:7.3f} ms"


class ServerTimer:
    """WSGI middleware timing each request until its response body is complete."""

    def __init__(self, app: Flask) -> None:
        self.wsgi_app = app.wsgi_app
        self.samples: list[float] = []

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        start = time.perf_counter()
        app_iter = self.wsgi_app(environ, start_response)
        body = list(app_iter)
        self.samples.append(time.perf_counter() - start)
        # Closing it later runs what the app does after a response is sent.
        return ClosingIterator(body, getattr(app_iter, "close", None))


def bench_output(storage: Storage, db_url: str, name: str, page_size: int, repeat: int) -> None:
    config = make_config(db_url, page_size)
    output = outputs_of(config)[name]
    labels = config.section_names()
    sections = output.sections or None

    def query() -> Any:
        return collect_page(
            output,
            lambda before, limit: storage.list_stories(
                sections=sections, limit=limit, before=before
            ),
            page_size=page_size,
        )

    page = query()
    assert len(page.stories) == page_size, len(page.stories)
    document = FeedDocument(output, config.site, page.stories, labels)
    print(f"\n{name}, {page_size} entries:")
    print(f"  storage query (stories)  {summary(timings(query, repeat))}")
    refs = summary(
        timings(lambda: storage.list_story_refs(sections=sections, limit=page_size), repeat)
    )
    print(f"  storage query (refs)     {refs}")
    for fmt in ("atom", "rss", "json"):
        size = len(render_feed(fmt, document))
        rendered = summary(timings(lambda fmt=fmt: render_feed(fmt, document), repeat))
        print(f"  render {fmt:<5} every entry ({size // 1024:4} KB) {rendered}")
        if fmt != "json":
            fragments: dict[Any, bytes] = {}
            kept: Callable[[], Any] = functools.partial(render_feed, fmt, document, fragments)
            warm = summary(timings(kept, repeat))
            print(f"  render {fmt:<5} entries kept {warm}")

    # Versions read on every request (TTL 0), as right after a poll.
    app = create_app(Aggregator(config, storage), test_config={"FEEDS_VERSIONS_TTL": 0})
    timer = ServerTimer(app)
    app.wsgi_app = timer  # type: ignore[method-assign]
    client = app.test_client()
    cache = feed_cache(app)
    path = f"/feeds/{name}.atom"

    def get(headers: dict[str, str] | None = None) -> int:
        # Closing the response runs what the server does after sending it, as a WSGI
        # server would: storing entries newly rendered.
        with client.get(path, headers=headers or {}) as response:
            return response.status_code

    def uncached() -> None:
        cache.clear()
        assert get() == 200

    timer.samples.clear()
    client_samples = timings(uncached, repeat)
    print(f"  GET uncached (server)    {summary(timer.samples[1:])}")
    print(f"  GET uncached (client)    {summary(client_samples)}")

    def first_build() -> None:
        cache.clear()
        storage.delete_renderings()
        assert get() == 200

    timer.samples.clear()
    timings(first_build, max(3, repeat // 3))
    print(f"  GET, no entry rendered yet (server) {summary(timer.samples[1:])}")

    # The usual rebuild: a poll stored one new story; the other entries are kept.
    new_story = NewStories(storage, config, sections[0] if sections else None)
    get()
    for label, prerender in (("the poll", True), ("the GET", False)):
        samples = []
        for _ in range(repeat):
            before = versions_snapshot(storage, config)
            new_story.store()
            if prerender:
                prerender_changed(storage, config, before)
            timer.samples.clear()
            assert get() == 200
            samples.extend(timer.samples)
        print(f"  GET after a poll, new entry rendered by {label:<8} (server) {summary(samples)}")
    etag = client.get(path).headers["ETag"]

    def not_modified() -> None:
        assert get({"If-None-Match": etag}) == 304

    for label, ttl in (("versions re-read", 0.0), ("versions kept 1 s", 1.0)):
        cache.versions_ttl = ttl
        timer.samples.clear()
        client_samples = timings(not_modified, repeat * 10)
        print(f"  304, {label} (server) {summary(timer.samples[1:])}")
        print(f"  304, {label} (client) {summary(client_samples)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--db", help="SQLite file to create or reuse (default: a temp file)")
    parser.add_argument("--database-url", help="any SQLAlchemy URL instead of --db")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db_url = args.database_url or f"sqlite:///{args.db or Path(tmp) / 'bench.db'}"
        storage = open_storage(db_url)
        try:
            stored = storage.section_versions(("*",))
            if not stored:
                print(f"Filling {db_url} with {args.entries:,} entries...")
                fill(storage, make_config(db_url, 50), args.entries)
            else:
                print(f"Reusing {db_url}")
            if storage.dialect == "postgresql":
                # Planner statistics, as autovacuum keeps them on a live server (it may
                # be off on a test server, and has not run right after a bulk fill).
                with storage.write() as conn:
                    conn.exec_driver_sql("ANALYZE")
            for page_size in (50, 500):
                bench_output(storage, db_url, "all", page_size, args.repeat)
            bench_output(storage, db_url, "us-news", 50, args.repeat)
        finally:
            storage.close()


if __name__ == "__main__":
    main()
