"""Concurrency rules of a poll: the per-host limit and the spacing between requests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from aggregator.fetch import Fetcher, FetchLimits
from aggregator.models import Config, FeedConfig, PollingConfig
from aggregator.poll import poll_feeds
from aggregator.storage import Storage
from aggregator.update import Updater
from tests.httpserver import FeedServer, RecordedRequest, Response


class ConcurrencyProbe:
    """A slow feed handler that records how many requests were in flight at once."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.current = 0
        self.peak = 0
        self.started: list[float] = []
        self.lock = threading.Lock()

    def handler(self, index: int) -> Callable[[RecordedRequest], Response]:
        body = (
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>F{index}</title>'
            f"<item><title>x</title><guid>{index}</guid></item></channel></rss>"
        ).encode()

        def handle(_request: RecordedRequest) -> Response:
            with self.lock:
                self.current += 1
                self.peak = max(self.peak, self.current)
                self.started.append(time.monotonic())
            time.sleep(self.delay)
            with self.lock:
                self.current -= 1
            return Response(200, body, {"Content-Type": "application/rss+xml"})

        return handle


def run_poll(storage: Storage, server: FeedServer, count: int, **options: float) -> None:
    config = Config(
        path="poll.yaml",
        polling=PollingConfig(allow_private_networks=True),
        feeds=tuple(FeedConfig(url=server.url(f"/f{i}.xml")) for i in range(count)),
    )
    now = datetime.now(UTC)
    storage.sync_feeds(config.feeds, now)
    fetcher = Fetcher(FetchLimits.from_polling(config.polling))
    try:
        summary = poll_feeds(
            storage.due_feeds(now), Updater.from_config(config, storage, fetcher), **options
        )  # type: ignore[arg-type]
    finally:
        fetcher.close()
    assert summary.count("ok") == count


def test_at_most_two_requests_at_once_to_one_host(storage: Storage) -> None:
    probe = ConcurrencyProbe(delay=0.2)
    with FeedServer() as server:
        for i in range(8):
            server.route(f"/f{i}.xml", probe.handler(i))
        run_poll(storage, server, 8, workers=16, per_host=2)
    assert probe.peak == 2


def test_requests_to_one_host_are_spaced(storage: Storage) -> None:
    probe = ConcurrencyProbe(delay=0.0)
    with FeedServer() as server:
        for i in range(4):
            server.route(f"/f{i}.xml", probe.handler(i))
        run_poll(storage, server, 4, workers=16, per_host=2, host_spacing=0.3)
    gaps = [b - a for a, b in zip(probe.started, probe.started[1:], strict=False)]
    assert len(gaps) == 3
    assert min(gaps) >= 0.25, gaps
