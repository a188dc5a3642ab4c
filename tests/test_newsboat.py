"""A real client: Debian's newsboat, through its Google Reader backend (``urls-source
"feedhq"``), against a live ``aggregator serve`` with two users.

newsboat signs in with ClientLogin, lists ``subscription/list?output=json`` and reads
each subscription's ``reader/atom/feed%2F<id>?n=…`` stream, taking an item's read
state from its ``<category scheme="http://www.google.com/reader/" label="read">``; it
marks through ``token`` and ``edit-tag``/``mark-all-as-read`` and wants ``OK`` back.
Each run gets a temporary HOME; each user keeps one cache, as an installed client does.
The test checks that newsboat lists our feeds and items with the web reader's unread
count, that marking read on the web is seen by newsboat and marking read in newsboat
(its interface, driven on a pseudo-terminal) by the web, user by user.
"""

from __future__ import annotations

import fcntl
import http.cookiejar
import os
import pty
import re
import select
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import termios
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from aggregator.core import Aggregator
from tests.clock import subprocess_env
from tests.httpserver import FeedServer
from tests.reader_site import Item, rss

NEWSBOAT = shutil.which("newsboat")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        NEWSBOAT is None,
        reason="newsboat is not installed (apt-get install newsboat; scripts/test installs "
        "it as root on Debian)",
    ),
]
PASSWORDS = {"alice": "alice-password-1", "bob": "bob-password-1"}
ANSI = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\x1b[=>]")


def newsroom(server: FeedServer, now: datetime) -> list[str]:
    """Three outlets; the second tells one of the wire's stories again."""
    feeds = {
        "/wire.xml": (
            "Wire",
            [
                Item(
                    "w1",
                    "Navy commissions a new frigate",
                    timedelta(hours=1),
                    "https://news.example/frigate",
                    "<p>The frigate.</p>",
                    categories=("US News",),
                ),
                Item(
                    "w2",
                    "Senate passes the budget",
                    timedelta(hours=2),
                    "https://news.example/budget",
                    "<p>Close vote.</p>",
                ),
                Item(
                    "w3",
                    "Calm weather ahead",
                    timedelta(hours=3),
                    "https://news.example/weather",
                    "Sun.",
                ),
            ],
        ),
        "/other.xml": (
            "Other Outlet",
            [
                Item(
                    "o1",
                    "Frigate joins the fleet",
                    timedelta(minutes=50),
                    "https://news.example/frigate?utm_source=x",
                    "<p>Also the frigate.</p>",
                ),
                Item(
                    "o2",
                    "Harbor reopens",
                    timedelta(hours=4),
                    "https://other.example/harbor",
                    "Boats.",
                ),
            ],
        ),
        "/third.xml": (
            "Third Paper",
            [
                Item(
                    f"t{n}",
                    f"Local story {n}",
                    timedelta(hours=5 + n),
                    f"https://third.example/{n}",
                    "Text.",
                )
                for n in range(4)
            ],
        ),
    }
    for path, (title, items) in feeds.items():
        server.route(path, FeedServer.feed(rss(title, items, now)))
    return [server.url(path) for path in feeds]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A polled newsroom with users alice and bob, served by ``aggregator serve``."""
    now = datetime.now(UTC).replace(microsecond=0)
    with FeedServer() as server:
        urls = newsroom(server, now)
        config = tmp_path / "feeds.yaml"
        feeds = "".join(f"  - url: {url}\n    category: US News\n" for url in urls[:1])
        feeds += "".join(f"  - url: {url}\n" for url in urls[1:])
        config.write_text(
            "storage:\n  url: sqlite:///news.db\npolling:\n  allow_private_networks: true\n"
            "categories:\n  - name: US News\n    aliases: [U.S. News]\n"
            f"feeds:\n{feeds}",
            encoding="utf-8",
        )
        with Aggregator.open(config) as aggregator:
            aggregator.update_feeds(scheduled=False)
            for name, password in PASSWORDS.items():
                user = aggregator.add_user(name, password)
                secret = aggregator.create_app_password(user.id, "newsboat").secret
                (tmp_path / f"{name}.pw").write_text(secret + "\n", encoding="utf-8")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "aggregator",
                "--config",
                str(config),
                "serve",
                "--port",
                "0",
                "--no-poll",
            ],
            cwd=tmp_path,
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
            assert match, line
            yield f"http://127.0.0.1:{match.group(1)}", tmp_path
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)


class Web:
    """A browser-like session of the web reader (cookies, CSRF tokens)."""

    def __init__(self, base: str, name: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )
        token = self.token("/login")
        self.post("/login", name=name, password=PASSWORDS[name], csrf_token=token)

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=30) as response:
            return str(response.read().decode("utf-8"))

    def post(self, path: str, **form: str) -> str:
        data = urllib.parse.urlencode(form).encode()
        with self.opener.open(self.base + path, data=data, timeout=30) as response:
            return str(response.read().decode("utf-8"))

    def token(self, path: str = "/") -> str:
        found = re.search(r'name="csrf_token" value="([^"]+)"', self.get(path))
        assert found
        return found.group(1)

    def unread(self) -> int:
        found = re.search(r'data-count="all">(\d+)<', self.get("/"))
        assert found
        return int(found.group(1))

    def mark(self, story_id: int, read: bool) -> None:
        self.post(f"/s/{story_id}/{'read' if read else 'unread'}", csrf_token=self.token())


class Newsboat:
    """One user's newsboat: its config and cache, a fresh HOME for every run."""

    def __init__(self, base: str, folder: Path, name: str) -> None:
        self.folder = folder / f"newsboat-{name}"
        self.folder.mkdir()
        (self.folder / "urls").write_text("", encoding="utf-8")
        (self.folder / "config").write_text(
            'urls-source "feedhq"\n'
            f'feedhq-url "{base}/api/greader"\n'
            f'feedhq-login "{name}"\n'
            f'feedhq-passwordfile "{folder / f"{name}.pw"}"\n'
            "feedhq-show-special-feeds no\n"
            "feedhq-min-items 100\n",
            encoding="utf-8",
        )

    def command(self, *extra: str) -> list[str]:
        assert NEWSBOAT is not None
        return [NEWSBOAT, "-u", "urls", "-C", "config", "-c", "cache.db", *extra]

    def env(self, home: str) -> dict[str, str]:
        return {**os.environ, "HOME": home, "TERM": "xterm", "LANG": "C.UTF-8"}

    def print_unread(self) -> int:
        with tempfile.TemporaryDirectory() as home:
            result = subprocess.run(
                self.command("-x", "reload", "print-unread"),
                cwd=self.folder,
                env=self.env(home),
                capture_output=True,
                text=True,
                timeout=120,
            )
        assert result.returncode == 0, result.stderr
        found = re.search(r"(\d+) unread articles", result.stdout)
        assert found, result.stdout
        return int(found.group(1))

    def cached(self) -> tuple[list[str], int]:
        """The feed titles newsboat keeps, and its number of items."""
        with sqlite3.connect(self.folder / "cache.db") as cache:
            titles = [row[0] for row in cache.execute("SELECT title FROM rss_feed ORDER BY title")]
            items = cache.execute("SELECT COUNT(*) FROM rss_item").fetchone()[0]
        return titles, int(items)

    def mark_first_feed_read(self) -> tuple[str, int]:
        """Press A (mark the feed read) on the first feed of newsboat's list, then q;
        return the feed's title and how many unread items it had."""
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        with tempfile.TemporaryDirectory() as home:
            process = subprocess.Popen(
                self.command(),
                cwd=self.folder,
                env=self.env(home),
                stdin=slave,
                stdout=slave,
                stderr=slave,
                start_new_session=True,
            )
            os.close(slave)
            try:
                screen = self._read_until(master, rb"Your feeds")
                first = re.search(r"\s1 N\s+\((\d+)/\d+\) (.+?)\r", screen)
                assert first, screen
                os.write(master, b"A")
                self._read_until(master, rb"\(0/\d+\)")  # the feed shows no unread item
                os.write(master, b"q")
                assert process.wait(timeout=60) == 0
            finally:
                if process.poll() is None:
                    process.kill()
                    process.wait()
                os.close(master)
        return first.group(2).strip(), int(first.group(1))

    def _read_until(self, master: int, pattern: bytes, timeout: float = 60) -> str:
        seen = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    seen += os.read(master, 65536)
                except OSError:
                    break
                if re.search(pattern, ANSI.sub(b"", seen)):
                    return ANSI.sub(b"", seen).decode("utf-8", "replace")
        raise AssertionError(f"newsboat never showed {pattern!r}: {ANSI.sub(b'', seen)[-2000:]!r}")


