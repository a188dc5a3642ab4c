"""A fault matrix served from 127.0.0.1, polled in one cycle beside healthy feeds.

Every fault stays on its own feed, the poll ends within the fetch deadlines, and
the process's peak memory stays bounded (read from /proc, a resource bound).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aggregator.config import Config, FeedConfig, PollingConfig
from aggregator.fetch import Fetcher, FetchLimits
from aggregator.storage import Storage
from aggregator.update import FeedOutcome
from tests.clock import FixedClock
from tests.conftest import MakeAggregator
from tests.httpserver import FeedServer, RecordedRequest, Response

TIMEOUT = 2.0


def rss(title: str, guid: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><item><title>{title} item</title><guid>{guid}</guid>"
        f"</item></channel></rss>"
    ).encode()


def burst_then_recover(failures: int) -> Callable[[RecordedRequest], Response]:
    calls = {"n": 0}

    def handler(_request: RecordedRequest) -> Response:
        calls["n"] += 1
        if calls["n"] <= failures:
            return Response(500, b"overloaded")
        return Response(200, rss("Recovered", "r1"), {"Content-Type": "application/rss+xml"})

    return handler


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc/self/status")


def reset_peak_rss() -> None:
    # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
    Path("/proc/self/clear_refs").write_text("5")


def latin1_body() -> bytes:
    # Declares UTF-8 but is Latin-1: "café" as a lone 0xE9 byte.
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Caf\xe9</title>'
        "<item><title>Caf\xe9 opens</title><guid>c1</guid></item></channel></rss>"
    ).encode("latin-1")


def test_fault_matrix_in_one_cycle(
    server: FeedServer, storage: Storage, make_aggregator: MakeAggregator
) -> None:
    healthy = [f"/healthy{i}.xml" for i in range(5)]
    for i, path in enumerate(healthy):
        server.route(path, FeedServer.feed(rss(f"Healthy {i}", f"h{i}")))
    server.route("/hang.xml", FeedServer.hang(60))
    server.route("/trickle.xml", FeedServer.trickle(rss("T", "t"), interval=2.0))
    server.route("/endless.xml", FeedServer.endless_chunked())
    server.route("/bomb.xml", FeedServer.gzip_bomb())
    server.route("/huge.xml", FeedServer.oversized(20 * 1024 * 1024))
    server.route(
        "/malformed.xml", FeedServer.feed(b"<rss><channel><<<>>>", content_type="text/html")
    )
    server.route("/encoding.xml", FeedServer.feed(latin1_body()))
    server.route("/burst.xml", burst_then_recover(failures=3))
    server.route("/429.xml", FeedServer.status(429, {"Retry-After": "7200"}))
    server.route("/410.xml", FeedServer.status(410))
    for hop in range(7):
        server.route(f"/chain{hop}.xml", FeedServer.redirect(f"/chain{hop + 1}.xml", 302))
    server.route("/loop-a.xml", FeedServer.redirect("/loop-b.xml", 302))
    server.route("/loop-b.xml", FeedServer.redirect("/loop-a.xml", 302))
    port = server.base_url.rsplit(":", 1)[1]
    server.route(
        "/to-private.xml", FeedServer.redirect(f"http://127.0.0.2:{port}/healthy0.xml", 302)
    )
    server.route("/to-mapped.xml", FeedServer.redirect(f"http://[::ffff:127.0.0.1]:{port}/x", 302))

    paths = [
        *healthy,
        "/hang.xml",
        "/trickle.xml",
        "/endless.xml",
        "/bomb.xml",
        "/huge.xml",
        "/malformed.xml",
        "/encoding.xml",
        "/burst.xml",
        "/429.xml",
        "/410.xml",
        "/chain0.xml",
        "/loop-a.xml",
        "/to-private.xml",
        "/to-mapped.xml",
    ]
    urls = [server.url(path) for path in paths] + ["http://feed.invalid/rss.xml"]
    config = Config(
        path="faults.yaml",
        polling=PollingConfig(
            timeout_seconds=TIMEOUT,
            connect_timeout_seconds=1.0,
            per_host=16,
            host_spacing_seconds=0,
        ),
        feeds=tuple(FeedConfig(url=url) for url in urls),
    )
    # The guard is on; 127.0.0.1 plays the part of a public address, so any other
    # loopback form stands for a private network a redirect must not reach.
    fetcher = Fetcher(
        FetchLimits.from_polling(config.polling), address_policy=lambda ip: ip == "127.0.0.1"
    )
    clock = FixedClock(datetime.now(UTC))
    now = clock.now
    aggregator = make_aggregator(config, clock=clock, fetcher=fetcher)

    reset_peak_rss()
    started = time.monotonic()
    summary = aggregator.update_feeds(workers=16)
    elapsed = time.monotonic() - started
    peak = peak_rss_mb()
    outcome = {o.url: o for o in summary.outcomes}

    def result(path: str) -> FeedOutcome:
        return outcome[server.url(path)]

    for path in healthy:
        assert result(path).status == "ok" and result(path).new == 1, path
    assert result("/encoding.xml").status == "ok"  # wrong declared encoding is recovered
    expected_errors = {
        "/hang.xml": "timed out",
        "/trickle.xml": "timed out",
        "/endless.xml": "too large",
        "/bomb.xml": "too large",
        "/huge.xml": "too large",
        "/malformed.xml": "",
        "/burst.xml": "500",
        "/429.xml": "429",
        "/410.xml": "410",
        "/chain0.xml": "redirect",
        "/loop-a.xml": "redirect",
        "/to-private.xml": "not allowed",
        "/to-mapped.xml": "not allowed",
    }
    for path, reason in expected_errors.items():
        assert result(path).status == "failed", path
        assert reason in (result(path).error or ""), (path, result(path).error)
    assert outcome["http://feed.invalid/rss.xml"].status == "failed"
    assert "resolve" in (outcome["http://feed.invalid/rss.xml"].error or "")
    # Nothing reached the "private" side.
    assert [r for r in server.requests if r.path == "/x"] == []
    assert len(server.requests_for("/healthy0.xml")) == 1
    # Bounded by the deadlines (hang and trickle run in parallel) and by memory.
    assert elapsed < TIMEOUT * 4, elapsed
    assert peak < 300, f"peak RSS {peak:.0f} MB"
    print(
        f"\nfault matrix: {len(summary.outcomes)} feeds in {elapsed:.1f}s, peak RSS {peak:.0f} MB"
    )

    # 429: not asked again before Retry-After expires; the others keep their own schedule.
    feed_429 = storage.get_feed_by_url(server.url("/429.xml"))
    assert feed_429 is not None and feed_429.next_check_at is not None
    assert feed_429.next_check_at >= now + timedelta(seconds=7200)
    an_hour_later = [f.url for f in storage.due_feeds(now + timedelta(hours=1))]
    assert server.url("/429.xml") not in an_hour_later
    healthy_feed = storage.get_feed_by_url(server.url("/healthy0.xml"))
    assert healthy_feed is not None and healthy_feed.retry_after_until is None
    gone = storage.get_feed_by_url(server.url("/410.xml"))
    assert gone is not None and gone.gone
    assert server.url("/410.xml") not in [
        f.url for f in storage.due_feeds(now + timedelta(days=30))
    ]

    # Bursts of 500: backoff, then recovery resets the error count.
    burst = server.url("/burst.xml")
    later = now
    for _ in range(3):
        feed = storage.get_feed_by_url(burst)
        assert feed is not None and feed.next_check_at is not None
        later = clock.set(feed.next_check_at + timedelta(seconds=1))
        aggregator.update_feeds(feeds=[f for f in storage.due_feeds(later) if f.url == burst])
    recovered = storage.get_feed_by_url(burst)
    assert recovered is not None
    assert (recovered.error_count, recovered.last_error) == (0, None)
    assert len(server.requests_for("/burst.xml")) == 4
