"""Who may do what on the web (aggregator/web/access.py), on a real app over a database
filled by the real pipeline: without accounts only this machine is served; with them,
private mode needs a sign-in, public mode shows the lists without state, readers never
reach the admin pages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import lxml.html
import pytest
from flask import Flask

from aggregator.config import PUBLIC
from aggregator.storage import Storage
from aggregator.web import create_app
from tests.accounts import LOCAL, REMOTE, add_users, csrf_token, sign_in
from tests.css import css
from tests.httpserver import FeedServer
from tests.reader_site import Site, build_site

ADMIN_PAGES = ["/feeds", "/admin/users"]
READER_PAGES = ["/", "/c/us-news", "/search?q=frigate"]


@pytest.fixture
def site(storage: Storage) -> Iterator[Site]:
    with FeedServer() as server:
        built = build_site(server, storage)
        yield built
        built.close()


@pytest.fixture
def app(site: Site) -> Flask:
    return create_app(site.aggregator, test_config={"TESTING": True})


def story_id(site: Site) -> int:
    return site.aggregator.get_stories("all").stories[0].story.id


def test_without_accounts_only_this_machine_is_served(app: Flask, site: Site) -> None:
    client = app.test_client()
    for path in READER_PAGES + ADMIN_PAGES + [f"/s/{story_id(site)}", "/starred"]:
        assert client.get(path, environ_base=LOCAL).status_code == 200, path
        refused = client.get(path, environ_base=REMOTE)
        assert refused.status_code == 403, path
        assert "aggregator user add NAME --admin" in refused.get_data(as_text=True)
    token = csrf_token(client, "/", **LOCAL)
    marked = client.post(
        f"/s/{story_id(site)}/read", data={"csrf_token": token}, environ_base=LOCAL
    )
    assert marked.status_code == 303
    # The merged feeds and /healthz stay public.
    assert client.get("/feeds/all.atom", environ_base=REMOTE).status_code == 200
    assert client.get("/healthz", environ_base=REMOTE).status_code == 200


def test_private_mode_sends_visitors_to_sign_in(app: Flask, site: Site) -> None:
    add_users(site.aggregator)
    client = app.test_client()
    for path in [*READER_PAGES, "/starred", f"/s/{story_id(site)}"]:
        for environ in (LOCAL, REMOTE):  # this machine gets no special treatment now
            response = client.get(path, environ_base=environ)
            assert response.status_code == 302, path
            assert response.headers["Location"].startswith("/login?next=")
    token = csrf_token(client)
    refused = client.post(
        f"/s/{story_id(site)}/read", data={"csrf_token": token}, environ_base=REMOTE
    )
    assert refused.status_code == 401
    assert site.aggregator.get_story(story_id(site)).unread  # type: ignore[union-attr]
    for path in ADMIN_PAGES:
        assert client.get(path, environ_base=REMOTE).status_code == 302
    assert client.get("/feeds/all.atom", environ_base=REMOTE).status_code == 200


def test_a_reader_cannot_reach_the_admin_pages(app: Flask, site: Site) -> None:
    add_users(site.aggregator)
    client = app.test_client()
    assert sign_in(client, "alice").status_code == 303
    for path in [*READER_PAGES, "/starred"]:
        assert client.get(path, environ_base=REMOTE).status_code == 200, path
    for path in [*ADMIN_PAGES, "/f/1/history"]:
        response = client.get(path, environ_base=REMOTE)
        assert response.status_code == 403, path
        assert "Only an administrator" in response.get_data(as_text=True)
    token = csrf_token(client, "/settings")
    added = client.post(
        "/admin/users",
        data={"name": "mallory", "password": "x" * 10, "confirm": "x" * 10, "csrf_token": token},
        environ_base=REMOTE,
    )
    assert added.status_code == 403
    assert "mallory" not in [user.name for user in site.aggregator.list_users()]
    river = lxml.html.fromstring(client.get("/", environ_base=REMOTE).get_data(as_text=True))
    assert not css(river, 'a[href="/feeds"]') and not css(river, 'a[href="/admin/users"]')


def test_an_admin_reaches_the_admin_pages(app: Flask, site: Site) -> None:
    add_users(site.aggregator)
    client = app.test_client()
    sign_in(client, "admin")
    for path in [*ADMIN_PAGES, "/f/1/history"]:
        assert client.get(path, environ_base=REMOTE).status_code == 200, path
    river = lxml.html.fromstring(client.get("/", environ_base=REMOTE).get_data(as_text=True))
    assert css(river, 'a[href="/admin/users"]')


def test_public_mode_shows_the_lists_without_state(site: Site) -> None:
    site.aggregator.apply_config(replace(site.config, access=PUBLIC))
    users = add_users(site.aggregator)
    first = story_id(site)
    site.aggregator.mark_read(first, user=users["alice"].id)
    client = create_app(site.aggregator, test_config={"TESTING": True}).test_client()
    for path in [*READER_PAGES, f"/s/{first}"]:
        response = client.get(path, environ_base=REMOTE)
        assert response.status_code == 200, path
        document = lxml.html.fromstring(response.get_data(as_text=True))
        assert not css(document, "form.actions"), path  # nothing to mark
        assert not css(document, "li.unread, article.unread"), path
        assert not css(document, ".mark-all"), path
        assert not css(document, 'a[href="/starred"]'), path
    story = lxml.html.fromstring(
        client.get(f"/s/{first}", environ_base=REMOTE).get_data(as_text=True)
    )
    assert css(story, 'article[data-read-on-open="no"]')
    # State needs a sign-in; the state of a user stays theirs.
    assert client.get("/starred", environ_base=REMOTE).status_code == 302
    token = csrf_token(client, "/")
    assert (
        client.post(f"/s/{first}/star", data={"csrf_token": token}, environ_base=REMOTE).status_code
        == 401
    )
    sign_in(client, "bob")
    river = lxml.html.fromstring(client.get("/", environ_base=REMOTE).get_data(as_text=True))
    assert css(river, f"#s{first}.unread") and css(river, "form.actions")
    assert client.get("/admin/users", environ_base=REMOTE).status_code == 403
