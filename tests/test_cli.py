"""The `aggregator` command, run as a user runs it: a subprocess on real files."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from aggregator.config import load_config
from aggregator.storage import open_storage, schema
from tests.clock import subprocess_env
from tests.conftest import REPO_ROOT
from tests.httpserver import FeedServer
from tests.test_storage import make_entry, make_update


def run(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environment = subprocess_env(**(env or {}))
    return subprocess.run(
        [sys.executable, "-m", "aggregator", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def offline(tmp_path: Path) -> Path:
    """A copy of the offline example, so its database lands in tmp_path."""
    target = tmp_path / "offline"
    shutil.copytree(REPO_ROOT / "examples" / "offline", target)
    return target


def test_check_passes_on_the_shipped_config() -> None:
    result = run("check", cwd=REPO_ROOT)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout


def test_check_reports_file_and_line_and_exits_1(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(
        "categories:\n  - name: US News\nfeeds:\n  - url: https://a.example/feed\n"
        "    intervall: 1h\n  - url: https://b.example/feed\n    category: US Nwes\n"
    )
    result = run("--config", str(config), "check", cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith(f"{config}:5: ") and "did you mean 'interval'" in lines[0]
    assert lines[1].startswith(f"{config}:7: ") and "US News" in lines[1]


def test_config_from_environment(offline: Path) -> None:
    result = run("check", cwd=REPO_ROOT, env={"AGGREGATOR_CONFIG": str(offline / "feeds.yaml")})
    assert result.returncode == 0, result.stderr
    assert str(offline / "feeds.yaml") in result.stdout


def test_poll_offline_example_fills_the_database(offline: Path) -> None:
    result = run("--config", "feeds.yaml", "poll", cwd=offline)
    assert result.returncode == 0, result.stderr
    summary = result.stdout.strip().splitlines()
    assert summary[-1].startswith("Polled 6 feeds: 6 ok, 0 not modified, 0 failed;")
    engine = create_engine(f"sqlite:///{offline / 'offline.db'}")
    with engine.connect() as conn:
        entries = conn.scalar(select(func.count()).select_from(schema.entries))
        stories = conn.scalar(select(func.count()).select_from(schema.stories))
        renderings = schema.story_renderings
        formats_of = dict(
            conn.execute(
                select(renderings.c.story_id, func.count()).group_by(renderings.c.story_id)
            ).all()
        )
    engine.dispose()
    assert entries and stories and stories < entries  # duplicates folded into stories
    # The poll rendered the merged feeds' newest entries in every format, for subscribers.
    assert len(formats_of) == min(stories, 50) and set(formats_of.values()) == {3}

    again = run("--config", "feeds.yaml", "poll", cwd=offline)
    assert again.returncode == 0
    assert "No feed is due" in again.stdout
    forced = run("--config", "feeds.yaml", "poll", "--all", cwd=offline)
    assert forced.returncode == 0
    # Unchanged files are not read again.
    assert (
        forced.stdout.strip()
        .splitlines()[-1]
        .startswith("Polled 6 feeds: 0 ok, 6 not modified, 0 failed; 0 new entries, 0 updated")
    )
    # Local files have no HTTP status, and are looked at whenever they change.
    listing = run("--config", "feeds.yaml", "feeds", cwd=offline).stdout.splitlines()
    assert all("on change" in line for line in listing[1:-1]), listing
    assert all(line.rstrip().endswith("local file") for line in listing[1:-1]), listing


def test_poll_exits_0_when_feeds_fail_and_names_the_reason(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.route("/gone.xml", FeedServer.status(410))
        server.route("/missing.xml", FeedServer.status(404))
        config = tmp_path / "feeds.yaml"
        config.write_text(
            "polling:\n  allow_private_networks: true\n  timeout: 5s\n"
            f"feeds:\n  - url: {server.url('/gone.xml')}\n  - url: {server.url('/missing.xml')}\n"
        )
        result = run("--config", str(config), "poll", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "410" in result.stdout and "404" in result.stdout
    assert "Polled 2 feeds: 0 ok, 0 not modified, 2 failed" in result.stdout


def test_poll_refuses_an_invalid_config(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds:\n  - url: ftp://example.org/feed\n")
    result = run("--config", str(config), "poll", cwd=tmp_path)
    assert result.returncode == 1
    assert f"{config}:2:" in result.stderr


def test_database_url_from_environment(offline: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.db"
    result = run(
        "--config",
        "feeds.yaml",
        "poll",
        cwd=offline,
        env={"AGGREGATOR_DATABASE_URL": f"sqlite:///{other}"},
    )
    assert result.returncode == 0, result.stderr
    assert other.exists()
    assert not (offline / "offline.db").exists()


def test_feeds_lists_status_and_check_suggests_fixes(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.route(
            "/ok.xml",
            FeedServer.feed(b'<rss version="2.0"><channel><title>Fine</title></channel></rss>'),
        )
        server.route("/gone.xml", FeedServer.status(410))
        server.route("/broken.xml", FeedServer.status(500))
        config = tmp_path / "feeds.yaml"
        config.write_text(
            "polling:\n  allow_private_networks: true\n  error_threshold: 1\n"
            f"feeds:\n  - url: {server.url('/ok.xml')}\n  - url: {server.url('/gone.xml')}\n"
            f"  - url: {server.url('/broken.xml')}\n"
        )
        assert run("--config", str(config), "poll", cwd=tmp_path).returncode == 0
    listing = run("--config", str(config), "feeds", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.strip().splitlines()
    assert lines[0].split() == ["STATUS", "FEED", "LAST", "FETCH", "NEXT", "CHECK", "DETAIL"]
    assert lines[1].startswith("GONE") and "stopped" in lines[1] and "410" in lines[1]
    assert lines[2].startswith("FLAGGED") and "HTTP 500" in lines[2] and "(1x)" in lines[2]
    assert lines[3].startswith("ok") and "Fine" in lines[3] and "HTTP 200" in lines[3]
    assert lines[-1] == "3 feeds, 2 need attention."

    checked = run("--config", str(config), "check", cwd=tmp_path)
    assert checked.returncode == 0
    assert (
        f"{config}:6: note: {server.url('/gone.xml')} is gone (HTTP 410); remove it"
        in checked.stdout
    )


def test_check_never_creates_a_database(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text("feeds:\n  - url: https://example.org/feed.xml\n")
    assert run("--config", str(config), "check", cwd=tmp_path).returncode == 0
    assert not (tmp_path / "aggregator.db").exists()


def test_json_logs_carry_the_feed_url(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.route("/missing.xml", FeedServer.status(404))
        config = tmp_path / "feeds.yaml"
        config.write_text(
            "polling:\n  allow_private_networks: true\n"
            f"feeds:\n  - url: {server.url('/missing.xml')}\n"
        )
        result = run("--config", str(config), "--log-format", "json", "poll", cwd=tmp_path)
    records = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    failures = [r for r in records if r.get("feed_url") == server.url("/missing.xml")]
    assert failures and failures[0]["level"] == "warning" and failures[0]["status"] == 404
    assert "HTTP 404" in failures[0]["message"]


def test_poll_applies_retention(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.route(
            "/f.xml",
            FeedServer.feed(b'<rss version="2.0"><channel><title>F</title></channel></rss>'),
        )
        config = tmp_path / "feeds.yaml"
        config.write_text(
            "storage:\n  retention: 30d\npolling:\n  allow_private_networks: true\n"
            f"feeds:\n  - url: {server.url('/f.xml')}\n"
        )
        storage = open_storage(f"sqlite:///{tmp_path / 'aggregator.db'}")
        storage.sync_feeds(load_config(config).feeds, datetime.now(UTC))
        (feed,) = storage.list_feeds()
        old = datetime.now(UTC) - timedelta(days=40)
        storage.store_feed_update(replace(make_update(feed.id, make_entry("old")), fetched_at=old))
        result = run("--config", str(config), "poll", "--all", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        with storage.read() as conn:
            remaining = conn.scalar(select(func.count()).select_from(schema.entries))
        storage.close()
    assert remaining == 0


# --- subscribing: add and import -----------------------------------------------------------


def site_server() -> FeedServer:
    from tests.httpserver import Response

    server = FeedServer().start()
    feed = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Harbor Daily</title>'
        b"<item><title>Ferry back</title><guid>h1</guid></item></channel></rss>"
    )
    server.route("/feed.xml", FeedServer.feed(feed))
    server.route(
        "/",
        Response(
            200,
            b'<!doctype html><html><head><link rel="alternate" type="application/rss+xml"'
            b' href="/feed.xml" title="Harbor Daily"></head><body>Hi</body></html>',
            {"Content-Type": "text/html"},
        ),
    )
    return server


ADMIN_CONFIG = (
    "# Our feeds\n"
    "storage:\n  url: sqlite:///news.db\n"
    "polling:\n  allow_private_networks: true   # the test site is on loopback\n"
    "categories:\n  - name: World\n"
    "feeds:\n  - url: https://wire.example/feed   # the wire\n"
)


def test_add_by_a_site_address_writes_the_linked_feed(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(ADMIN_CONFIG)
    server = site_server()
    try:
        result = run(
            "--config",
            str(config),
            "add",
            server.url("/"),
            "--category",
            "Local News",
            "--title",
            "Harbor",
            cwd=tmp_path,
        )
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    assert f"1. Harbor Daily - 1 item - {server.url('/feed.xml')}" in result.stdout
    assert "Saved " in result.stdout
    text = config.read_text()
    assert text.startswith(ADMIN_CONFIG.replace("feeds:", "  - name: Local News\nfeeds:"))
    assert text.endswith(
        f"  - url: {server.url('/feed.xml')}\n    title: Harbor\n    category: Local News\n"
    )
    assert load_config(config).feeds[-1].section == "Local News"


def test_add_refuses_what_cannot_be_a_feed(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(ADMIN_CONFIG.replace("true ", "false"))
    server = site_server()
    try:
        refused = run("--config", str(config), "add", server.url("/"), cwd=tmp_path)
    finally:
        server.stop()
    assert refused.returncode == 1
    assert "set polling.allow_private_networks: true" in refused.stderr
    assert config.read_text() == ADMIN_CONFIG.replace("true ", "false")


def test_import_an_opml_file(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(ADMIN_CONFIG)
    opml = REPO_ROOT / "tests" / "data" / "opml" / "feedly.opml"
    dry = run("--config", str(config), "import", str(opml), "--dry-run", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "Not written (--dry-run)." in dry.stdout
    assert config.read_text() == ADMIN_CONFIG
    result = run("--config", str(config), "import", str(opml), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Adding 4 feeds; new sections: Military, Must read, Science:" in result.stdout
    assert "  ~ line 13: https://news.usni.org/feed" in result.stdout
    assert len(load_config(config).feeds) == 5
    again = run("--config", str(config), "import", str(opml), cwd=tmp_path)
    assert "Nothing new to add." in again.stdout


def test_import_says_what_is_wrong_with_a_file(tmp_path: Path) -> None:
    config = tmp_path / "feeds.yaml"
    config.write_text(ADMIN_CONFIG)
    page = tmp_path / "export.opml"
    page.write_text("<!DOCTYPE html>\n<html><body>Log in</body></html>\n")
    result = run("--config", str(config), "import", str(page), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"{page}: line 2: not an OPML subscription list: its document element is <html>"
    )
