# ruff: noqa: F811 - the fixtures of tests/test_browser.py are imported, then used by name
"""Accounts in a real browser (Debian's Chromium driven by Playwright, as
tests/test_browser.py): signing in and out, a reader who cannot reach the admin pages,
an admin adding a user, two users reading independently, and the public mode. Every
page is checked for console errors, uncaught exceptions and CSP violations."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from aggregator.config import PUBLIC
from aggregator.storage import open_storage
from aggregator.web import create_app
from tests.accounts import PASSWORDS, add_users
from tests.axe import SCREENSHOTS, axe_source, serious_violations
from tests.httpserver import FeedServer
from tests.reader_site import build_site
from tests.test_browser import (  # noqa: F401 - fixtures
    Problems,
    browser,
    context,
    page,
    problems,
    sync_api,
    viewport,
    visit,
)

pytestmark = pytest.mark.slow
LOGIN_NEXT = re.compile(r"/login\?next=")
RIVER = re.compile(r"^http://127\.0\.0\.1:\d+/$")


def serve_site(tmp_path: Path, *, public: bool = False) -> Iterator[str]:
    storage = open_storage(f"sqlite:///{tmp_path / 'reader.db'}")
    with FeedServer() as feed_server:
        site = build_site(feed_server, storage)
    if public:
        site.aggregator.apply_config(replace(site.config, access=PUBLIC))
    add_users(site.aggregator)
    server = make_server("127.0.0.1", 0, create_app(site.aggregator), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        site.close()


@pytest.fixture
def base_url(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh newsroom with an admin and two readers, private unless the test is marked
    ``public``."""
    yield from serve_site(tmp_path, public=request.node.get_closest_marker("public") is not None)


def sign_in(page: Any, name: str, password: str | None = None) -> None:
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password or PASSWORDS[name])
    page.click("form.stacked button[type=submit]")


def test_sign_in_and_out(page: Any, problems: Problems) -> None:
    page.goto("/c/us-news")
    page.wait_for_url(LOGIN_NEXT)
    sign_in(page, "alice", "wrong-password")
    sync_api.expect(page.locator(".form-error")).to_have_text("Wrong name or password.")
    sign_in(page, "alice")
    page.wait_for_url("**/c/us-news")
    sync_api.expect(page.locator(".account a").first).to_have_text("alice")
    assert page.locator("li.story").count() >= 1
    page.click(".account button")  # Sign out
    page.wait_for_url("**/login")
    page.goto("/")
    page.wait_for_url(LOGIN_NEXT)
    problems.assert_none()


def test_a_reader_cannot_reach_the_admin_pages(page: Any, problems: Problems) -> None:
    visit(page, "/login")
    sign_in(page, "bob")
    page.wait_for_url(RIVER)
    assert page.locator('a[href="/admin/users"], a[href="/feeds"]').count() == 0
    for path in ("/admin/users", "/feeds"):
        response = page.goto(path)
        assert response.status == 403
        sync_api.expect(page.locator("main")).to_contain_text("Only an administrator may do this.")
    problems.console.clear()  # the browser logs the 403s themselves
    problems.assert_none()


def test_an_admin_adds_a_user_who_then_signs_in(
    browser: Any, page: Any, base_url: str, problems: Problems
) -> None:
    visit(page, "/login")
    sign_in(page, "admin")
    page.wait_for_url(RIVER)
    page.click('.account a[href="/admin/users"]')
    page.wait_for_url("**/admin/users")
    form = page.locator("form.stacked")
    form.locator("input[name=name]").fill("carol")
    form.locator("input[name=password]").fill("carol-password-1")
    form.locator("input[name=confirm]").fill("carol-password-1")
    form.locator("button").click()
    sync_api.expect(page.locator(".form-notice")).to_have_text("User carol added (reader).")
    sync_api.expect(page.locator("#user-carol")).to_be_visible()
    other = browser.new_context(base_url=base_url)
    try:
        carol = other.new_page()
        carol.goto("/login")
        sign_in(carol, "carol", "carol-password-1")
        carol.wait_for_url(RIVER)
        sync_api.expect(carol.locator(".account a").first).to_have_text("carol")
    finally:
        other.close()
    problems.assert_none()


