"""The admin pages in a real browser (Debian's Chromium driven by Playwright, set up as
in test_browser.py): adding a feed by its site's address, uploading an OPML file, an
edit that meets a conflict, the tables of the feeds and history pages at 1280 and
390 px, and the admin pages refused to a client that is not on this machine."""

# ruff: noqa: F811 -- the browser fixtures of test_browser.py are imported and used by name

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from aggregator.config import load_config
from aggregator.core import Aggregator
from aggregator.storage import open_storage
from aggregator.web import create_app
from tests.httpserver import FeedServer, Response
from tests.test_browser import (  # noqa: F401
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    Problems,
    assert_no_script_ran,
    browser,
    context,
    page,
    problems,
    sync_api,
    viewport,
    visit,
)

pytestmark = pytest.mark.slow
OPML = Path(__file__).resolve().parent / "data" / "opml"
LONG_TITLE = "Northern Provinces Regional Emergency Management Coordination Bulletin"


def rss(title: str, *guids: str) -> bytes:
    items = "".join(f"<item><title>Story {g}</title><guid>{g}</guid></item>" for g in guids)
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"{items}</channel></rss>"
    ).encode()


class AdminSite:
    """A newsroom with a feeds.yaml of its own: a wire, a feed that is a web page (a
    long error), a failing feed, a local file, and a site whose page links its feed."""

    def __init__(self, folder: Path, server: FeedServer) -> None:
        server.route("/wire.xml", FeedServer.feed(rss("Wire", "w1", "w2", "w3")))
        server.route("/down.xml", FeedServer.status(503))
        server.route("/page.xml", Response(200, b"<!DOCTYPE html><html><body>Hi</body></html>", {}))
        server.route("/harbor/feed.xml", FeedServer.feed(rss("Harbor Daily", "h1", "h2")))
        server.route(
            "/harbor/",
            Response(
                200,
                b'<!doctype html><html><head><title>Harbor</title><link rel="alternate" '
                b'type="application/rss+xml" title="Harbor Daily" href="/harbor/feed.xml">'
                b"</head><body><h1>Harbor</h1></body></html>",
                {"Content-Type": "text/html; charset=utf-8"},
            ),
        )
        (folder / "local.xml").write_bytes(rss("Local bulletin", "l1"))
        self.path = folder / "feeds.yaml"
        self.path.write_text(
            "# The newsroom's feeds: edited by hand and on the admin pages.\n"
            "polling:\n  allow_private_networks: true  # the feeds are on loopback\n"
            "  host_spacing: 0\n"
            "categories:\n  - name: World\n"
            "feeds:\n"
            f"  - url: {server.url('/wire.xml')}\n    category: World\n"
            f"  - url: {server.url('/page.xml')}\n    title: {LONG_TITLE}\n"
            f"  - url: {server.url('/down.xml')}\n"
            "  - url: local.xml\n",
            encoding="utf-8",
        )
        self.server = server
        storage = open_storage(f"sqlite:///{folder / 'news.db'}")
        self.aggregator = Aggregator(load_config(self.path), storage)
        self.aggregator.sync_feeds()
        self.aggregator.update_feeds(scheduled=False)

    def feed_id(self, suffix: str) -> int:
        return next(f.id for f in self.aggregator.get_feeds() if f.url.endswith(suffix))