def test_two_users_read_independently_in_newsboat_and_the_web(
    served: tuple[str, Path],
) -> None:
    base, folder = served
    web = {name: Web(base, name) for name in PASSWORDS}
    apps = {name: Newsboat(base, folder, name) for name in PASSWORDS}
    stories = 8  # 9 items, the frigate told twice
    for name in PASSWORDS:
        assert web[name].unread() == stories
        assert apps[name].print_unread() == stories
    titles, items = apps["alice"].cached()
    assert titles == ["Other Outlet", "Third Paper", "Wire"] and items == stories

    # Read on the web: newsboat sees it on its next reload; the other user does not.
    with Aggregator.open(folder / "feeds.yaml", sync=False) as aggregator:
        alice = aggregator.user_named("alice")
        frigate = next(
            item.story.id
            for item in aggregator.get_stories("all", user=alice.id).stories
            if item.story.others
        )
    web["alice"].mark(frigate, read=True)
    assert web["alice"].unread() == stories - 1
    assert apps["alice"].print_unread() == stories - 1
    assert apps["bob"].print_unread() == stories
    web["alice"].mark(frigate, read=False)  # and unread again
    assert apps["alice"].print_unread() == stories

    # Read in newsboat (its interface): the web sees it, for that user only.
    title, unread = apps["bob"].mark_first_feed_read()
    assert title == "Other Outlet" and unread >= 1  # the stories it leads
    assert web["bob"].unread() == stories - unread
    assert apps["bob"].print_unread() == stories - unread
    assert web["alice"].unread() == stories
    assert apps["alice"].print_unread() == stories
