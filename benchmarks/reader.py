"""Server-side latency of the web reader on 100,000 entries (500 feeds, 5 sections).

    .venv/bin/python benchmarks/reader.py [--entries 100000] [--feeds 500] [--requests 200]

(run from benchmarks/, or with it on sys.path: it imports bulk.py beside it)

Fills a temporary SQLite database through Storage.store_feed_update (one batch per
feed; one story in ten is also reported by a second feed), marks a share of it read,
then times requests through Flask's test client: the river, a section page, page 200
of the river (reached by following the "Older" links), a search and a story page;
and the second edition's views: the compact list (density cookie), the river with a
story in the reading pane (?s=), and the pane's fragment (/s/<id>/pane). Every feed
has a stored icon, so lists link them. Prints p50/p95 per page; the target is p95 <=
20 ms.

With ``--filters``, reading filters are set before timing (one feed in ten excludes a
common word, every section excludes another, one section has an include list): the
stories are filed again with them (timed), and the pages are timed the same way, to
show that the reader's filters cost nothing on a page (they are flags kept at filing).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bulk import store_batch  # benchmarks/bulk.py, beside this script

from aggregator.config import Config, FeedConfig, SectionConfig
from aggregator.core import Aggregator
from aggregator.scopes import ALL, section_scope
from aggregator.storage import ProcessedEntry, Storage, open_storage
from aggregator.types import StoryCursor
from aggregator.web import create_app

SECTIONS = ("US News", "US Military", "World", "Business", "Science")
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TARGET_MS = 20.0


def make_words(rng: random.Random, count: int) -> list[str]:
    syllables = ["ka", "lo", "mi", "ra", "te", "su", "no", "vi", "de", "pa", "zu", "en"]
    return ["".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(count)]


def fill(
    storage: Storage, entries: int, feeds: int, rng: random.Random, *, reuse: bool = False
) -> Config:
    """Return the benchmark's config, storing its entries unless ``reuse``."""
    config = Config(
        path="benchmark.yaml",
        sections=tuple(SectionConfig(name, name.lower().replace(" ", "-")) for name in SECTIONS),
        feeds=tuple(FeedConfig(url=f"https://feed{n}.example/rss") for n in range(feeds)),
    )
    if reuse:
        return config
    storage.sync_feeds(config.feeds, NOW)
    feed_ids = [storage.get_feed_by_url(feed.url).id for feed in config.feeds]  # type: ignore[union-attr]
    words = make_words(rng, 5000)
    slugs = [category.slug for category in config.sections]
    per_feed = entries // feeds
    started = time.perf_counter()
    for index, feed_id in enumerate(feed_ids):
        batch = []
        for n in range(per_feed):
            number = index * per_feed + n
            # One in ten shares its story with an entry of the previous feed.
            shared = n % 10 == 0 and index > 0
            story_key = f"url:https://news.example/{number - per_feed if shared else number}"
            title = " ".join(rng.choice(words) for _ in range(rng.randint(5, 10))).capitalize()
            text = " ".join(rng.choice(words) for _ in range(60))
            batch.append(
                ProcessedEntry(
                    identity=f"{feed_id}-{n}",
                    content_hash=f"h{number}",
                    guid=f"{feed_id}-{n}",
                    link=f"https://feed{index}.example/{n}",
                    canonical_url=f"https://feed{index}.example/{n}",
                    title=title,
                    summary_html=f"<p>{text[:400]}</p>",
                    content_html=f"<p>{text}</p><p>{title}</p>",
                    summary_text=text[:400],
                    author="Writer",
                    published=NOW - timedelta(minutes=number % 40000, seconds=number % 60),
                    updated=None,
                    tags=(),
                    enclosures=(),
                    sections=tuple(sorted(set(rng.sample(slugs, rng.choice([1, 1, 2]))))),
                    story_keys=(story_key,),
                )
            )
        store_batch(storage, feed_id, index, batch, NOW)
        if index % 50 == 49:
            done = (index + 1) * per_feed
            rate = done / (time.perf_counter() - started)
            print(f"  stored {done:,} entries ({rate:,.0f}/s)", file=sys.stderr)
    # A reader who has been at it a while: one section read up to a day ago, some stars.
    watermark = storage.list_reader_stories(ALL, limit=1).watermark
    storage.mark_all_read(
        section_scope(slugs[1]),
        newest=StoryCursor(NOW - timedelta(days=1), watermark),
        watermark=watermark,
        now=NOW,
    )
    for story_id in rng.sample(range(1, watermark + 1), 50):
        storage.set_starred(story_id, True, NOW)
    icon = bytes.fromhex("89504e470d0a1a0a") + bytes(120)  # a PNG signature and padding
    for feed_id in feed_ids:
        storage.store_feed_icon(feed_id, fetched_at=NOW, content_type="image/png", body=icon)
    return config


