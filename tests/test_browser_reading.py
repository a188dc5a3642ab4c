"""The reader's second edition in a real browser (Debian's Chromium, Playwright): the two
list densities, the reading pane with the keyboard and back/forward, sources at a
glance, the theme toggle, reading comforts, and axe-core's accessibility check of every
page type at a desktop size (1280x900) and a phone's (390x844), in both themes.

Screenshots of each view at both sizes are left in test-artifacts/screenshots/.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from aggregator.scopes import section_scope
from aggregator.storage import open_storage, schema
from aggregator.web import create_app
from tests.axe import SCREENSHOTS, axe_source, serious_violations
from tests.httpserver import FeedServer
from tests.reader_site import WIRE, Item, build_site, serve_items
from tests.test_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PIXEL_PNG,
    WATCH_CSP,
    Problems,
    assert_no_script_ran,
    sync_api,
)

pytestmark = pytest.mark.slow

WIDE = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
LONG_TITLE = ("An extremely long headline that goes on and on " * 17)[:807]
# The wire's usual stories and 30 more, one of them with an 807-character title.
MORE = [
    Item(f"more-{n}", f"Story number {n} of the busy day", age=timedelta(minutes=10 + n))
    for n in range(30)
]
LONG = Item("long", LONG_TITLE, age=timedelta(minutes=5), link="https://news.example/long")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def base_url(tmp_path: Path) -> Iterator[str]:
    """A busy newsroom (the test site and 31 more stories) on 127.0.0.1."""
    storage = open_storage(f"sqlite:///{tmp_path / 'reader.db'}")
    with FeedServer() as feed_server:
        site = build_site(feed_server, storage)
        serve_items(site, "/wire.xml", "Wire", [*WIRE, LONG, *MORE], etag='"busy"')
        site.poll(site.now + timedelta(hours=2))
    # The frigate and the budget stories: related, as a near miss of the stories work.
    titles = {
        item.story.lead.title: item.story.id
        for item in storage.list_reader_stories(section_scope("us-news")).stories
    }
    with storage.write() as conn:
        frigate = next(story for title, story in titles.items() if "rigate" in title)
        related = {"story_id": frigate, "similarity": 0.4}
        related["related_id"] = titles["Senate passes the budget"]
        conn.execute(schema.related_stories.insert().values(**related))
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


class Browsing:
    """A browser context at one size, its page, and what went wrong in it."""

    def __init__(self, browser: Any, base_url: str, viewport: dict[str, int]) -> None:
        self.problems = Problems()
        self.viewport = viewport
        self.context = browser.new_context(viewport=viewport, base_url=base_url)
        self.context.route("**/*", self._answer(base_url))
        self.context.expose_function(
            "reportViolation", lambda text: self.problems.violations.append(text)
        )
        self.context.add_init_script(WATCH_CSP)
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.page_errors.append(str(error)))

    @staticmethod
    def _answer(base_url: str) -> Any:
        def answer(route: Any) -> None:
            if route.request.url.startswith(base_url):
                route.continue_()
            else:
                route.fulfill(status=200, content_type="image/png", body=PIXEL_PNG)

        return answer

    def _console(self, message: Any) -> None:
        # A 404 page logs its own status as a failed load; that is what it is for.
        if message.type == "error" and "404" not in message.text:
            self.problems.console.append(f"{self.page.url}: {message.text}")

    def visit(self, path: str) -> Any:
        self.page.goto(path)
        self.page.wait_for_load_state("load")
        assert_no_script_ran(self.page)
        return self.page

    def shoot(self, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        size = f"{self.viewport['width']}x{self.viewport['height']}"
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}-{size}.png"))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def wide(browser: Any, base_url: str) -> Iterator[Browsing]:
    browsing = Browsing(browser, base_url, WIDE)
    yield browsing
    browsing.close()


@pytest.fixture
def phone(browser: Any, base_url: str) -> Iterator[Browsing]:
    browsing = Browsing(browser, base_url, PHONE)
    yield browsing
    browsing.close()


def current_id(page: Any) -> str | None:
    return page.locator("li.story.current").get_attribute("data-id")


def fully_visible_rows(page: Any) -> int:
    return int(
        page.evaluate(
            """() => Array.from(document.querySelectorAll('li.story')).filter((row) => {
                const box = row.getBoundingClientRect();
                return box.top >= 0 && box.bottom <= window.innerHeight;
            }).length"""
        )
    )


def test_two_densities_switch_and_are_remembered(wide: Browsing) -> None:
    page = wide.visit("/")
    cards = fully_visible_rows(page)
    long_row = page.locator("li.story", has_text=LONG_TITLE[:40])
    # An 807-character title is clamped to three lines in the cards.
    assert long_row.bounding_box()["height"] < 200
    wide.shoot("list-cards")
    page.locator("button.density-toggle").click()
    sync_api.expect(page.locator("html")).to_have_attribute("data-density", "compact")
    compact = fully_visible_rows(page)
    assert compact >= 20 > cards, (compact, cards)
    assert long_row.bounding_box()["height"] < 40  # one line
    # Each row: icon, title, section, age; the actions are not drawn until wanted.
    first = page.locator("li.story").first
    sync_api.expect(first.locator(".icon")).to_be_visible()
    sync_api.expect(first.locator("time")).to_be_visible()
    sync_api.expect(first.locator("form.actions")).to_be_hidden()
    page.keyboard.press("j")
    sync_api.expect(first.locator("form.actions")).to_be_visible()  # the selected story
    wide.shoot("list-compact")
    wide.visit("/c/us-news")  # remembered across pages and reloads
    sync_api.expect(page.locator("html")).to_have_attribute("data-density", "compact")
    page.locator("button.density-toggle").click()
    sync_api.expect(page.locator("html")).to_have_attribute("data-density", "cards")
    wide.visit("/")
    sync_api.expect(page.locator("html")).to_have_attribute("data-density", "cards")
    wide.problems.assert_none()


def test_actions_appear_on_hover_and_focus(wide: Browsing) -> None:
    page = wide.visit("/")
    row = page.locator("li.story").nth(3)
    actions = row.locator("form.actions")
    assert actions.evaluate("(e) => getComputedStyle(e).opacity") == "0"
    row.hover()
    sync_api.expect(actions).to_have_css("opacity", "1")
    page.mouse.move(0, 0)
    sync_api.expect(actions).to_have_css("opacity", "0")
    # By keyboard: Tab from the title reaches the row's buttons, drawn with a focus ring.
    row.locator(".title a").focus()
    for _ in range(10):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.classList.contains('toggle-read')"):
            break
    focused = page.locator(":focus")
    sync_api.expect(focused).to_have_class("toggle-read")
    sync_api.expect(actions).to_have_css("opacity", "1")
    assert focused.evaluate("(e) => getComputedStyle(e).outlineStyle") == "solid"
    wide.problems.assert_none()


def test_the_reading_pane_follows_the_keyboard_and_the_history(wide: Browsing) -> None:
    page = wide.visit("/")
    pane = page.locator("#pane")
    sync_api.expect(pane).to_be_visible()
    rows = page.locator("li.story")
    first, second = rows.nth(0).get_attribute("data-id"), rows.nth(1).get_attribute("data-id")
    unread_before = int(page.locator('.sidebar [data-count="all"]').text_content())
    page.evaluate("window.__stayed = 1")
    page.evaluate("window.location.hash = 'main'")  # a jump within the page (skip link)
    page.wait_for_timeout(300)
    assert page.evaluate("window.__stayed") == 1  # no story changed: no reload
    page.keyboard.press("j")
    sync_api.expect(pane.locator("article.item")).to_have_attribute("data-id", first)
    page.wait_for_url(f"**/?s={first}")
    page.keyboard.press("j")
    sync_api.expect(pane.locator("article.item")).to_have_attribute("data-id", second)
    page.wait_for_url(f"**/?s={second}")
    # Opened in the pane, both are read: the rows, the count and the page title say so.
    sync_api.expect(rows.nth(1)).not_to_have_class("story current unread")
    sync_api.expect(page.locator('.sidebar [data-count="all"]')).to_have_text(
        str(unread_before - 2)
    )
    assert page.title().startswith(f"({unread_before - 2}) ")
    wide.shoot("pane")
    page.go_back()  # no page load: the pane and the selection follow the URL
    page.wait_for_url(f"**/?s={first}")
    sync_api.expect(pane.locator("article.item")).to_have_attribute("data-id", first)
    assert current_id(page) == first
    page.go_forward()
    sync_api.expect(pane.locator("article.item")).to_have_attribute("data-id", second)
    page.reload()  # a reload lands on the same story, in the pane
    sync_api.expect(pane.locator("article.item")).to_have_attribute("data-id", second)
    assert current_id(page) == second
    page.keyboard.press("s")  # keys act on the selected story: row and pane together
    sync_api.expect(pane.locator("article.item")).to_have_class("item starred")
    sync_api.expect(rows.nth(1)).to_have_class("story current starred")
    # A click on a title opens it in the pane too.
    rows.nth(4).locator(".title a").click()
    fourth = rows.nth(4).get_attribute("data-id")
    sync_api.expect(pane.locator("article.item")).to_have_attribute("data-id", fourth)
    wide.problems.assert_none()


def test_a_phone_keeps_list_then_story_pages(phone: Browsing) -> None:
    page = phone.visit("/")
    sync_api.expect(page.locator("#pane")).to_be_hidden()
    page.keyboard.press("j")
    assert "?s=" not in page.url
    first = current_id(page)
    page.locator("li.story.current .title a").click()
    page.wait_for_url(f"**/s/{first}?in=all")
    # The phone header shows the site title, whole, and no "/" key hint.
    brand = page.locator(".topbar .brand")
    sync_api.expect(brand).to_be_visible()
    assert brand.evaluate("(e) => e.scrollWidth <= e.clientWidth")
    sync_api.expect(page.locator(".key-hint")).to_be_hidden()
    phone.problems.assert_none()


def test_sources_at_a_glance_expand(wide: Browsing) -> None:
    page = wide.visit("/c/us-news")
    frigate = page.locator("li.story", has_text="Navy commissions a new frigate")
    summary = frigate.locator("details.sources summary")
    sync_api.expect(summary).to_contain_text("2 sources")
    sync_api.expect(summary.locator(".icon")).to_have_count(2)
    reports = frigate.locator(".reports li")
    sync_api.expect(reports.first).to_be_hidden()
    summary.focus()
    page.keyboard.press("Enter")  # by keyboard, as by a click
    sync_api.expect(reports).to_have_count(2)
    other = reports.filter(has_text="Other Outlet")
    sync_api.expect(other).to_be_visible()
    sync_api.expect(other).to_contain_text("Frigate joins the fleet")
    sync_api.expect(other.locator("a[target=_blank]")).to_have_attribute(
        "href", "https://news.example/frigate?utm_source=other"
    )
    # Opened, it fetches the story's related stories once.
    related = frigate.locator(".sources section.related li a")
    sync_api.expect(related).to_have_text("Senate passes the budget")
    summary.click()
    summary.click()
    sync_api.expect(frigate.locator(".sources section.related")).to_have_count(1)
    wide.shoot("sources")
    wide.problems.assert_none()


def test_the_theme_toggle_is_remembered(wide: Browsing) -> None:
    page = wide.visit("/")
    html = page.locator("html")
    background = "() => getComputedStyle(document.body).backgroundColor"
    toggle = page.locator("button.theme-toggle")
    sync_api.expect(toggle).to_contain_text("System")
    toggle.click()
    sync_api.expect(html).to_have_attribute("data-theme", "light")
    assert page.evaluate(background) == "rgb(251, 250, 248)"
    toggle.click()
    sync_api.expect(html).to_have_attribute("data-theme", "dark")
    assert page.evaluate(background) == "rgb(18, 19, 20)"
    wide.shoot("dark")
    wide.visit("/c/us-news")
    sync_api.expect(html).to_have_attribute("data-theme", "dark")
    assert page.evaluate(background) == "rgb(18, 19, 20)"
    sync_api.expect(toggle).to_contain_text("Dark")
    toggle.click()
    sync_api.expect(html).to_have_attribute("data-theme", "system")
    wide.problems.assert_none()


def test_mark_read_on_scroll_is_an_option(wide: Browsing) -> None:
    page = wide.visit("/")
    first = page.locator("li.story").first
    page.mouse.wheel(0, 2000)
    page.wait_for_timeout(300)
    sync_api.expect(first).to_have_class("story unread")  # off by default
    page.mouse.wheel(0, -4000)
    page.locator(".scroll-read input").check()
    page.mouse.wheel(0, 2000)
    sync_api.expect(first).to_have_class("story")
    wide.visit("/")  # remembered in this browser
    sync_api.expect(page.locator(".scroll-read input")).to_be_checked()
    wide.problems.assert_none()


@pytest.mark.parametrize("size", ["wide", "phone"])
def test_no_serious_accessibility_violations_on_any_page(
    browser: Any, base_url: str, size: str
) -> None:
    source = axe_source()
    browsing = Browsing(browser, base_url, WIDE if size == "wide" else PHONE)
    page = browsing.visit("/c/us-news")
    story = page.locator("li.story", has_text="Navy commissions").get_attribute("data-id")
    feed = page.locator("li.story a.source").first.get_attribute("href")
    pages = {
        "river": "/",
        "section": "/c/us-news",
        "feed": feed,
        "story": f"/s/{story}",
        "pane": f"/?s={story}",
        "search": "/search?q=frigate",
        "starred": "/starred",
        "feeds-health": "/feeds",
        "not-found": "/no-such-page",
    }
    found: dict[str, list[str]] = {}
    try:
        for theme in ("light", "dark"):
            for density in ("cards", "compact"):
                browsing.context.add_cookies(
                    [
                        {"name": "theme", "value": theme, "url": base_url},
                        {"name": "density", "value": density, "url": base_url},
                    ]
                )
                for name, path in pages.items():
                    if density == "compact" and name not in ("river", "search", "pane"):
                        continue
                    browsing.visit(path)
                    if name == "river":
                        page.keyboard.press("j")  # a selected story, its actions shown
                    violations = serious_violations(page, source)
                    if violations:
                        found[f"{name} {theme} {density}"] = violations
                    browsing.shoot(f"{name}-{theme}-{density}")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        report = SCREENSHOTS.parent / f"axe-{size}.json"
        report.write_text(json.dumps(found, indent=2), encoding="utf-8")
        assert found == {}, f"see {report}"
        browsing.problems.assert_none()
    finally:
        browsing.close()


def test_preferences_and_the_pane_work_without_the_script(browser: Any, base_url: str) -> None:
    context = browser.new_context(viewport=WIDE, base_url=base_url, java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto("/")
        sync_api.expect(page.locator("#pane")).to_be_hidden()  # nothing to show in it
        page.locator("button.density-toggle").click()  # a plain form post
        page.wait_for_load_state("load")
        sync_api.expect(page.locator("html")).to_have_attribute("data-density", "compact")
        page.locator("button.theme-toggle").click()
        page.wait_for_load_state("load")
        sync_api.expect(page.locator("html")).to_have_attribute("data-theme", "light")
        first = page.locator("li.story").first.get_attribute("data-id")
        page.goto(f"/?s={first}")  # a link naming a story: the pane, rendered
        sync_api.expect(page.locator("#pane article.item")).to_have_attribute("data-id", first)
        sync_api.expect(page.locator("#pane")).to_be_visible()
        page.locator("#pane button.toggle-star").click()
        page.wait_for_url(f"**/?s={first}#s{first}")
        sync_api.expect(page.locator("#pane article.item")).to_have_class("item unread starred")
    finally:
        context.close()


def test_the_system_theme_follows_the_system(browser: Any, base_url: str) -> None:
    background = "() => getComputedStyle(document.body).backgroundColor"
    context = browser.new_context(viewport=WIDE, base_url=base_url, color_scheme="dark")
    page = context.new_page()
    try:
        page.goto("/")
        assert page.evaluate(background) == "rgb(18, 19, 20)"  # system: the system's dark
        context.add_cookies([{"name": "theme", "value": "light", "url": base_url}])
        page.goto("/")
        assert page.evaluate(background) == "rgb(251, 250, 248)"  # chosen: light anyway
    finally:
        context.close()