def serve(aggregator: Aggregator, host: str) -> tuple[Any, str]:
    server = make_server(host, 0, create_app(aggregator), threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://{host}:{server.server_port}"


@pytest.fixture
def site(tmp_path: Path) -> Iterator[AdminSite]:
    with FeedServer() as feeds:
        admin_site = AdminSite(tmp_path, feeds)
        yield admin_site
        admin_site.aggregator.close()


@pytest.fixture
def base_url(site: AdminSite) -> Iterator[str]:
    server, url = serve(site.aggregator, "127.0.0.1")
    yield url
    server.shutdown()
    server.server_close()


# --- tables that fit ---------------------------------------------------------------------

# Words broken across lines inside a cell (URLs and other long tokens may wrap).
BROKEN_WORDS = """
(selector) => {
  const broken = [];
  for (const cell of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const match of node.textContent.matchAll(/\\S+/g)) {
        if (match[0].length > 24) continue;
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const tops = [...range.getClientRects()].filter((r) => r.width > 0).map((r) => r.top);
        if (tops.length && Math.max(...tops) - Math.min(...tops) > 2) broken.push(match[0]);
      }
    }
  }
  return broken;
}
"""


def cell_widths(page: Any, selector: str) -> list[float]:
    return page.evaluate(
        "(s) => [...document.querySelectorAll(s)].map((e) => e.getBoundingClientRect().width)",
        selector,
    )


def test_tables_fit_and_say_what_a_local_file_is(
    page: Any, problems: Problems, site: AdminSite, viewport: dict[str, int]
) -> None:
    visit(page, "/feeds")
    assert page.evaluate(BROKEN_WORDS, ".table th") == []
    assert page.evaluate(BROKEN_WORDS, ".table .error") == []
    # The error is readable: its column is wide enough for a phrase per line.
    assert min(cell_widths(page, ".table .error")) >= 180
    local = page.locator("tbody tr", has_text="local.xml")
    sync_api.expect(local.locator('td[data-label="HTTP"]')).to_have_text("local file")
    sync_api.expect(local.locator('td[data-label="Next check"]')).to_have_text("on change")
    not_a_feed = page.locator("tbody tr", has_text=LONG_TITLE)
    # The server answered 200 with a web page: its status is shown, and why it failed.
    sync_api.expect(not_a_feed.locator('td[data-label="HTTP"]')).to_have_text("200")
    sync_api.expect(not_a_feed.locator(".error")).to_contain_text("this address is a web page")
    assert page.locator("svg.strip.fetches").count() == 4
    if viewport == DESKTOP:
        sync_api.expect(page.locator("thead")).to_be_visible()
    else:
        sync_api.expect(page.locator("thead")).to_be_hidden()

    for suffix in ("/page.xml", "local.xml"):
        visit(page, f"/f/{site.feed_id(suffix)}/history")
        assert page.evaluate(BROKEN_WORDS, ".table th") == []
        assert page.evaluate(BROKEN_WORDS, ".table .error") == []
    sync_api.expect(page.locator('td[data-label="HTTP"]').first).to_have_text("local file")
    problems.assert_none()


# --- adding, importing, editing -------------------------------------------------------------


def test_add_a_feed_by_its_sites_address(page: Any, problems: Problems, site: AdminSite) -> None:
    visit(page, "/feeds")
    page.get_by_role("link", name="Add feed").click()
    page.get_by_label("Address of a feed or of its web site").fill(site.server.url("/harbor/"))
    page.get_by_role("button", name="Find feeds").click()
    candidate = page.locator(".candidates li")
    sync_api.expect(candidate).to_have_count(1)
    sync_api.expect(candidate).to_contain_text("Harbor Daily")
    sync_api.expect(candidate).to_contain_text("2 items")
    sync_api.expect(candidate.locator("input[type=radio]")).to_be_checked()
    page.get_by_label("Section").fill("Local")
    page.get_by_role("button", name="Review the change").click()
    diff = page.locator("pre.diff")
    sync_api.expect(diff).to_contain_text(f"+  - url: {site.server.url('/harbor/feed.xml')}")
    sync_api.expect(diff).to_contain_text("+  - name: Local")
    page.wait_for_load_state("load")  # its stylesheets too
    assert_no_script_ran(page)
    page.get_by_role("button", name="Save to feeds.yaml").click()
    page.wait_for_url("**/feeds")
    sync_api.expect(page.locator(".messages")).to_contain_text("Saved")
    sync_api.expect(page.locator("tbody tr", has_text="/harbor/feed.xml")).to_have_count(1)
    text = site.path.read_text(encoding="utf-8")
    assert text.startswith("# The newsroom's feeds: edited by hand and on the admin pages.\n")
    assert "  allow_private_networks: true  # the feeds are on loopback\n" in text
    assert load_config(site.path).feeds[-1].section == "Local"
    problems.assert_none()


def test_upload_an_opml_file(page: Any, problems: Problems, site: AdminSite) -> None:
    visit(page, "/feeds")
    page.get_by_role("link", name="Import OPML").click()
    page.locator("input[type=file]").set_input_files(str(OPML / "feedly.opml"))
    page.get_by_role("button", name="Review the import").click()
    report = page.locator(".report")
    sync_api.expect(report).to_contain_text("Adding 4 feeds")
    sync_api.expect(report).to_contain_text("line 13: https://news.usni.org/feed")
    sync_api.expect(page.locator("pre.diff")).to_contain_text("+  # Must read")
    page.wait_for_load_state("load")  # its stylesheets too
    assert_no_script_ran(page)
    page.get_by_role("button", name="Save to feeds.yaml").click()
    page.wait_for_url("**/feeds")
    sync_api.expect(page.locator("tbody tr")).to_have_count(8)
    assert len(load_config(site.path).feeds) == 8
    problems.assert_none()


def test_an_edit_meets_a_conflict(page: Any, problems: Problems, site: AdminSite) -> None:
    visit(page, f"/admin/feeds/{site.feed_id('/wire.xml')}/edit")
    page.get_by_label("Title").fill("The Wire")
    page.get_by_role("button", name="Review the change").click()
    sync_api.expect(page.locator("pre.diff")).to_contain_text("+    title: The Wire")
    # Meanwhile someone edits feeds.yaml by hand.
    edited = site.path.read_text(encoding="utf-8") + "  - https://meanwhile.example/feed\n"
    site.path.write_text(edited, encoding="utf-8")
    page.get_by_role("button", name="Save to feeds.yaml").click()
    sync_api.expect(page.locator("h1")).to_have_text("feeds.yaml changed meanwhile")
    sync_api.expect(page.locator(".problem-box")).to_contain_text(
        "changed on disk since this change was prepared"
    )
    assert site.path.read_text(encoding="utf-8") == edited  # nothing overwritten
    # The browser logs the 409 answer as a failed load: expected here, nothing else.
    assert [m for m in problems.console if "status of 409" not in m] == []
    problems.console.clear()
    page.get_by_role("button", name="Review the change on the current file").click()
    sync_api.expect(page.locator("pre.diff")).to_contain_text("+    title: The Wire")
    page.get_by_role("button", name="Save to feeds.yaml").click()
    page.wait_for_url("**/feeds")
    text = site.path.read_text(encoding="utf-8")
    assert "    title: The Wire\n" in text and "https://meanwhile.example/feed" in text
    problems.assert_none()


# --- only for this machine ----------------------------------------------------------------


def outward_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address


def test_admin_pages_are_refused_to_other_machines(browser: Any, site: AdminSite) -> None:
    """From another machine: with no account yet, every page says how to make the first
    admin; once accounts exist, a signed-in reader is refused the admin pages and sees
    no admin tools."""
    address = outward_address()
    if address is None:
        pytest.skip("this machine has no address besides loopback to come from")
    server, url = serve(site.aggregator, address)
    context = browser.new_context(base_url=url, viewport=DESKTOP)
    admin_paths = (
        "/admin/feeds/add",
        "/admin/import",
        f"/admin/feeds/{site.feed_id('/wire.xml')}/edit",
    )
    try:
        page = context.new_page()
        for path in (*admin_paths, "/feeds", "/"):
            response = page.goto(path)
            assert response.status == 403, path
            sync_api.expect(page.locator("main")).to_contain_text(
                "aggregator user add NAME --admin"
            )
        site.aggregator.add_user("admin", "admin-password-1", admin=True)
        site.aggregator.add_user("reader", "reader-password-1")
        page.goto("/login")
        page.fill("input[name=name]", "reader")
        page.fill("input[name=password]", "reader-password-1")
        page.click("form.stacked button[type=submit]")
        page.wait_for_url(f"{url}/")
        for path in admin_paths:
            response = page.goto(path)
            assert response.status == 403, path
            sync_api.expect(page.locator("main")).to_contain_text("Only an administrator")
        page.goto("/feeds")
        sync_api.expect(page.locator(".admin-tools")).to_have_count(0)
        sync_api.expect(page.locator(".feed-actions form")).to_have_count(0)
        page.goto("/")
        sync_api.expect(page.locator(".notice")).to_have_count(0)
        token = page.locator('meta[name="csrf-token"]').get_attribute("content")
        refused = page.request.post(
            f"{url}/admin/feeds/refresh", form={"csrf_token": token}, headers={"Referer": url}
        )
        assert refused.status == 403
    finally:
        context.close()
        server.shutdown()
        server.server_close()
