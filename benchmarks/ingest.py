"""How fast does a poll ingest feeds? Feeds per second through the whole pipeline.

Serves N generated RSS feeds (M items each, HTML bodies) from a loopback server and
polls them into a fresh SQLite database three times:

1. first poll: every item is new (fetch, parse, sanitize, categorize, store);
2. changed bodies: each feed's document changes (a new build date) but its items
   do not — parsing happens, sanitizing and writing are skipped;
3. not modified: the server answers 304.

Prints feeds/s and entries/s for each. For comparison, lemon24/reader was measured
at about 12 feeds/s here, limited by feedparser's own sanitizer (which we turn off).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aggregator.config import Config, FeedConfig, PollingConfig, SectionConfig
from aggregator.core import Aggregator
from tests.httpserver import FeedServer, RecordedRequest, Response

PARAGRAPH = (
    "<p>The Navy said the destroyer left <a href='/port'>Norfolk</a> on Monday with "
    "<b>300 sailors</b> aboard, officials said.</p>"
)


def document(feed: int, items: int, build: int) -> bytes:
    body = "".join(
        f"<item><title>Feed {feed} story {n}</title><link>https://f{feed}.example/{n}</link>"
        f"<guid>f{feed}-{n}</guid><pubDate>Mon, 02 Nov 2026 10:{n % 60:02d}:00 GMT</pubDate>"
        f"<category>U.S. News</category><description><![CDATA[{PARAGRAPH * 4}]]></description>"
        "</item>"
        for n in range(items)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {feed}</title>'
        f"<link>https://f{feed}.example/</link><lastBuildDate>{build}</lastBuildDate>"
        f"{body}</channel></rss>"
    ).encode()


class Feeds:
    def __init__(self, count: int, items: int) -> None:
        self.build = 1
        self.count, self.items = count, items

    def handler(self, feed: int):  # type: ignore[no-untyped-def]
        def handle(request: RecordedRequest) -> Response:
            etag = f'"{feed}-{self.build}"'
            if request.headers.get("if-none-match") == etag:
                return Response(304)
            body = document(feed, self.items, self.build)
            return Response(200, body, {"Content-Type": "application/rss+xml", "ETag": etag})

        return handle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=30)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()

    feeds = Feeds(args.feeds, args.items)
    with FeedServer() as server, tempfile.TemporaryDirectory() as folder:
        for i in range(args.feeds):
            server.route(f"/f{i}.xml", feeds.handler(i))
        config = Config(
            path="bench.yaml",
            polling=PollingConfig(allow_private_networks=True, host_spacing_seconds=0),
            sections=(SectionConfig("US News", "us-news", aliases=("U.S. News",)),),
            feeds=tuple(FeedConfig(url=server.url(f"/f{i}.xml")) for i in range(args.feeds)),
        )
        config = replace(
            config, polling=replace(config.polling, workers=args.workers, per_host=args.workers)
        )
        now = datetime.now(UTC)
        aggregator = Aggregator.open(
            config, database=f"sqlite:///{folder}/bench.db", clock=lambda: now
        )
        print(f"{args.feeds} feeds x {args.items} items, {args.workers} workers, SQLite")
        for label, build in (("first poll (all new)", 1), ("changed bodies", 2), ("304", 2)):
            feeds.build = build
            started = time.perf_counter()
            summary = aggregator.update_feeds(scheduled=False)
            elapsed = time.perf_counter() - started
            now += timedelta(hours=1)
            print(
                f"  {label:<22} {elapsed:6.2f} s  {args.feeds / elapsed:7.1f} feeds/s  "
                f"{summary.new + summary.updated:6d} written  "
                f"({summary.count('ok')} ok, {summary.count('not_modified')} not modified, "
                f"{summary.count('failed')} failed)"
            )
        aggregator.close()


if __name__ == "__main__":
    main()
