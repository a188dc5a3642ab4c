"""The reader in a real browser: Debian's Chromium driven by Playwright.

The app runs on a real WSGI server on 127.0.0.1 over a database filled through the
real pipeline, including a feed of hostile items (tests/reader_site.py). Every page a
test visits is checked for console errors, uncaught exceptions, Content-Security-Policy
violations and ``window.__xss``. Requests to any other host (pictures in articles, a
popup opened with ``v``) are answered by the test with a tiny image, so nothing leaves
the machine.
"""

from __future__ import annotations

import base64
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from aggregator.storage import open_storage
from aggregator.web import create_app
from tests.httpserver import FeedServer
from tests.reader_site import build_site

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
)
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip(
        "no chromium binary (apt-get install chromium); Playwright cannot download its own here",
        allow_module_level=True,
    )

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
PIXEL_PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
WATCH_CSP = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportViolation(event.violatedDirective + " blocked " + event.blockedURI);
});
"""


@dataclass
class Problems:
    """What went wrong in the browser, across every page and navigation."""

    console: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def assert_none(self) -> None:
        assert self.console == [], self.console
        assert self.page_errors == [], self.page_errors
        assert self.violations == [], self.violations


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    """A fresh newsroom served on 127.0.0.1 for each test (tests change read state)."""
    database = tmp_path / "reader.db"
    storage = open_storage(f"sqlite:///{database}")
    with FeedServer() as feed_server:
        site = build_site(feed_server, storage)
    app = create_app(site.aggregator)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        site.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(params=[DESKTOP, PHONE], ids=["desktop", "phone"])
def viewport(request: pytest.FixtureRequest) -> dict[str, int]:
    return dict(request.param)


@pytest.fixture
def context(browser: Any, base_url: str, viewport: dict[str, int]) -> Iterator[Any]:
    context = browser.new_context(viewport=viewport, base_url=base_url)

    def answer(route: Any) -> None:
        if route.request.url.startswith(base_url):
            route.continue_()
        else:
            route.fulfill(status=200, content_type="image/png", body=PIXEL_PNG)

    context.route("**/*", answer)
    yield context
    context.close()


@pytest.fixture
def problems(context: Any) -> Problems:
    found = Problems()
    context.expose_function("reportViolation", lambda text: found.violations.append(text))
    context.add_init_script(WATCH_CSP)
    return found


@pytest.fixture
def page(context: Any, problems: Problems) -> Any:
    page = context.new_page()
    page.on(
        "console",
        lambda message: (
            problems.console.append(f"{page.url}: {message.text}")
            if message.type == "error"
            else None
        ),
    )
    page.on("pageerror", lambda error: problems.page_errors.append(f"{page.url}: {error}"))
    return page


def visit(page: Any, path: str) -> None:
    page.goto(path)
    page.wait_for_load_state("load")
    assert_no_script_ran(page)


def assert_no_script_ran(page: Any) -> None:
    assert page.evaluate("typeof window.__xss") == "undefined", page.url
    # The layout fits the viewport: nothing scrolls sideways.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], (page.url, width)


def current_story(page: Any) -> Any:
    return page.locator("li.story.current")


def count(page: Any, scope: str) -> int:
    return int(page.locator(f'.sidebar [data-count="{scope}"]').first.text_content())


def test_reading_with_the_keyboard(page: Any, problems: Problems, viewport: dict[str, int]) -> None:
    visit(page, "/")
    stories = page.locator("li.story")
    assert stories.count() >= 5
    page.keyboard.press("j")
    first_id = current_story(page).get_attribute("data-id")
    assert first_id == stories.nth(0).get_attribute("data-id")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("k")
    assert current_story(page).get_attribute("data-id") == stories.nth(1).get_attribute("data-id")

    if viewport == DESKTOP:
        # Wide enough for the reading pane: j/k opened each story there, read.
        selected = current_story(page).get_attribute("data-id")
        pane_story = page.locator("#pane article.item")
        sync_api.expect(pane_story).to_have_attribute("data-id", selected)
        sync_api.expect(current_story(page)).to_have_class("story current")
        unread_before = count(page, "all")
        page.keyboard.press("m")  # mark unread
        sync_api.expect(current_story(page)).to_have_class("story current unread")
        sync_api.expect(pane_story).to_have_class("item unread")
        assert count(page, "all") == unread_before + 1
        page.keyboard.press("m")  # and read again
        sync_api.expect(current_story(page)).to_have_class("story current")
        assert count(page, "all") == unread_before
        page.keyboard.press("s")  # star
        sync_api.expect(current_story(page)).to_have_class("story current starred")
    else:
        unread_before = count(page, "all")
        page.keyboard.press("m")  # mark read
        sync_api.expect(current_story(page)).not_to_have_class("story unread current")
        sync_api.expect(current_story(page)).to_have_class("story current")
        assert count(page, "all") == unread_before - 1
        page.keyboard.press("m")  # and unread again
        sync_api.expect(current_story(page)).to_have_class("story current unread")
        assert count(page, "all") == unread_before

        page.keyboard.press("s")  # star
        sync_api.expect(current_story(page)).to_have_class("story current unread starred")
    starred_id = current_story(page).get_attribute("data-id")
    visit(page, "/starred")
    assert page.locator("li.story").first.get_attribute("data-id") == starred_id

    visit(page, "/")
    page.keyboard.press("j")
    opened_id = current_story(page).get_attribute("data-id")
    page.keyboard.press("o")  # open the story: its page marks it read
    page.wait_for_url(f"**/s/{opened_id}?in=all")
    sync_api.expect(page.locator("article.item")).to_have_class("item")
    assert_no_script_ran(page)
    older = page.locator('.item-nav a[rel="next"]').get_attribute("href")
    page.keyboard.press("j")  # the next (older) story
    page.wait_for_url(f"**{older}")
    assert f"/s/{opened_id}?" not in page.url
    page.keyboard.press("g")
    page.keyboard.press("a")
    page.wait_for_url("**/")
    read_story = page.locator(f"#s{opened_id}")
    sync_api.expect(read_story).to_have_class("story")  # read since it was opened

    page.keyboard.press("?")
    sync_api.expect(page.locator("#help")).to_be_visible()
    page.keyboard.press("Escape")
    sync_api.expect(page.locator("#help")).to_be_hidden()

    if viewport == PHONE:
        sync_api.expect(page.locator("#sidebar")).to_be_hidden()
        page.locator(".menu-toggle").click()
        sync_api.expect(page.locator("#sidebar")).to_be_visible()
    page.keyboard.press("/")
    sync_api.expect(page.locator(".topbar input[name=q]")).to_be_focused()
    page.keyboard.type("frigate")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search?q=frigate")
    sync_api.expect(page.locator("li.story mark").first).to_have_text("frigate")
    assert_no_script_ran(page)
    problems.assert_none()


def test_open_the_original_without_an_opener(page: Any, context: Any, problems: Problems) -> None:
    visit(page, "/")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("j")  # the frigate story: it has a link
    link = current_story(page).get_attribute("data-link")
    assert link and link.startswith("https://")
    with context.expect_page() as popup_info:
        page.keyboard.press("v")
    popup = popup_info.value
    popup.wait_for_load_state()
    assert popup.url == link
    assert popup.evaluate("window.opener") is None
    popup.close()
    sync_api.expect(current_story(page)).to_have_class("story current")  # marked read
    problems.assert_none()


def test_hostile_items_never_run_script(page: Any, problems: Problems) -> None:
    visit(page, "/")
    story_paths = [f"/s/{item.get_attribute('data-id')}" for item in page.locator("li.story").all()]
    pages = ["/search?q=hostile", "/search?q=script", "/feeds", "/c/us-news", "/starred"]
    for path in [*story_paths, *pages]:
        visit(page, path)
        for link in page.locator("a[href]").all():
            assert not link.get_attribute("href").lower().startswith("javascript")
    problems.assert_none()


def test_forms_work_without_the_script(browser: Any, base_url: str) -> None:
    context = browser.new_context(base_url=base_url, java_script_enabled=False)
    page = context.new_page()
    page.goto("/")
    item = page.locator("li.story").nth(2)
    story = item.get_attribute("data-id")
    item.locator("button.toggle-star").click()
    page.wait_for_url(f"**/#s{story}")
    assert "starred" in page.locator(f"#s{story}").get_attribute("class")
    page.locator(f"#s{story} button.toggle-star").click()
    page.wait_for_url(f"**/#s{story}")
    assert "starred" not in page.locator(f"#s{story}").get_attribute("class")
    context.close()
