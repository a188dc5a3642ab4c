"""lemon24's reader, driven by vs_reader.py: one command per process, in reader's own venv.

    python reader_driver.py ingest DB URLS_FILE [--workers 16]   # add the feeds, update them all
    python reader_driver.py update DB [--workers 16]             # re-poll every feed
    python reader_driver.py count DB                             # entries and feeds stored

Each command prints one JSON object on stdout: the feeds updated, entries new and
modified, feeds not modified (a 304) and the errors, by URL. ``update`` passes
``scheduled=False``, so every feed is fetched again whatever its schedule (reader
3.21+ only updates scheduled feeds by default). Imports nothing of the aggregator.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from reader import UpdatedFeed, make_reader


def update(reader, workers: int, **options) -> dict:  # type: ignore[no-untyped-def]
    summary: dict = {"feeds": 0, "new": 0, "modified": 0, "not_modified": 0, "errors": {}}
    for url, value in reader.update_feeds_iter(workers=workers, **options):
        summary["feeds"] += 1
        if value is None:
            summary["not_modified"] += 1
        elif isinstance(value, UpdatedFeed):
            summary["new"] += value.new
            summary["modified"] += value.modified
        else:
            summary["errors"][url] = f"{type(value).__name__}: {value}"
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("ingest", "update", "count"))
    parser.add_argument("db")
    parser.add_argument("urls", nargs="?", help="a file of feed URLs, one a line (ingest)")
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()

    reader = make_reader(args.db)
    try:
        if args.command == "ingest":
            started = time.perf_counter()
            for url in Path(args.urls).read_text().split():
                reader.add_feed(url, exist_ok=True)
            added = time.perf_counter()
            result = update(reader, args.workers)
            result["add_seconds"] = added - started
            result["update_seconds"] = time.perf_counter() - added
        elif args.command == "update":
            result = update(reader, args.workers, scheduled=False)
        else:
            result = {
                "entries": reader.get_entry_counts().total,
                "feeds": reader.get_feed_counts().total,
                "broken_feeds": reader.get_feed_counts(broken=True).total,
            }
    finally:
        reader.close()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
