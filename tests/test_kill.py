"""A poller killed with SIGKILL mid-poll leaves no partial feed update; the next run
recovers with no duplicates and the right validators."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select

from aggregator.storage import schema
from tests.clock import subprocess_env
from tests.httpserver import FeedServer, RecordedRequest, Response

FEEDS = 8
ITEMS = 50


def feed_body(index: int) -> bytes:
    items = "".join(
        f"<item><title>Feed {index} story {n}</title><guid>{index}-{n}</guid></item>"
        for n in range(ITEMS)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {index}</title>'
        f"{items}</channel></rss>"
    ).encode()


def slow(index: int, delay: float) -> object:
    body = feed_body(index)

    def handler(_request: RecordedRequest) -> Response:
        time.sleep(delay)
        return Response(200, body, {"Content-Type": "application/rss+xml", "ETag": f'"e{index}"'})

    return handler


def test_sigkill_mid_poll_then_recover(tmp_path: Path) -> None:
    with FeedServer() as server:
        for i in range(FEEDS):
            server.route(f"/f{i}.xml", slow(i, delay=0.1 if i < 2 else 3.0))  # type: ignore[arg-type]
        config = tmp_path / "feeds.yaml"
        config.write_text(
            "storage:\n  url: sqlite:///kill.db\npolling:\n  allow_private_networks: true\n"
            "  timeout: 20s\nfeeds:\n"
            + "".join(f"  - url: {server.url(f'/f{i}.xml')}\n" for i in range(FEEDS))
        )
        env = subprocess_env()
        command = [sys.executable, "-m", "aggregator", "--config", str(config), "poll"]
        process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while len(server.requests) < FEEDS and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the two fast feeds are stored, the slow ones are mid-fetch
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

        engine = create_engine(f"sqlite:///{tmp_path / 'kill.db'}")
        with engine.connect() as conn:
            entries_after_kill = conn.scalar(select(func.count()).select_from(schema.entries))
            etags = dict(conn.execute(select(schema.feeds.c.url, schema.feeds.c.etag)).all())
        stored = [url for url, etag in etags.items() if etag]
        assert entries_after_kill == len(stored) * ITEMS  # whole feeds or nothing
        assert len(stored) < FEEDS

        for i in range(FEEDS):  # make the rest quick for the recovery run
            server.route(f"/f{i}.xml", slow(i, delay=0.0))  # type: ignore[arg-type]
        result = subprocess.run(
            command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        with engine.connect() as conn:
            total = conn.scalar(select(func.count()).select_from(schema.entries))
            distinct = conn.scalar(
                select(func.count()).select_from(
                    select(schema.entries.c.feed_id, schema.entries.c.identity)
                    .distinct()
                    .subquery()
                )
            )
            etags = dict(conn.execute(select(schema.feeds.c.url, schema.feeds.c.etag)).all())
        engine.dispose()
    assert total == distinct == FEEDS * ITEMS
    assert etags == {server.url(f"/f{i}.xml"): f'"e{i}"' for i in range(FEEDS)}
