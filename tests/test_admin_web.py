"""The admin pages over HTTP (Flask's test client, CSRF on): who may use them, adding,
editing and importing through the review of a diff, a conflict, refreshing, the
feeds page's strips and labels, the river's banner and /healthz's verdict."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import lxml.etree
import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient

from aggregator.config import load_config
from aggregator.core import Aggregator
from aggregator.storage import open_storage
from aggregator.web import create_app
from tests.clock import FixedClock
from tests.css import css
from tests.httpserver import FeedServer, Response

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
OPML = Path(__file__).resolve().parent / "data" / "opml"
LOCAL = {"REMOTE_ADDR": "127.0.0.1"}
REMOTE = {"REMOTE_ADDR": "192.0.2.7"}


def rss(title: str, *guids: str) -> bytes:
    items = "".join(f"<item><title>Story {g}</title><guid>{g}</guid></item>" for g in guids)
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"{items}</channel></rss>"
    ).encode()


class Newsroom:
    def __init__(self, folder: Path, server: FeedServer) -> None:
        server.route("/wire.xml", FeedServer.feed(rss("Wire", "w1", "w2")))
        server.route("/broken.xml", FeedServer.status(500))
        server.route("/site/feed.xml", FeedServer.feed(rss("Site News", "s1")))
        server.route(
            "/site/",
            Response(
                200,
                b'<!doctype html><html><head><link rel="alternate" '
                b'type="application/atom+xml" href="/site/feed.xml" title="Site"></head></html>',
                {"Content-Type": "text/html"},
            ),
        )
        (folder / "local.xml").write_bytes(rss("Local", "l1"))
        self.path = folder / "feeds.yaml"
        self.path.write_text(
            "# The newsroom's feeds\n"
            "polling:\n  allow_private_networks: true\n  host_spacing: 0\n"
            "categories:\n  - name: World\n"
            "feeds:\n"
            f"  - url: {server.url('/wire.xml')}   # the wire\n    category: World\n"
            f"  - url: {server.url('/broken.xml')}\n"
            "  - url: local.xml\n",
            encoding="utf-8",
        )
        self.server = server
        self.clock = FixedClock(NOW)
        storage = open_storage(f"sqlite:///{folder / 'news.db'}")
        self.aggregator = Aggregator(load_config(self.path), storage, clock=self.clock)
        self.aggregator.sync_feeds()
        self.aggregator.update_feeds(scheduled=False)


@pytest.fixture
def newsroom(tmp_path: Path, server: FeedServer) -> Iterator[Newsroom]:
    room = Newsroom(tmp_path, server)
    yield room
    room.aggregator.close()


@pytest.fixture
def app(newsroom: Newsroom) -> Flask:
    return create_app(newsroom.aggregator, test_config={"TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def document(client: FlaskClient, path: str, status: int = 200, **kwargs: object) -> object:
    response = client.get(path, environ_base=LOCAL, **kwargs)  # type: ignore[arg-type]
    assert response.status_code == status, (path, response.status_code)
    return lxml.html.fromstring(response.get_data(as_text=True))


def token(client: FlaskClient) -> str:
    html = client.get("/feeds", environ_base=LOCAL).get_data(as_text=True)
    found = re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert found
    return found.group(1)


def post(client: FlaskClient, path: str, data: dict[str, object]) -> object:
    return client.post(path, data={"csrf_token": token(client), **data}, environ_base=LOCAL)


def hidden_fields(html: str, form_action: str) -> dict[str, str]:
    page = lxml.html.fromstring(html)
    [form] = [f for f in css(page, "form") if f.get("action") == form_action]
    return {
        i.get("name"): i.get("value") or "" for i in css(form, "input") if i.get("type") == "hidden"
    }


# --- who may -------------------------------------------------------------------------------


ADMIN_GETS = ["/admin/feeds/add", "/admin/import", "/admin/feeds/1/edit"]
ADMIN_POSTS = [
    "/admin/review",
    "/admin/save",
    "/admin/feeds/discover",
    "/admin/feeds/1/refresh",
    "/admin/feeds/refresh",
]


def test_admin_pages_answer_this_machine_only(client: FlaskClient) -> None:
    for path in ADMIN_GETS:
        assert client.get(path, environ_base=REMOTE).status_code == 403, path
        assert client.get(path, environ_base=LOCAL).status_code == 200, path
    csrf = token(client)
    for path in ADMIN_POSTS:
        response = client.post(path, data={"csrf_token": csrf}, environ_base=REMOTE)
        assert response.status_code == 403, path
    # The feeds page is for everyone; its tools for admins only.
    remote = lxml.html.fromstring(client.get("/feeds", environ_base=REMOTE).get_data(as_text=True))
    assert not css(remote, ".admin-tools") and not css(remote, ".feed-actions form")
    assert css(document(client, "/feeds"), ".admin-tools")


# --- adding by a site's address ------------------------------------------------------------


def test_add_by_site_address_review_and_save(client: FlaskClient, newsroom: Newsroom) -> None:
    found = post(client, "/admin/feeds/discover", {"address": newsroom.server.url("/site/")})
    assert found.status_code == 200
    page = lxml.html.fromstring(found.get_data(as_text=True))
    [choice] = css(page, 'input[name="address"][type="radio"]')
    assert choice.get("value") == newsroom.server.url("/site/feed.xml")
    assert "Site News" in css(page, ".candidates")[0].text_content()
    assert "1 item" in css(page, ".candidates")[0].text_content()

    review = post(
        client,
        "/admin/review",
        {"action": "add", "address": choice.get("value"), "category": "Local", "title": ""},
    )
    assert review.status_code == 200
    html = review.get_data(as_text=True)
    diff = css(lxml.html.fromstring(html), "pre.diff")[0].text_content()
    assert f"+  - url: {newsroom.server.url('/site/feed.xml')}" in diff
    assert "+    category: Local" in diff and "+  - name: Local" in diff
    assert newsroom.server.url("/site/feed.xml") not in newsroom.path.read_text()  # not yet

    fields = hidden_fields(html, "/admin/save")
    saved = client.post("/admin/save", data=fields, environ_base=LOCAL)
    assert saved.status_code == 303 and saved.headers["Location"].endswith("/feeds")
    assert newsroom.server.url("/site/feed.xml") in newsroom.path.read_text()
    assert newsroom.path.read_text().startswith("# The newsroom's feeds\n")
    feeds = document(client, "/feeds")
    assert "Saved " in css(feeds, ".messages")[0].text_content()
    urls = [u.text_content() for u in css(feeds, "tbody .url")]
    assert newsroom.server.url("/site/feed.xml") in urls  # in force at once


def test_a_conflict_is_refused_and_can_be_reviewed_again(
    client: FlaskClient, newsroom: Newsroom
) -> None:
    wire = newsroom.server.url("/wire.xml")
    review = post(client, "/admin/review", {"action": "change", "target": wire, "title": "Wire"})
    fields = hidden_fields(review.get_data(as_text=True), "/admin/save")
    edited = newsroom.path.read_text() + "  - https://meanwhile.example/feed\n"
    newsroom.path.write_text(edited)
    refused = client.post("/admin/save", data=fields, environ_base=LOCAL)
    assert refused.status_code == 409
    text = refused.get_data(as_text=True)
    assert "changed on disk since this change was prepared" in text
    assert newsroom.path.read_text() == edited  # nothing overwritten
    again_fields = hidden_fields(text, "/admin/review")
    again = client.post("/admin/review", data=again_fields, environ_base=LOCAL)
    assert again.status_code == 200
    diff = css(lxml.html.fromstring(again.get_data(as_text=True)), "pre.diff")[0].text_content()
    assert "+    title: Wire" in diff


def test_an_invalid_change_says_why(client: FlaskClient, newsroom: Newsroom) -> None:
    wire = newsroom.server.url("/wire.xml")
    review = post(client, "/admin/review", {"action": "change", "target": wire, "interval": "soon"})
    assert review.status_code == 400
    text = lxml.html.fromstring(review.get_data(as_text=True)).text_content()
    assert "invalid duration 'soon'" in text, text


# --- editing, pausing, removing, refreshing --------------------------------------------------


def test_edit_form_round_trip(client: FlaskClient, newsroom: Newsroom) -> None:
    wire = next(f for f in newsroom.aggregator.get_feeds() if f.url.endswith("/wire.xml"))
    form = document(client, f"/admin/feeds/{wire.id}/edit")
    edit_form = css(form, "form.admin-form")[0]  # the second one removes the feed
    values = {  # as a browser sends it: an unchecked box is left out
        i.get("name"): i.get("value") or ""
        for i in css(edit_form, "input")
        if i.get("type") != "checkbox" or i.get("checked") is not None
    }
    assert values["url"] == wire.url and values["interval"] == ""
    review = client.post(
        "/admin/review",
        data={**values, "title": "The Wire", "interval": "15m", "labels": "ignore_tags"},
        environ_base=LOCAL,
    )
    html = review.get_data(as_text=True)
    diff = css(lxml.html.fromstring(html), "pre.diff")[0].text_content()
    assert "+    title: The Wire" in diff and "+    interval: 15m" in diff
    assert "+    labels: ignore_tags" in diff and "paused" not in diff
    client.post("/admin/save", data=hidden_fields(html, "/admin/save"), environ_base=LOCAL)
    listed = load_config(newsroom.path).feeds[0]
    assert (listed.title, listed.interval_seconds, listed.labels) == (
        "The Wire",
        900,
        "ignore_tags",
    )
    assert f"  - url: {wire.url}   # the wire\n" in newsroom.path.read_text()


def test_pause_from_the_feeds_page(client: FlaskClient, newsroom: Newsroom) -> None:
    page = document(client, "/feeds")
    [pause] = [
        form
        for form in css(page, ".feed-actions form")
        if css(form, 'input[name="target"]')
        and css(form, 'input[name="target"]')[0].get("value").endswith("/broken.xml")
    ]
    fields = {i.get("name"): i.get("value") for i in css(pause, "input")}
    review = client.post("/admin/review", data=fields, environ_base=LOCAL)
    html = review.get_data(as_text=True)
    assert "+    paused: true" in html
    client.post("/admin/save", data=hidden_fields(html, "/admin/save"), environ_base=LOCAL)
    row = [r for r in css(document(client, "/feeds"), "tbody tr") if "broken" in r.text_content()]
    assert "paused" in row[0].get("class")
    assert css(row[0], 'td[data-label="Next check"]')[0].text_content().strip() == "paused"


def test_refresh_one_and_all(client: FlaskClient, newsroom: Newsroom) -> None:
    wire = next(f for f in newsroom.aggregator.get_feeds() if f.url.endswith("/wire.xml"))
    done = post(client, f"/admin/feeds/{wire.id}/refresh", {})
    assert done.status_code == 303
    assert "Wire: not modified." in css(document(client, "/feeds"), ".messages")[0].text_content()
    requests_before = len(newsroom.server.requests_for("/wire.xml"))
    assert requests_before == 2
    post(client, "/admin/feeds/refresh", {})
    assert "3 feeds are due now" in css(document(client, "/feeds"), ".messages")[0].text_content()
    assert newsroom.aggregator.take_poll_request()


# --- importing --------------------------------------------------------------------------------


def test_opml_upload(client: FlaskClient, newsroom: Newsroom) -> None:
    upload = client.post(
        "/admin/review",
        data={
            "csrf_token": token(client),
            "action": "import",
            "file": (io.BytesIO((OPML / "inoreader.opml").read_bytes()), "inoreader.opml"),
        },
        content_type="multipart/form-data",
        environ_base=LOCAL,
    )
    assert upload.status_code == 200
    html = upload.get_data(as_text=True)
    report = css(lxml.html.fromstring(html), ".report")[0].text_content()
    assert "Adding 5 feeds and the section News" in report
    client.post("/admin/save", data=hidden_fields(html, "/admin/save"), environ_base=LOCAL)
    assert len(load_config(newsroom.path).feeds) == 8


def test_not_an_opml_file(client: FlaskClient) -> None:
    upload = client.post(
        "/admin/review",
        data={
            "csrf_token": token(client),
            "action": "import",
            "file": (io.BytesIO(b"<html><body>login</body></html>"), "export.opml"),
        },
        content_type="multipart/form-data",
        environ_base=LOCAL,
    )
    assert upload.status_code == 400
    assert "not an OPML subscription list" in upload.get_data(as_text=True)


# --- watching ----------------------------------------------------------------------------------


def test_feeds_page_draws_strips_and_says_local_file(client: FlaskClient) -> None:
    page = document(client, "/feeds")
    rows = {css(r, ".url")[0].text_content(): r for r in css(page, "tbody tr")}
    local = next(row for url, row in rows.items() if url.startswith("file:"))
    assert css(local, 'td[data-label="HTTP"]')[0].text_content().strip() == "local file"
    assert css(local, 'td[data-label="Next check"]')[0].text_content().strip() == "on change"
    broken = next(row for url, row in rows.items() if url.endswith("/broken.xml"))
    strips = css(broken, "svg.strip")
    assert len(strips) == 2
    assert strips[0].get("aria-label") == "Last 1 fetches: 1 failed"
    assert css(strips[0], "rect.failed")
    assert css(broken, ".error")[0].text_content() == "HTTP 500 Internal Server Error"
    wire = next(row for url, row in rows.items() if url.endswith("/wire.xml"))
    assert css(wire, "svg.per-day")[0].get("aria-label").endswith(": 2 in all")


def test_river_banner_for_admins_only(
    client: FlaskClient, newsroom: Newsroom, tmp_path: Path
) -> None:
    banner = css(document(client, "/"), ".notice")
    assert [b.text_content().strip() for b in banner] == [
        "1 of 3 source feeds are failing. See the feeds page"
    ]
    remote = lxml.html.fromstring(client.get("/", environ_base=REMOTE).get_data(as_text=True))
    assert not css(remote, ".notice")
    newsroom.path.write_text(newsroom.path.read_text() + "  - urll: x\n")
    newsroom.aggregator.reload_config()
    kinds = [b.get("class") for b in css(document(client, "/"), ".notice")]
    assert kinds == ["notice error", "notice warn"]


def test_healthz_strict(client: FlaskClient, newsroom: Newsroom) -> None:
    assert client.get("/healthz").get_json()["status"] == "ok"
    assert client.get("/healthz?strict=1").status_code == 200
    newsroom.path.write_text(newsroom.path.read_text() + "  - urll: x\n")
    newsroom.aggregator.reload_config()
    relaxed = client.get("/healthz")
    assert relaxed.status_code == 200 and relaxed.get_json()["status"] == "degraded"
    assert "has errors" in relaxed.get_json()["reasons"][0]
    assert client.get("/healthz?strict=1").status_code == 503


def test_outputs_opml(client: FlaskClient) -> None:
    response = client.get("/outputs.opml")
    assert response.status_code == 200
    root = lxml.etree.fromstring(response.get_data())
    urls = [o.get("xmlUrl") for o in root.iter("outline")]
    assert urls == [
        "http://localhost:8000/feeds/all.atom",
        "http://localhost:8000/feeds/world.atom",
    ]