def with_filters(config: Config) -> Config:
    """The config with reading filters on one feed in ten and on every section."""
    words = make_words(random.Random(20261129), 5000)
    feeds = tuple(
        dataclasses.replace(feed, exclude=(words[0],)) if n % 10 == 0 else feed
        for n, feed in enumerate(config.feeds)
    )
    sections = tuple(
        dataclasses.replace(
            section, exclude=(words[1],), include=(tuple(words[2:40]) if n == 0 else ())
        )
        for n, section in enumerate(config.sections)
    )
    return dataclasses.replace(config, feeds=feeds, sections=sections)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(int(len(ordered) * 0.95) - 1, 0)]


def timed(client: object, url: str, requests: int) -> tuple[float, float, float, float]:
    """Return wall-clock p50, p95 and CPU-time p50, p95 in ms of GET ``url``.

    CPU time is this process's: on a machine busy with other work it shows what
    a request costs, when wall-clock time also shows the wait for a core.
    """
    for _ in range(5):  # warm caches and the template cache
        client.get(url)  # type: ignore[attr-defined]
    wall, cpu = [], []
    for _ in range(requests):
        started, started_cpu = time.perf_counter(), time.process_time()
        response = client.get(url)  # type: ignore[attr-defined]
        wall.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return (*percentiles(wall), *percentiles(cpu))


def older_link(html: str) -> str:
    found = re.search(r'<a rel="next" href="([^"]+)"', html)
    assert found, "no Older link"
    return found.group(1).replace("&amp;", "&")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--feeds", type=int, default=500)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument(
        "--database", type=Path, help="keep the filled database here; reuse it if it exists"
    )
    parser.add_argument(
        "--filters", action="store_true", help="set reading filters (feeds and sections) first"
    )
    args = parser.parse_args()
    rng = random.Random(20261129)
    with tempfile.TemporaryDirectory() as folder:
        path = args.database or Path(folder) / "bench.db"
        reuse = path.exists()
        storage = open_storage(f"sqlite:///{path}")
        started = time.perf_counter()
        config = fill(storage, args.entries, args.feeds, rng, reuse=reuse)
        if not reuse:
            print(f"filled {args.entries:,} entries in {time.perf_counter() - started:.0f} s")
        aggregator = Aggregator(config, storage)
        if args.filters:
            config = with_filters(config)
            started = time.perf_counter()
            aggregator.apply_config(config)  # files every story again by the filters
            hidden = aggregator.unread_counts().of(ALL)
            print(
                f"filed again with reading filters in {time.perf_counter() - started:.0f} s;"
                f" {hidden:,} unread stories shown"
            )
        app = create_app(aggregator, test_config={"TESTING": True})
        client = app.test_client()
        compact = app.test_client()
        compact.set_cookie("density", "compact")

        url = "/"
        for _ in range(199):
            url = older_link(client.get(url).get_data(as_text=True))
        river = client.get("/").get_data(as_text=True)
        story_id = re.search(r'data-id="(\d+)"', river).group(1)  # type: ignore[union-attr]
        words = make_words(random.Random(20261129), 5000)
        pages = {
            "river /": "/",
            "river, unread only": "/?unread=1",
            "section /c/us-military": "/c/us-military",
            "river page 200": url,
            f"search (one word, {words[7]!r})": f"/search?q={words[7]}",
            f"search (two words, {words[7]} {words[8]})": f"/search?q={words[7]}+{words[8]}",
            f"story page /s/{story_id}": f"/s/{story_id}",
            "feeds health /feeds": "/feeds",
            f"pane fragment /s/{story_id}/pane": f"/s/{story_id}/pane?in=all",
            f"river with the pane /?s={story_id}": f"/?s={story_id}",
        }
        compact_pages = {
            "compact river /": "/",
            "compact section /c/us-military": "/c/us-military",
            "compact river page 200": url,
        }
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        print(f"{'page':<44} {'p50 ms':>7} {'p95 ms':>7} {'cpu p50':>8} {'cpu p95':>8}")
        runs = [(client, pages), (compact, compact_pages)]
        for on, named in runs:
            for name, page_url in named.items():
                p50, p95, cpu50, cpu95 = timed(on, page_url, args.requests)
                verdict = "" if p95 <= TARGET_MS else "  (over target)"
                print(f"{name:<44} {p50:7.1f} {p95:7.1f} {cpu50:8.1f} {cpu95:8.1f}{verdict}")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
        storage.close()


if __name__ == "__main__":
    main()