def test_two_users_read_independently(
    browser: Any, page: Any, base_url: str, problems: Problems
) -> None:
    visit(page, "/login")
    sign_in(page, "alice")
    page.wait_for_url(RIVER)
    first = page.locator("li.story").first
    story_id = first.get_attribute("data-id")
    unread_before = int(page.locator('.sidebar [data-count="all"]').first.text_content())
    page.keyboard.press("j")
    page.keyboard.press("o")  # opening a story marks it read, for alice
    page.wait_for_url(f"**/s/{story_id}?in=all")
    sync_api.expect(page.locator("article.item")).to_have_class("item")
    visit(page, "/")
    sync_api.expect(page.locator(f"#s{story_id}")).to_have_class("story")
    assert (
        int(page.locator('.sidebar [data-count="all"]').first.text_content()) == unread_before - 1
    )
    other = browser.new_context(base_url=base_url)
    try:
        bob = other.new_page()
        bob.goto("/login")
        sign_in(bob, "bob")
        bob.wait_for_url(RIVER)
        sync_api.expect(bob.locator(f"#s{story_id}")).to_have_class("story unread")
        assert int(bob.locator('.sidebar [data-count="all"]').first.text_content()) == unread_before
    finally:
        other.close()
    problems.assert_none()


@pytest.mark.public
def test_public_mode_reads_without_signing_in(page: Any, problems: Problems) -> None:
    visit(page, "/")
    stories = page.locator("li.story")
    assert stories.count() >= 3
    assert page.locator("form.actions, li.story.unread, .mark-all").count() == 0
    assert page.locator('a[href="/starred"]').count() == 0
    sync_api.expect(page.locator(".account a")).to_have_text("Sign in")
    page.keyboard.press("j")
    page.keyboard.press("m")  # nothing to mark: nothing is posted, nothing fails
    page.keyboard.press("o")
    page.wait_for_url("**/s/*")
    sync_api.expect(page.locator("article.item")).to_have_attribute("data-read-on-open", "no")
    sync_api.expect(page.locator(".content")).not_to_be_empty()
    story_url = page.url
    page.click(".account a")  # Sign in, and come back to the story
    page.wait_for_url(LOGIN_NEXT)
    sign_in(page, "alice")
    page.wait_for_url(story_url)
    sync_api.expect(page.locator("article.item")).to_have_class("item")  # now read: opened
    assert page.locator("form.actions").count() == 1
    problems.assert_none()


def test_no_serious_accessibility_violations_on_the_account_and_admin_pages(
    page: Any, context: Any, problems: Problems, base_url: str, viewport: dict[str, int]
) -> None:
    """axe-core (tests/axe.py) on the pages behind accounts, in both themes."""
    source = axe_source()
    found: dict[str, list[str]] = {}
    size = f"{viewport['width']}x{viewport['height']}"
    for theme in ("light", "dark"):
        context.add_cookies([{"name": "theme", "value": theme, "url": base_url}])
        visit(page, "/login")
        violations = serious_violations(page, source)
        if violations:
            found[f"login {theme}"] = violations
        sign_in(page, "admin")
        page.wait_for_url(RIVER)
        feed = page.locator("li.story a.source").first.get_attribute("href")
        feed_id = feed.rsplit("/", 1)[1]
        pages = {
            "settings": "/settings",
            "users": "/admin/users",
            "add-feed": "/admin/feeds/add",
            "edit-feed": f"/admin/feeds/{feed_id}/edit",
            "import": "/admin/import",
            "history": f"{feed}/history",
        }
        for name, path in pages.items():
            visit(page, path)
            violations = serious_violations(page, source)
            if violations:
                found[f"{name} {theme}"] = violations
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{theme}-{size}.png"))
        page.locator(".account button.link-button").click()  # sign out
        page.wait_for_load_state("load")
    assert found == {}
    problems.assert_none()
