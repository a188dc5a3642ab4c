"""`aggregator serve` as real processes: the scheduler, leases between two processes,
/healthz, and a clean stop on SIGTERM."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from aggregator.storage import schema
from tests.clock import subprocess_env
from tests.httpserver import FeedServer, RecordedRequest, Response

FEEDS = 12


def slow_feed(index: int, delay: float) -> object:
    body = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {index}</title>'
        f"<item><title>Story {index}</title><guid>s{index}</guid>"
        f"<link>https://news.example/{index}</link></item></channel></rss>"
    ).encode()

    def handler(_request: RecordedRequest) -> Response:
        time.sleep(delay)
        return Response(200, body, {"Content-Type": "application/rss+xml"})

    return handler


def write_config(tmp_path: Path, server: FeedServer, *, workers: int = 2) -> Path:
    feeds = "".join(f"  - url: {server.url(f'/feed{i}.xml')}\n" for i in range(FEEDS))
    config = tmp_path / "feeds.yaml"
    config.write_text(
        "storage:\n  url: sqlite:///serve.db\n"
        f"polling:\n  interval: 1h\n  allow_private_networks: true\n  workers: {workers}\n"
        f"  timeout: 10s\nfeeds:\n{feeds}"
    )
    return config


class ServeProcess:
    def __init__(self, config: Path) -> None:
        env = subprocess_env()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aggregator", "--config", str(config), "serve", "--port", "0"],
            cwd=config.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, f"no 'Serving on' line: {line!r} {self.stop()}"
        self.base_url = f"http://127.0.0.1:{match.group(1)}"

    def get_json(self, path: str) -> dict[str, object]:
        with urllib.request.urlopen(self.base_url + path, timeout=10) as response:
            assert response.status == 200
            return json.loads(response.read())  # type: ignore[no-any-return]

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            _, stderr = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, stderr = self.process.communicate()
        return self.process.returncode, stderr


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as feed_server:
        yield feed_server


def fetched_count(db_path: Path) -> int:
    engine = create_engine(f"sqlite:///{db_path}")
    try:
        with engine.connect() as conn:
            query = select(func.count()).where(schema.feeds.c.last_fetched_at.is_not(None))
            return int(conn.scalar(query) or 0)
    finally:
        engine.dispose()


def wait_for(condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_two_serve_processes_fetch_each_feed_once(server: FeedServer, tmp_path: Path) -> None:
    for i in range(FEEDS):
        server.route(f"/feed{i}.xml", slow_feed(i, delay=0.3))  # type: ignore[arg-type]
    config = write_config(tmp_path, server)
    first, second = ServeProcess(config), ServeProcess(config)
    try:
        wait_for(lambda: fetched_count(tmp_path / "serve.db") == FEEDS)
        time.sleep(1)  # a late double fetch would show up now
        health = second.get_json("/healthz")
        assert health["status"] == "ok" and health["feeds"] == FEEDS
        assert health["last_poll_at"]
    finally:
        codes = [first.stop(), second.stop()]
    for i in range(FEEDS):
        assert len(server.requests_for(f"/feed{i}.xml")) == 1, f"feed{i} fetched twice"
    assert [code for code, _ in codes] == [0, 0], codes


def test_sigterm_stops_cleanly_without_partial_data(server: FeedServer, tmp_path: Path) -> None:
    for i in range(FEEDS):
        server.route(f"/feed{i}.xml", slow_feed(i, delay=1.0))  # type: ignore[arg-type]
    config = write_config(tmp_path, server, workers=2)
    process = ServeProcess(config)
    wait_for(lambda: fetched_count(tmp_path / "serve.db") >= 1, timeout=30)
    code, stderr = process.stop(signal.SIGTERM)
    assert code == 0, stderr
    engine = create_engine(f"sqlite:///{tmp_path / 'serve.db'}")
    with engine.connect() as conn:
        fetched = conn.scalar(
            select(func.count()).where(schema.feeds.c.last_fetched_at.is_not(None))
        )
        entries = conn.scalar(select(func.count()).select_from(schema.entries))
        leased = conn.scalar(select(func.count()).where(schema.feeds.c.lease_owner.is_not(None)))
    engine.dispose()
    assert fetched is not None and 0 < fetched < FEEDS  # stopped part-way
    assert entries == fetched  # every fetched feed stored whole; nothing half-written
    assert leased == 0  # unstarted and cut-short feeds were given back
    assert len(server.requests) >= fetched  # the others were cut short or never started


def test_sigterm_cuts_slow_fetches_short(server: FeedServer, tmp_path: Path) -> None:
    """Container runtimes send SIGKILL 10 s after SIGTERM: serve must not wait for
    fetches in flight to reach their (here 30 s) deadline."""
    for i in range(FEEDS):
        server.route(f"/feed{i}.xml", slow_feed(i, delay=25.0))  # type: ignore[arg-type]
    config = write_config(tmp_path, server, workers=3)
    config.write_text(config.read_text().replace("timeout: 10s", "timeout: 30s\n  per_host: 3"))
    process = ServeProcess(config)
    wait_for(lambda: len(server.requests) >= 3, timeout=30)
    started = time.monotonic()
    code, stderr = process.stop(signal.SIGTERM)
    exited_after = time.monotonic() - started
    assert code == 0, stderr
    assert exited_after < 5, (exited_after, stderr)  # a bound on exiting, not a benchmark
    assert "3 fetches in flight were cut short; their feeds stay due" in stderr
    engine = create_engine(f"sqlite:///{tmp_path / 'serve.db'}")
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                schema.feeds.c.lease_owner,
                schema.feeds.c.last_fetched_at,
                schema.feeds.c.error_count,
                schema.feeds.c.next_check_at,
            )
        ).all()
        attempts = conn.scalar(select(func.count()).select_from(schema.fetch_attempts))
    engine.dispose()
    assert all(row.lease_owner is None for row in rows)  # leases given back
    # Nothing recorded for the cut fetches: no failure, no history, still due.
    assert all(row.last_fetched_at is None and row.error_count == 0 for row in rows)
    assert all(row.next_check_at is None for row in rows)
    assert attempts == 0


def test_a_busy_port_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "feeds.yaml").write_text("storage:\n  url: sqlite:///busy.db\n")
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "aggregator",
                "--config",
                str(tmp_path / "feeds.yaml"),
                "serve",
                "--port",
                str(port),
            ],
            cwd=tmp_path,
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert re.fullmatch(
        rf"aggregator serve: 127\.0\.0\.1:{port} is in use; try --port \d+", line
    ), line
    suggested = int(line.rsplit(" ", 1)[1])
    assert suggested > port
