"""Accounts on the web through Flask's test client, on a database filled by the real
pipeline: signing in and out (cookie flags, CSRF, limits), two users reading
independently, a user's settings, the admins' Users page, private outputs."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient

from aggregator.config import OutputConfig, SiteConfig
from aggregator.core._users import ACCOUNT_FAILURES, ADDRESS_FAILURES, LOGIN_WINDOW
from aggregator.scopes import ALL
from aggregator.storage import Storage
from aggregator.web import create_app
from tests.accounts import PASSWORDS, REMOTE, add_users, csrf_token, sign_in
from tests.css import css
from tests.httpserver import FeedServer
from tests.reader_site import Site, build_site


@pytest.fixture
def site(storage: Storage) -> Iterator[Site]:
    with FeedServer() as server:
        built = build_site(server, storage)
        add_users(built.aggregator)
        yield built
        built.close()


@pytest.fixture
def app(site: Site) -> Flask:
    return create_app(site.aggregator, test_config={"TESTING": True})


def document(client: FlaskClient, path: str, status: int = 200) -> lxml.html.HtmlElement:
    response = client.get(path, environ_base=REMOTE)
    assert response.status_code == status, (path, response.status_code)
    return lxml.html.fromstring(response.get_data(as_text=True))


def post(client: FlaskClient, path: str, **form: str) -> object:
    token = csrf_token(client, "/settings") if "csrf_token" not in form else form.pop("csrf_token")
    return client.post(path, data={"csrf_token": token, **form}, environ_base=REMOTE)


def unread_titles(client: FlaskClient) -> set[str]:
    river = document(client, "/")
    return {item.text_content() for item in css(river, "li.story.unread .title a")}


def test_signing_in_and_out(app: Flask) -> None:
    client = app.test_client()
    wrong = sign_in(client, "alice", "not-her-password")
    assert wrong.status_code == 200  # the form again, with the message
    assert "Wrong name or password." in wrong.get_data(as_text=True)
    assert client.get("/settings", environ_base=REMOTE).status_code == 302  # not signed in
    right = sign_in(client, "alice")
    assert right.status_code == 303 and right.headers["Location"] == "/"
    cookie = right.headers["Set-Cookie"]
    assert cookie.startswith("aggregator_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
    assert "Secure" not in cookie  # site.base_url is http here
    names = css(document(client, "/"), ".account a")
    assert names[0].text_content() == "alice"
    token = csrf_token(client, "/")
    assert (
        client.post("/logout", data={"csrf_token": token}, environ_base=REMOTE).status_code == 303
    )
    assert client.get("/", environ_base=REMOTE).status_code == 302


def test_sign_in_goes_back_where_it_was_sent_from_and_nowhere_else(app: Flask) -> None:
    client = app.test_client()
    sent = client.get("/c/us-news?unread=1", environ_base=REMOTE)
    assert sent.status_code == 302
    login_page = client.get(sent.headers["Location"], environ_base=REMOTE).get_data(as_text=True)
    assert 'name="next" value="/c/us-news?unread=1"' in login_page
    token = csrf_token(client)
    for target, landing in (
        ("/c/us-news?unread=1", "/c/us-news?unread=1"),
        ("https://evil.example/", "/"),
        ("//evil.example", "/"),
    ):
        answer = client.post(
            "/login",
            data={"name": "bob", "password": PASSWORDS["bob"], "next": target, "csrf_token": token},
            environ_base=REMOTE,
        )
        assert answer.headers["Location"] == landing
        token = csrf_token(client, "/")


def test_the_session_cookie_is_secure_behind_https(site: Site) -> None:
    site.aggregator.apply_config(
        replace(site.config, site=SiteConfig(base_url="https://news.example"))
    )
    client = create_app(site.aggregator, test_config={"TESTING": True}).test_client()
    assert "Secure" in sign_in(client, "alice").headers["Set-Cookie"]


def test_the_sign_in_form_needs_its_csrf_token(app: Flask) -> None:
    client = app.test_client()
    refused = client.post(
        "/login", data={"name": "alice", "password": PASSWORDS["alice"]}, environ_base=REMOTE
    )
    assert refused.status_code == 400
    assert "expired or did not come from this site" in refused.get_data(as_text=True)
    assert client.get("/", environ_base=REMOTE).status_code == 302  # not signed in


def test_sign_in_is_rate_limited(app: Flask, site: Site) -> None:
    client = app.test_client()
    for _ in range(ACCOUNT_FAILURES):
        assert "Wrong name" in sign_in(client, "alice", "wrong-password").get_data(as_text=True)
    locked = sign_in(client, "alice")
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in locked.get_data(as_text=True)
    assert sign_in(client, "bob").status_code == 303  # another account is not locked
    site.now += LOGIN_WINDOW + timedelta(seconds=1)
    assert sign_in(app.test_client(), "alice").status_code == 303


def test_a_new_password_signs_the_other_sessions_out(app: Flask) -> None:
    phone, laptop = app.test_client(), app.test_client()
    sign_in(phone, "alice")
    sign_in(laptop, "alice")
    changed = post(
        laptop,
        "/settings/password",
        current=PASSWORDS["alice"],
        password="new-password-1",
        confirm="new-password-1",
    )
    assert changed.status_code == 200  # type: ignore[attr-defined]
    assert "Password changed" in changed.get_data(as_text=True)  # type: ignore[attr-defined]
    assert laptop.get("/", environ_base=REMOTE).status_code == 200  # this session goes on
    assert phone.get("/", environ_base=REMOTE).status_code == 302  # the other is signed out
    wrong = post(
        laptop, "/settings/password", current="nope-nope-1", password="x" * 9, confirm="x" * 9
    )
    assert wrong.status_code == 400  # type: ignore[attr-defined]
    differ = post(
        laptop, "/settings/password", current="new-password-1", password="x" * 9, confirm="y" * 9
    )
    assert "differ" in differ.get_data(as_text=True)  # type: ignore[attr-defined]


def test_two_users_read_independently(app: Flask, site: Site) -> None:
    alice, bob = app.test_client(), app.test_client()
    sign_in(alice, "alice")
    sign_in(bob, "bob")
    before = unread_titles(alice)
    assert before == unread_titles(bob) and len(before) >= 3
    story = site.aggregator.get_stories(ALL).stories[0].story
    token = csrf_token(alice, "/")
    marked = alice.post(
        f"/s/{story.id}/read",
        data={"csrf_token": token},
        headers={"Accept": "application/json"},
        environ_base=REMOTE,
    )
    assert marked.get_json() == {"story_id": story.id, "unread": False, "starred": False}
    alice.post(f"/s/{story.id}/star", data={"csrf_token": token}, environ_base=REMOTE)
    assert story.lead.title not in unread_titles(alice)
    assert story.lead.title in unread_titles(bob)
    assert [a.text_content() for a in css(document(alice, "/starred"), "li.story .title a")] == [
        story.lead.title
    ]
    assert css(document(bob, "/starred"), "li.story") == []
    counts_alice = css(document(alice, "/"), '[data-count="all"]')[0].text_content()
    counts_bob = css(document(bob, "/"), '[data-count="all"]')[0].text_content()
    assert int(counts_bob) == int(counts_alice) + 1


def test_app_passwords_are_shown_once_and_revoked(app: Flask, site: Site) -> None:
    client = app.test_client()
    sign_in(client, "alice")
    made = post(client, "/settings/app-passwords", label="phone")
    page = made.get_data(as_text=True)  # type: ignore[attr-defined]
    secret = re.search(r'class="secret-value">([a-z0-9-]+)<', page)
    assert secret is not None
    assert site.aggregator.client_login("alice", secret.group(1)).user.name == "alice"
    settings = client.get("/settings", environ_base=REMOTE).get_data(as_text=True)
    assert secret.group(1) not in settings and "phone" in settings
    assert "/api/greader" in settings and "/api/fever" in settings
    (listed,) = site.aggregator.app_passwords(site.aggregator.user_named("alice").id)
    bob = app.test_client()
    sign_in(bob, "bob")
    assert post(bob, f"/settings/app-passwords/{listed.id}/revoke").status_code == 404  # type: ignore[attr-defined]
    assert post(client, f"/settings/app-passwords/{listed.id}/revoke").status_code == 303  # type: ignore[attr-defined]
    assert site.aggregator.app_passwords(listed.user_id) == []


def test_admins_manage_users_on_the_users_page(app: Flask, site: Site) -> None:
    client = app.test_client()
    sign_in(client, "admin")
    page = document(client, "/admin/users")
    assert {row.get("id") for row in css(page, "tr[id]")} == {
        "user-admin",
        "user-alice",
        "user-bob",
    }
    differ = post(
        client,
        "/admin/users",
        name="carol",
        password="carol-pass-1",
        confirm="other-pass-1",
        role="reader",
    )
    assert differ.status_code == 400  # type: ignore[attr-defined]
    added = post(
        client,
        "/admin/users",
        name="Carol",
        password="carol-pass-1",
        confirm="carol-pass-1",
        role="reader",
    )
    assert "User carol added (reader)." in added.get_data(as_text=True)  # type: ignore[attr-defined]
    carol = site.aggregator.user_named("carol")
    post(client, f"/admin/users/{carol.id}/role", role="admin")
    assert site.aggregator.user_named("carol").is_admin
    post(
        client, f"/admin/users/{carol.id}/password", password="carol-pass-2", confirm="carol-pass-2"
    )
    assert site.aggregator.authenticate("carol", "carol-pass-2").id == carol.id
    unconfirmed = post(client, f"/admin/users/{carol.id}/remove")
    assert unconfirmed.status_code == 400  # type: ignore[attr-defined]
    post(client, f"/admin/users/{carol.id}/remove", confirm="yes")
    assert "carol" not in [user.name for user in site.aggregator.list_users()]
    admin = site.aggregator.user_named("admin")
    last = post(client, f"/admin/users/{admin.id}/remove", confirm="yes")
    assert "last admin" in last.get_data(as_text=True)  # type: ignore[attr-defined]
    assert post(client, "/admin/users/9999/role", role="admin").status_code == 404  # type: ignore[attr-defined]


def test_private_outputs_need_a_feed_key(site: Site) -> None:
    private = OutputConfig(name="insiders", title="Insiders", private=True)
    site.aggregator.apply_config(replace(site.config, outputs=(private,)))
    app = create_app(site.aggregator, test_config={"TESTING": True})
    client = app.test_client()
    alice = site.aggregator.user_named("alice")
    for query in ("", "?key=", "?key=wrong"):
        refused = client.get(f"/feeds/insiders.atom{query}")
        assert refused.status_code == 403
        assert "Settings page" in refused.get_data(as_text=True)
    answer = client.get(f"/feeds/insiders.atom?key={alice.feed_token}")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"].startswith("private")
    body = answer.get_data(as_text=True)
    assert f"/feeds/insiders.atom?key={alice.feed_token}" in body  # its own links keep the key
    assert client.get("/feeds/all.atom").status_code == 200  # the others stay public
    sign_in(client, "alice")
    settings = client.get("/settings", environ_base=REMOTE).get_data(as_text=True)
    assert f"/feeds/insiders.json?key={alice.feed_token}" in settings
    post(client, "/settings/feed-key")
    assert client.get(f"/feeds/insiders.atom?key={alice.feed_token}").status_code == 403
    new_key = site.aggregator.user_named("alice").feed_token
    assert client.get(f"/feeds/insiders.rss?key={new_key}").status_code == 200


def test_every_account_form_needs_its_csrf_token(app: Flask, site: Site) -> None:
    client = app.test_client()
    sign_in(client, "admin")
    alice = site.aggregator.user_named("alice")
    forms = {
        "/logout": {},
        "/settings/password": {
            "current": PASSWORDS["admin"],
            "password": "x" * 9,
            "confirm": "x" * 9,
        },
        "/settings/app-passwords": {"label": "phone"},
        "/settings/feed-key": {},
        "/admin/users": {"name": "eve", "password": "x" * 9, "confirm": "x" * 9},
        f"/admin/users/{alice.id}/role": {"role": "admin"},
        f"/admin/users/{alice.id}/password": {"password": "x" * 9, "confirm": "x" * 9},
        f"/admin/users/{alice.id}/remove": {"confirm": "yes"},
    }
    for path, form in forms.items():
        refused = client.post(path, data=form, environ_base=REMOTE)
        assert refused.status_code == 400, path
    assert [user.name for user in site.aggregator.list_users()] == ["admin", "alice", "bob"]
    assert not site.aggregator.user_named("alice").is_admin
    assert client.get("/settings", environ_base=REMOTE).status_code == 200  # still signed in


def test_behind_a_local_proxy_the_limit_is_per_forwarded_address(app: Flask) -> None:
    proxy = {"REMOTE_ADDR": "127.0.0.1"}

    def attempt(name: str, password: str, forwarded: str, peer: dict[str, str]) -> int:
        client = app.test_client()
        token = csrf_token(client, "/login", **peer)
        return client.post(
            "/login",
            data={"name": name, "password": password, "csrf_token": token},
            headers={"X-Forwarded-For": forwarded},
            environ_base=peer,
        ).status_code

    for number in range(ADDRESS_FAILURES):
        assert attempt(f"guess{number}", "password", "198.51.100.1, 203.0.113.5", proxy) == 200
    assert attempt("bob", PASSWORDS["bob"], "203.0.113.5", proxy) == 429
    assert attempt("bob", PASSWORDS["bob"], "203.0.113.6", proxy) == 303  # another address
    # Another machine cannot choose its address with the header.
    for number in range(ADDRESS_FAILURES):
        attempt(f"other{number}", "password", f"192.0.2.{number}", REMOTE)
    assert attempt("alice", PASSWORDS["alice"], "192.0.2.250", REMOTE) == 429
