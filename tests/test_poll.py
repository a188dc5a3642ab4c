"""Concurrency rules of a poll: the per-host limit and the spacing between requests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

from aggregator.config import Config, FeedConfig, PollingConfig
from tests.conftest import MakeAggregator
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


def run_poll(
    make: MakeAggregator, server: FeedServer, count: int, *, polling: PollingConfig
) -> None:
    config = Config(
        path="poll.yaml",
        polling=replace(polling, allow_private_networks=True),
        feeds=tuple(FeedConfig(url=server.url(f"/f{i}.xml")) for i in range(count)),
    )
    summary = make(config).update_feeds()
    assert summary.count("ok") == count


def test_at_most_two_requests_at_once_to_one_host(make_aggregator: MakeAggregator) -> None:
    probe = ConcurrencyProbe(delay=0.2)
    with FeedServer() as server:
        for i in range(8):
            server.route(f"/f{i}.xml", probe.handler(i))
        run_poll(
            make_aggregator,
            server,
            8,
            polling=PollingConfig(workers=16, per_host=2, host_spacing_seconds=0),
        )
    assert probe.peak == 2


def test_requests_to_one_host_are_spaced(make_aggregator: MakeAggregator) -> None:
    probe = ConcurrencyProbe(delay=0.0)
    with FeedServer() as server:
        for i in range(4):
            server.route(f"/f{i}.xml", probe.handler(i))
        run_poll(
            make_aggregator,
            server,
            4,
            polling=PollingConfig(workers=16, per_host=2, host_spacing_seconds=0.3),
        )
    gaps = [b - a for a, b in zip(probe.started, probe.started[1:], strict=False)]
    assert len(gaps) == 3
    # Seen by the server, so a request the loaded machine hands to the server late
    # shortens the gap after it: allow that, but the three gaps together are the
    # spacing (without it they are all about 0).
    assert min(gaps) >= 0.15, gaps
    assert sum(gaps) >= 0.85, gaps
