"""The web reader through Flask's test client, on a database filled by the real pipeline
from feeds served on 127.0.0.1 (tests/reader_site.py)."""

from __future__ import annotations

import html as html_module
import os
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient

from aggregator.core import Aggregator
from aggregator.errors import StorageError
from aggregator.storage import Storage, schema
from aggregator.update import feed_status
from aggregator.web import create_app
from aggregator.web.reader import PAGE_SIZE
from aggregator.web.security import SECURITY_HEADERS
from tests.conftest import REPO_ROOT
from tests.css import css
from tests.httpserver import FeedServer
from tests.reader_site import WIRE, XSS_MARKER, Item, Site, build_site, serve_items
from tests.safety import assert_safe_html


@pytest.fixture
def site(storage: Storage) -> Iterator[Site]:
    with FeedServer() as server:
        built = build_site(server, storage)
        yield built
        built.close()


@pytest.fixture
def app(site: Site) -> Flask:
    return create_app(site.aggregator, test_config={"TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def page(client: FlaskClient, url: str, status: int = 200) -> lxml.html.HtmlElement:
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code)
    return lxml.html.fromstring(response.get_data(as_text=True))


def csrf_token(client: FlaskClient) -> str:
    html = client.get("/").get_data(as_text=True)
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert found
    return found.group(1)


def story_titles(document: lxml.html.HtmlElement) -> list[str]:
    return [link.text_content() for link in css(document, "li.story .title a")]


def story_id(document: lxml.html.HtmlElement, title: str) -> int:
    for item in css(document, "li.story"):
        if css(item, ".title a")[0].text_content() == title:
            return int(item.get("data-id"))
    raise AssertionError(f"no story titled {title!r}")


def test_river_shows_every_story_once_newest_first(client: FlaskClient) -> None:
    river = page(client, "/")
    titles = story_titles(river)
    # Markup in titles is shown as text (escaped), never interpreted.
    assert titles[:2] == [
        f"<script>{XSS_MARKER}</script>Hostile title",
        '"><img src=x onerror=window.__xss=1>',
    ]
    assert titles.index("Navy commissions a new frigate") < titles.index("Harbor reopens")
    assert "Frigate joins the fleet" not in titles  # folded into the wire's story
    frigate = css(river, f"#s{story_id(river, 'Navy commissions a new frigate')}")[0]
    # Its own tag ("U.S. News") outranks the keyword "Navy": one section.
    assert [a.text_content() for a in css(frigate, ".badge")] == ["US News"]
    # "2 sources" with their icons; opened, each report: outlet, own title, link.
    sources = css(frigate, "details.sources")[0]
    assert css(sources, "summary")[0].text_content().strip().endswith("2 sources")
    assert len(css(sources, "summary .icon")) == 2
    reports = css(sources, ".reports li")
    assert [css(li, "a.source")[0].text_content() for li in reports] == ["Wire", "Other Outlet"]
    assert "Frigate joins the fleet" in reports[1].text_content()
    other_link = css(reports[1], "a[target=_blank]")[0]
    assert other_link.get("href") == "https://news.example/frigate?utm_source=other"
    assert css(frigate, ".source")[0].text_content() == "Wire"
    time = css(frigate, "time")[0]
    assert time.get("datetime").endswith("Z") and time.get("title").endswith("UTC")
    counts = {c.get("data-count"): c.text_content() for c in css(river, "[data-count]")}
    assert counts["all"] == str(len(titles)) and counts["section:us-news"] == "2"


def test_section_feed_and_story_pages(client: FlaskClient, site: Site) -> None:
    section = page(client, "/c/us-news")
    assert story_titles(section) == ["Navy commissions a new frigate", "Senate passes the budget"]
    page(client, "/c/no-such-section", status=404)
    wire_id = site.storage.get_feed_by_url(site.feeds["/wire.xml"]).id  # type: ignore[union-attr]
    feed_page = page(client, f"/f/{wire_id}")
    assert story_titles(feed_page)[0] == "Navy commissions a new frigate"
    page(client, "/f/999999", status=404)

    frigate_id = story_id(section, "Navy commissions a new frigate")
    story = page(client, f"/s/{frigate_id}?in=section:us-news")
    assert css(story, "h1")[0].text_content() == "Navy commissions a new frigate"
    assert "joins the Atlantic fleet" in css(story, ".content")[0].text_content()
    assert "Pat Writer" in css(story, ".meta")[0].text_content()
    also = css(story, ".also .reports li a[target=_blank]")
    assert [a.text_content() for a in also][1] == "Frigate joins the fleet"
    assert css(story, ".also h2")[0].text_content() == "2 sources"
    assert css(story, 'a[rel="next"]')[0].get("href").startswith("/s/")
    assert css(story, "a.back")[0].get("href") == f"/c/us-news#s{frigate_id}"
    page(client, "/s/999999", status=404)


def test_links_to_originals_never_leak_the_opener_or_referrer(client: FlaskClient) -> None:
    river = page(client, "/")
    urls = ["/", "/c/us-news", "/search?q=frigate"]
    urls += [f"/s/{item.get('data-id')}" for item in css(river, "li.story")]
    for url in urls:
        for link in css(page(client, url), "a[href]"):
            href = link.get("href")
            if href.startswith(("http://", "https://")):
                assert {"noopener", "noreferrer"} <= set(link.get("rel", "").split()), (url, href)


def test_hostile_items_reach_pages_inert(client: FlaskClient) -> None:
    river = page(client, "/")
    urls = ["/", "/search?q=hostile", "/search?q=script", "/feeds"]
    urls += [f"/s/{item.get('data-id')}" for item in css(river, "li.story")]
    for url in urls:
        html = client.get(url).get_data(as_text=True)
        document = lxml.html.fromstring(html)
        scripts = css(document, "script")
        assert [s.get("src", "").split("?")[0] for s in scripts] == ["/static/reader.js"], url
        assert not css(document, "iframe, object, embed, form[action^=javascript]")
        # The only pictures drawn in a page are the feeds page's strips, from numbers.
        for svg in css(document, "svg"):
            assert url == "/feeds" and "strip" in svg.get("class", "").split(), url
            assert {part.tag for part in svg.iter()} <= {"svg", "rect", "line", "title"}
        for element in document.iter():
            for name, value in element.attrib.items():
                assert not name.lower().startswith("on"), (url, name, value)
                assert "javascript" not in value.lower().replace("\t", ""), (url, name, value)
        for content in css(document, ".content"):  # the article body, as served
            inner = html_module.escape(content.text or "") + "".join(
                lxml.html.tostring(child, encoding="unicode") for child in content
            )
            assert_safe_html(inner)
    hostile_title = f"<script>{XSS_MARKER}</script>Hostile title"
    hostile = page(client, f"/s/{story_id(river, hostile_title)}")
    assert css(hostile, "h1")[0].text_content() == hostile_title  # text, not markup
    assert [child.tag for child in css(hostile, "h1 a")[0].iter()] == ["a"]


def test_every_response_carries_the_security_headers(client: FlaskClient) -> None:
    responses = [
        client.get("/"),
        client.get("/s/1"),
        client.get("/static/reader.js"),
        client.get("/no-such-page"),
        client.get("/healthz"),
        client.get("/?before=garbage"),
        client.post("/s/1/read"),  # no CSRF token: 400
    ]
    for response in responses:
        response.close()  # a static file is streamed from an open file
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (response.request.path, name)
    csp = SECURITY_HEADERS["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert [r.status_code for r in responses[3:]] == [404, 200, 400, 400]


def test_static_files_are_cacheable_by_content(client: FlaskClient) -> None:
    html = client.get("/").get_data(as_text=True)
    css = re.search(r'href="(/static/reader\.css\?v=[0-9a-f]+)"', html)
    assert css
    response = client.get(css.group(1))
    response.close()
    assert response.status_code == 200 and "immutable" in response.headers["Cache-Control"]
    assert response.mimetype == "text/css"


def test_state_changes_need_a_post_with_a_csrf_token(client: FlaskClient) -> None:
    river = page(client, "/")
    target = story_id(river, "Senate passes the budget")
    page(client, f"/s/{target}")  # opening the page (a GET) changes nothing
    assert client.get(f"/s/{target}/read").status_code == 405
    refused = client.post(f"/s/{target}/read", data={"next": "/"})
    assert refused.status_code == 400 and "expired" in refused.get_data(as_text=True)
    assert "unread" in css(page(client, "/"), f"#s{target}")[0].get("class")

    token = csrf_token(client)
    done = client.post(f"/s/{target}/read", data={"csrf_token": token, "next": "/c/us-news"})
    assert done.status_code == 303 and done.headers["Location"] == "/c/us-news"
    assert "unread" not in css(page(client, "/"), f"#s{target}")[0].get("class")

    as_json = client.post(
        f"/s/{target}/star", headers={"X-CSRFToken": token, "Accept": "application/json"}
    )
    assert as_json.get_json() == {"story_id": target, "unread": False, "starred": True}
    assert story_titles(page(client, "/starred")) == ["Senate passes the budget"]
    client.post(f"/s/{target}/unread", data={"csrf_token": token})
    client.post(f"/s/{target}/unstar", data={"csrf_token": token})
    assert story_titles(page(client, "/starred")) == []
    missing = client.post(
        "/s/999999/read", headers={"X-CSRFToken": token, "Accept": "application/json"}
    )
    assert missing.status_code == 404 and "error" in missing.get_json()


@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"]
)
def test_forms_never_redirect_off_site(client: FlaskClient, next_url: str) -> None:
    token = csrf_token(client)
    response = client.post("/s/1/read", data={"csrf_token": token, "next": next_url})
    assert response.status_code == 303 and response.headers["Location"] == "/s/1"


def test_unread_filter(client: FlaskClient) -> None:
    token = csrf_token(client)
    river = page(client, "/")
    read_id = story_id(river, "Calm weather ahead")
    client.post(f"/s/{read_id}/read", data={"csrf_token": token})
    unread = story_titles(page(client, "/?unread=1"))
    assert "Calm weather ahead" not in unread
    assert len(unread) == len(story_titles(river)) - 1
    counts = css(page(client, "/"), '[data-count="all"]')[0].text_content()
    assert counts == str(len(unread))


def test_mark_all_read_leaves_stories_that_arrived_since_unread(
    client: FlaskClient, site: Site
) -> None:
    section = page(client, "/c/us-news")
    form = css(section, "form.mark-all")[0]
    fields = {field.get("name"): field.get("value") for field in css(form, "input")}
    assert fields["scope"] == "section:us-news"
    # Meanwhile the wire publishes two more US News stories: one newer than anything
    # shown, one dated in the middle of what was shown.
    site.now += timedelta(minutes=10)
    newer = Item("w4", "Breaking US news", timedelta(minutes=1), "https://news.example/4", "x",
                 categories=("US News",))  # fmt: skip
    middle = Item("w5", "Late report", timedelta(hours=1, minutes=40), "https://news.example/5",
                  "x", categories=("US News",))  # fmt: skip
    wire = [*WIRE, newer, middle]
    serve_items(site, "/wire.xml", "Wire", wire, etag='"v2"')
    site.poll(site.now + timedelta(hours=2))
    response = client.post(form.get("action"), data=fields)
    assert response.status_code == 303 and response.headers["Location"] == "/c/us-news"
    remaining = story_titles(page(client, "/c/us-news?unread=1"))
    assert remaining == ["Breaking US news", "Late report"]
    bad = dict(fields, scope="section:nope")
    assert client.post(form.get("action"), data=bad).status_code == 400


def test_search_highlights_matches_and_filters_by_section(client: FlaskClient) -> None:
    results = page(client, "/search?q=frigate")
    assert story_titles(results) == ["Navy commissions a new frigate"]
    marks = [mark.text_content().lower() for mark in css(results, "li.story mark")]
    assert "frigate" in marks
    assert story_titles(page(client, "/search?q=frigate&section=us-news")) == [
        "Navy commissions a new frigate"
    ]
    assert story_titles(page(client, "/search?q=harbor&section=us-news")) == []
    assert story_titles(page(client, "/search?q=harbor")) == ["Harbor reopens"]
    echoed = client.get("/search?q=%3Cscript%3Ealert(1)%3C/script%3E").get_data(as_text=True)
    assert "<script>alert(1)" not in echoed and "&lt;script&gt;alert(1)" in echoed
    assert page(client, "/search?q=frigate&before=x", status=400) is not None
    assert not story_titles(page(client, "/search"))


def test_feeds_page_shows_each_feeds_health(client: FlaskClient, site: Site) -> None:
    health = page(client, "/feeds")
    rows = {css(row, ".url")[0].text_content(): row for row in css(health, "tbody tr")}

    def cell(path: str, label: str) -> str:
        row = rows[site.feeds[path]]
        return str(css(row, f'td[data-label="{label}"]')[0].text_content().strip())

    assert "410 Gone" in cell("/gone.xml", "Status")
    assert cell("/gone.xml", "Next check") == "stopped"
    assert "Moved permanently to" in cell("/moved.xml", "Status")
    assert css(rows[site.feeds["/gone.xml"]], ".warn")
    assert cell("/broken.xml", "HTTP") == "500" and "HTTP 500" in cell("/broken.xml", "Status")
    assert cell("/broken.xml", "Status").startswith("Failing")
    assert cell("/wire.xml", "Entries") == "3" and cell("/wire.xml", "HTTP") == "304"
    assert cell("/wire.xml", "Status") == "OK"
    # Feeds needing the admin come first.
    first_urls = [css(row, ".url")[0].text_content() for row in css(health, "tbody tr")]
    assert set(first_urls[:2]) == {site.feeds["/gone.xml"], site.feeds["/moved.xml"]}
    # Worded as `aggregator feeds` words it: by feed_health.feed_status.
    threshold = site.config.polling.error_threshold
    for url in first_urls:
        stored = site.storage.get_feed_by_url(url)
        assert stored is not None
        path = next(path for path, feed_url in site.feeds.items() if feed_url == url)
        # The status, then the last error (if any) below it.
        assert cell(path, "Status").lstrip("⚠ ").startswith(feed_status(stored, threshold).text)


def test_feeds_page_flags_repeated_failures_and_shows_config_errors(
    app: Flask, client: FlaskClient, site: Site, tmp_path: Path
) -> None:
    broken = site.storage.get_feed_by_url(site.feeds["/broken.xml"])
    assert broken is not None
    for hours in range(1, 4):  # past the error threshold (3 in a row)
        site.poll(site.now + timedelta(days=hours))
    health = page(client, "/feeds")
    rows = {css(row, ".url")[0].text_content(): row for row in css(health, "tbody tr")}
    status = css(rows[site.feeds["/broken.xml"]], 'td[data-label="Status"]')[0].text_content()
    assert "Flagged: failing" in status and "still retried" in status
    assert not css(health, ".config-error")

    # feeds.yaml edited into an error while running: the page says so, with the line.
    config_file = tmp_path / "feeds.yaml"
    config_file.write_text("feeds: []\n")
    watched = Aggregator(replace(site.config, path=str(config_file)), site.storage)
    config_file.write_text("feeds:\n  - url: https://a.example/feed\n    urll: x\n")
    assert not watched.reload_config()
    banner = css(page(create_app(watched).test_client(), "/feeds"), ".config-error")
    assert banner and f"{config_file}:3: unknown key 'urll'" in banner[0].text_content()

    history = page(client, f"/f/{broken.id}/history")
    rows_shown = css(history, "tbody tr")
    assert len(rows_shown) >= 4
    outcome = css(rows_shown[0], 'td[data-label="Outcome"]')[0].text_content().strip()
    assert outcome == "Failed"
    assert "500" in css(rows_shown[0], 'td[data-label="Error"]')[0].text_content()
    page(client, "/f/999999/history", status=404)


def test_pages_walk_the_whole_river_once(storage: Storage) -> None:
    with FeedServer() as server:
        site = build_site(server, storage)
        items = [
            Item(f"n{n}", f"Numbered story {n}", timedelta(minutes=5 * n + 7), f"https://n.example/{n}")
            for n in range(PAGE_SIZE * 2 + 5)
        ]  # fmt: skip
        serve_items(site, "/wire.xml", "Wire", items, etag='"many"')
        site.poll(site.now + timedelta(hours=1))
        app = create_app(site.aggregator, test_config={"TESTING": True})
        client = app.test_client()
        seen: list[str] = []
        url: str | None = "/"
        pages = 0
        while url:
            document = page(client, url)
            seen.extend(story_titles(document))
            older = css(document, '.pager a[rel="next"]')
            url = older[0].get("href") if older else None
            if url:
                query = parse_qs(urlsplit(url).query)
                assert set(query) == {"before", "top"}
            pages += 1
        assert pages == 3 and len(seen) == len(set(seen))
        assert {f"Numbered story {n}" for n in range(len(items))} <= set(seen)
        page(client, "/?before=12_x", status=400)
        page(client, "/?before=99999999999999999999999_1", status=400)


def test_domain_errors_map_to_statuses(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable(*args: object, **kwargs: object) -> None:
        raise StorageError("database error: connection refused")

    monkeypatch.setattr(Storage, "list_reader_stories", unavailable)
    response = client.get("/")
    assert response.status_code == 503 and "not answering" in response.get_data(as_text=True)
    as_json = client.get("/", headers={"Accept": "application/json"})
    assert as_json.status_code == 503 and as_json.get_json()["error"]
    assert client.get("/c/us-news/").status_code == 404  # routing errors keep their status


@pytest.mark.slow
def test_templates_and_static_files_ship_inside_the_wheel(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(REPO_ROOT), "--no-deps", "-w", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if built.returncode != 0 and "satisfies the requirement setuptools" in built.stderr:
        pytest.skip("pip cannot fetch the build backend (setuptools) here")
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("aggregator-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("templates", "static"):
        for path in (REPO_ROOT / folder).iterdir():
            assert f"aggregator/{folder}/{path.name}" in names, path
    # Installed from the wheel, the app finds them inside the package.
    target = tmp_path / "site"
    installed = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr[-2000:]
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "from aggregator.web.assets import asset_dir; "
            "print(asset_dir('templates')); print(asset_dir('static'))",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(target)},
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.split() == [
        str(target / "aggregator" / "templates"),
        str(target / "aggregator" / "static"),
    ]


def test_the_story_page_says_why_and_an_admin_can_split(client: FlaskClient) -> None:
    river = page(client, "/")
    frigate = story_id(river, "Navy commissions a new frigate")
    document = page(client, f"/s/{frigate}")
    why = [" ".join(li.text_content().split()) for li in css(document, "section.why li")]
    assert any(line.startswith("Wire:") and "started the story" in line for line in why)
    assert any(line.startswith("Other Outlet:") and "the same article" in line for line in why)
    filing = css(document, "section.filing")[0].text_content()
    assert "US News" in filing and "tagged “U.S. News” by Wire" in filing
    # The admin (this machine) takes the other outlet's report out; the story is one
    # report again and the report is a story of its own, said so on its page.
    forms = css(document, "form.split")
    assert len(forms) == 2
    other_form = forms[1].get("action")
    token = csrf_token(client)
    remote = {"REMOTE_ADDR": "192.0.2.9"}
    refused = client.post(other_form, data={"csrf_token": token}, environ_base=remote)
    assert refused.status_code == 403
    done = client.post(other_form, data={"csrf_token": token})
    assert done.status_code == 303
    new_page = page(client, done.headers["Location"])
    assert "Frigate joins the fleet" in css(new_page, "h1")[0].text_content()
    assert "split out of another story by an admin" in new_page.text_content()
    assert not css(page(client, f"/s/{frigate}"), "section.also")
    # Nobody else sees a split button.
    away = client.get(f"/s/{frigate}", environ_base=remote).get_data(as_text=True)
    assert 'form class="split"' not in away


# --- the reader, second edition: preferences, the pane, comfort -------------------------


def test_density_and_theme_are_remembered_in_cookies(client: FlaskClient) -> None:
    river = page(client, "/")
    assert river.get("data-density") == "cards" and river.get("data-theme") == "system"
    token = csrf_token(client)
    done = client.post(
        "/preferences", data={"csrf_token": token, "density": "compact", "next": "/c/us-news"}
    )
    assert done.status_code == 303 and done.headers["Location"] == "/c/us-news"
    assert "density=compact" in done.headers["Set-Cookie"]
    assert page(client, "/").get("data-density") == "compact"
    as_json = client.post(
        "/preferences",
        data={"theme": "dark"},
        headers={"X-CSRFToken": token, "Accept": "application/json"},
    )
    assert as_json.get_json() == {"theme": "dark"}
    dark = page(client, "/")
    assert dark.get("data-theme") == "dark"
    assert css(dark, 'meta[name="color-scheme"]')[0].get("content") == "dark"
    # The toggle's button names the next theme: system -> light -> dark -> system.
    assert css(dark, "button.theme-toggle")[0].get("value") == "system"
    odd = client.post("/preferences", data={"csrf_token": token, "theme": "red"})
    assert odd.status_code == 400
    assert client.post("/preferences", data={"theme": "dark"}).status_code == 400  # no token
    client.set_cookie("theme", "<script>")  # an odd cookie is the default
    assert page(client, "/").get("data-theme") == "system"


def test_the_reading_pane_fragment_and_the_list_that_names_a_story(client: FlaskClient) -> None:
    river = page(client, "/")
    frigate = story_id(river, "Navy commissions a new frigate")
    response = client.get(f"/s/{frigate}/pane?in=section:us-news")
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert "<html" not in fragment and '<nav class="sidebar"' not in fragment
    article = lxml.html.fragment_fromstring(fragment, create_parent="div")
    assert css(article, "article.item h2.item-title")[0].text_content() == (
        "Navy commissions a new frigate"
    )
    assert not css(article, ".item-nav")  # the list is the navigation
    # Its forms come back to the list with the story in the pane.
    nexts = {i.get("value") for i in css(article, "form.actions input[name=next]")}
    assert nexts == {f"/c/us-news?s={frigate}#s{frigate}"}
    assert client.get("/s/999999/pane").status_code == 404
    for row in css(river, "li.story"):  # hostile items stay inert in the pane too
        alone = client.get(f"/s/{row.get('data-id')}/pane").get_data(as_text=True)
        document = lxml.html.fragment_fromstring(alone, create_parent="div")
        assert not css(document, "script, iframe, object, embed")
        for element in document.iter():
            assert not any(name.lower().startswith("on") for name in element.attrib)

    # A reload of /?s=<id> shows the same story in the pane (works without the script).
    named = page(client, f"/?s={frigate}")
    assert css(named, ".reading.has-pane #pane article.item")[0].get("data-id") == str(frigate)
    assert css(named, "#pane .item-title")[0].text_content() == "Navy commissions a new frigate"
    assert "pane-hint" in client.get("/").get_data(as_text=True)
    page(client, "/?s=999999", status=404)
    page(client, "/?s=x", status=400)


def test_mark_this_and_older_read_from_a_row(client: FlaskClient) -> None:
    river = page(client, "/")
    rows = css(river, "li.story")
    middle = rows[len(rows) // 2]
    form = css(middle, "form.actions")[0]
    fields = {i.get("name"): i.get("value") for i in css(form, "input[type=hidden]")}
    button = css(form, "button.mark-older")[0]
    data = {**fields, "next": "/"}
    done = client.post(button.get("formaction"), data=data)
    assert done.status_code == 303
    after = css(page(client, "/"), "li.story")
    position = [row.get("data-id") for row in after].index(middle.get("data-id"))
    unread = ["unread" in row.get("class").split() for row in after]
    assert unread == [True] * position + [False] * (len(after) - position)


def test_titles_counts_and_the_not_found_page(client: FlaskClient, site: Site) -> None:
    river = page(client, "/")
    unread = len(css(river, "li.story.unread"))
    assert css(river, "title")[0].text_content() == f"({unread}) All stories · Newsroom"
    long_title = "A very long headline " * 40  # 840 characters
    serve_items(site, "/wire.xml", "Wire", [*WIRE, Item("long-1", long_title.strip())], etag='"l"')
    site.poll(site.now + timedelta(hours=2))
    river = page(client, "/")
    long_id = story_id(river, long_title.strip())
    story_title = css(page(client, f"/s/{long_id}"), "title")[0].text_content()
    assert len(story_title) < 120 and story_title.endswith("… · Newsroom")
    missing = page(client, "/no-such-page", status=404)
    assert css(missing, "title")[0].text_content().endswith("Not Found · Newsroom")
    assert css(missing, "h1")[0].text_content() == "404 Not Found"


def test_a_lists_sources_lead_to_the_related_stories(client: FlaskClient, site: Site) -> None:
    river = page(client, "/")
    frigate = story_id(river, "Navy commissions a new frigate")
    senate = story_id(river, "Senate passes the budget")
    with site.storage.write() as conn:  # as the stories work records a near miss
        conn.execute(
            schema.related_stories.insert().values(
                story_id=frigate, related_id=senate, similarity=0.4
            )
        )
    row = css(page(client, "/c/us-news"), f"#s{frigate}")[0]
    more = css(row, "details.sources .more a")[0]
    assert more.get("href") == f"/s/{frigate}?in=section:us-news"
    fragment = client.get(f"/s/{frigate}/related?in=section:us-news")
    assert fragment.status_code == 200
    related = lxml.html.fragment_fromstring(fragment.get_data(as_text=True), create_parent="div")
    assert css(related, "section.related h3")[0].text_content() == "Related stories"
    link = css(related, "section.related li a")[0]
    assert link.text_content() == "Senate passes the budget"
    assert link.get("href") == f"/s/{senate}?in=section:us-news"
    story = page(client, f"/s/{frigate}")  # and the story page, as before
    assert css(story, "section.related li a")[0].text_content() == "Senate passes the budget"
    assert client.get("/s/999999/related").status_code == 404
