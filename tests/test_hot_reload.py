"""Editing feeds.yaml under a running `aggregator serve`: add, remove, break, fix and
re-categorize, each effect observed through HTTP."""

from __future__ import annotations

import html
import http.cookiejar
import json
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.httpserver import FeedServer
from tests.test_serve import ServeProcess


def rss(title: str, guid: str, item: str) -> bytes:
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"<item><title>{item}</title><guid>{guid}</guid>"
        f"<link>https://news.example/{guid}</link></item></channel></rss>"
    ).encode()


def get_json(base_url: str, path: str) -> dict[str, object]:
    with urllib.request.urlopen(base_url + path, timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def eventually(check: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError("not observed in time")


def titles(base_url: str, path: str) -> list[str]:
    return [str(item["title"]) for item in get_json(base_url, path)["items"]]  # type: ignore[union-attr]


def config_text(server: FeedServer, paths: list[str], categories: str = "") -> str:
    feeds = "".join(f"  - url: {server.url(path)}\n" for path in paths)
    return (
        "storage:\n  url: sqlite:///reload.db\n"
        "polling:\n  interval: 1h\n  allow_private_networks: true\n  host_spacing: 0\n"
        f"categories:\n  - name: World\n{categories}"
        f"feeds:\n{feeds}"
    )


def test_edits_under_a_running_serve(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.route("/a.xml", FeedServer.feed(rss("Feed A", "a1", "Harbor reopens")))
        server.route("/b.xml", FeedServer.feed(rss("Feed B", "b1", "Frigate commissioned")))
        config = tmp_path / "feeds.yaml"
        config.write_text(config_text(server, ["/a.xml"]))
        process = ServeProcess(config)
        base = process.base_url
        try:
            eventually(lambda: titles(base, "/feeds/all.json") == ["Harbor reopens"])

            # Add a feed: it is polled soon, without waiting for its interval.
            config.write_text(config_text(server, ["/a.xml", "/b.xml"]))
            eventually(lambda: get_json(base, "/healthz")["feeds"] == 2)
            eventually(lambda: "Frigate commissioned" in titles(base, "/feeds/all.json"))

            # Remove one: it stops being polled, its entries stay.
            config.write_text(config_text(server, ["/b.xml"]))
            eventually(lambda: get_json(base, "/healthz")["feeds"] == 1)
            assert "Harbor reopens" in titles(base, "/feeds/all.json")

            # Break the file: the service keeps running on its last good config and
            # says what is wrong, with the line.
            config.write_text(config_text(server, ["/b.xml"]) + "  - urll: x\n")
            eventually(lambda: get_json(base, "/healthz")["config_error"] is not None)
            error = str(get_json(base, "/healthz")["config_error"])
            assert f"{config}:11: unknown key 'urll'" in error
            assert get_json(base, "/healthz")["feeds"] == 1

            # Fix it, with a new category whose keywords file the stored story anew (it
            # names the story's words more than World's keyword does).
            keyword = (
                "    keywords: [Frigate]\n  - name: Navy\n    keywords: [frigate, commissioned]\n"
            )
            config.write_text(config_text(server, ["/b.xml"], categories=keyword))
            eventually(lambda: get_json(base, "/healthz")["config_error"] is None)
            eventually(lambda: titles(base, "/feeds/navy.json") == ["Frigate commissioned"])
            assert titles(base, "/feeds/world.json") == []
        finally:
            code, stderr = process.stop()
        assert code == 0, stderr
        assert len(server.requests_for("/a.xml")) == 1
        assert len(server.requests_for("/b.xml")) == 1


def test_an_edit_saved_on_the_admin_pages_is_polled_at_once(tmp_path: Path) -> None:
    with FeedServer() as server:
        server.route("/a.xml", FeedServer.feed(rss("Feed A", "a1", "Harbor reopens")))
        server.route("/b.xml", FeedServer.feed(rss("Feed B", "b1", "Frigate commissioned")))
        config = tmp_path / "feeds.yaml"
        config.write_text(config_text(server, ["/a.xml"]).replace("interval: 1h", "interval: 1d"))
        process = ServeProcess(config)
        base = process.base_url
        opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

        def post(path: str, fields: dict[str, str]) -> str:
            data = urllib.parse.urlencode(fields).encode()
            with opener.open(base + path, data=data, timeout=30) as response:
                return str(response.read().decode())

        try:
            eventually(lambda: titles(base, "/feeds/all.json") == ["Harbor reopens"])
            with opener.open(base + "/admin/feeds/add", timeout=30) as response:
                page = response.read().decode()
            token = re.search(r'name="csrf-token" content="([^"]+)"', page)
            assert token
            review = post(
                "/admin/review",
                {"csrf_token": token.group(1), "action": "add", "address": server.url("/b.xml")},
            )
            form = review.split('action="/admin/save"', 1)[1].split("</form>", 1)[0]
            fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', form))
            post("/admin/save", {name: html.unescape(value) for name, value in fields.items()})
            # In force and polled within seconds, not at the next tick or interval.
            eventually(lambda: "Frigate commissioned" in titles(base, "/feeds/all.json"))
            assert server.url("/b.xml") in config.read_text()
        finally:
            code, stderr = process.stop()
        assert code == 0, stderr
        assert "edited: add feed" in stderr
