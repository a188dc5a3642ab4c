"""WebSub: after a poll that changes merged feeds, the hub is told which (a stub hub
on loopback records the pings)."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from aggregator.config import Config
from aggregator.fetch import ping_hub
from aggregator.publish import outputs_of, ping_changes, topic_urls, versions_snapshot
from aggregator.storage import Storage
from tests.httpserver import FeedServer, Response
from tests.test_cli import run
from tests.test_publish_http import make_config, poll_now, rss, serve

HUB = "/hub"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as feed_server:
        feed_server.route(HUB, Response(204))
        yield feed_server


def pings(server: FeedServer) -> list[str]:
    """The topics the hub was told about, in order; every ping must be well-formed."""
    topics = []
    for request in server.requests_for(HUB):
        assert request.method == "POST"
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        assert request.headers["user-agent"].startswith("aggregator/")
        form = parse_qs(request.body.decode("ascii"), strict_parsing=True)
        assert form["hub.mode"] == ["publish"]
        [topic] = form["hub.url"]
        topics.append(topic)
    return topics


def with_hub(config: Config, server: FeedServer) -> Config:
    return replace(config, site=replace(config.site, websub_hub=server.url(HUB)))


def test_ping_hub_posts_each_topic(server: FeedServer) -> None:
    topics = ["https://news.example.org/feeds/all.atom", "https://news.example.org/feeds/all.rss"]
    assert ping_hub(server.url(HUB), topics) == 2
    assert pings(server) == topics


def test_hub_refusals_are_logged_not_raised(
    server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.route(HUB, Response(500, b"hub broken"))
    with caplog.at_level(logging.WARNING, logger="aggregator.websub"):
        assert ping_hub(server.url(HUB), ["https://a.example/1", "https://a.example/2"]) == 0
    assert len(server.requests_for(HUB)) == 2  # a refusal does not stop the others
    assert "refused https://a.example/1: HTTP 500" in caplog.text


def test_unreachable_hub_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="aggregator.websub"):
        assert ping_hub(f"http://127.0.0.1:{port}/", ["https://a.example/1"] * 5) == 0
    assert time.monotonic() - started < 5  # gave up at once, not five timeouts later
    assert caplog.text.count("cannot reach hub") == 1


def test_no_hub_no_work(server: FeedServer, storage: Storage) -> None:
    config = make_config(server, {})
    assert ping_changes(config, storage, {}) == 0
    assert server.requests_for(HUB) == []


def test_a_poll_that_changes_outputs_pings_the_hub(server: FeedServer, storage: Storage) -> None:
    serve(server, "/news", rss([{"title": "Town story"}]))
    serve(server, "/world", rss([{"title": "Summit"}], "Globe"))
    config = with_hub(make_config(server, {"/news": "US News", "/world": "World"}), server)
    poll_now(config, storage)  # the poll pings the hub itself
    assert len(pings(server)) == 9
    base = "https://news.example.org/feeds"
    assert sorted(pings(server)) == sorted(
        f"{base}/{name}.{fmt}"
        for name in ("all", "us-news", "world")
        for fmt in ("atom", "rss", "json")
    )
    # Nothing new: no ping. Then one US News story: only the outputs showing it.
    before = versions_snapshot(storage, config)
    poll_now(config, storage)
    assert len(pings(server)) == 9
    assert ping_changes(config, storage, before) == 0
    serve(server, "/news", rss([{"title": "Town story"}, {"title": "Second story"}]), 2)
    poll_now(config, storage)
    assert len(pings(server)) == 15
    assert sorted(pings(server)[9:]) == sorted(
        f"{base}/{name}.{fmt}" for name in ("all", "us-news") for fmt in ("atom", "rss", "json")
    )


def test_topics_are_the_self_links(server: FeedServer) -> None:
    config = make_config(server, {})
    outputs = list(outputs_of(config).values())[:2]
    assert topic_urls(config.site, outputs) == [
        "https://news.example.org/feeds/all.atom",
        "https://news.example.org/feeds/all.rss",
        "https://news.example.org/feeds/all.json",
        "https://news.example.org/feeds/us-military.atom",
        "https://news.example.org/feeds/us-military.rss",
        "https://news.example.org/feeds/us-military.json",
    ]


def test_aggregator_poll_pings_the_hub(server: FeedServer, tmp_path: Path) -> None:
    serve(server, "/news", rss([{"title": "Town story"}]))
    config_path = tmp_path / "feeds.yaml"
    config_path.write_text(
        "site:\n"
        "  base_url: https://news.example.org\n"
        f"  websub_hub: {server.url(HUB)}\n"
        "polling:\n"
        "  allow_private_networks: true\n"
        "categories:\n"
        "  - name: US News\n"
        "feeds:\n"
        f"  - url: {server.url('/news')}\n"
        "    category: US News\n",
        encoding="utf-8",
    )
    result = run("--config", str(config_path), "poll", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(pings(server)) == sorted(
        f"https://news.example.org/feeds/{name}.{fmt}"
        for name in ("all", "us-news")
        for fmt in ("atom", "rss", "json")
    )
    again = run("--config", str(config_path), "poll", "--all", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert len(pings(server)) == 6  # nothing changed, nothing pinged
