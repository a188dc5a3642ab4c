"""Helpers of the account tests: users of a test newsroom, signing in with the test
client, reading the CSRF token of a page, the newsroom the sync API tests read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from aggregator.core import Aggregator
from aggregator.storage import Storage
from aggregator.types import User
from tests.httpserver import FeedServer
from tests.reader_site import Site, build_site

PASSWORDS = {"admin": "admin-password-1", "alice": "alice-password-1", "bob": "bob-password-1"}
LOCAL = {"REMOTE_ADDR": "127.0.0.1"}
REMOTE = {"REMOTE_ADDR": "192.0.2.7"}  # TEST-NET-1: another machine


def add_users(aggregator: Aggregator) -> dict[str, User]:
    """An admin (the first user) and two readers, alice and bob."""
    return {
        "admin": aggregator.add_user("admin", PASSWORDS["admin"], admin=True),
        "alice": aggregator.add_user("alice", PASSWORDS["alice"]),
        "bob": aggregator.add_user("bob", PASSWORDS["bob"]),
    }


def csrf_token(client: FlaskClient, path: str = "/login", **environ: str) -> str:
    """The CSRF token a page of the app gives this client."""
    body = client.get(path, environ_base=environ or REMOTE).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', body) or re.search(
        r'<meta name="csrf-token" content="([^"]+)"', body
    )
    assert found, body[:500]
    return found.group(1)


def sign_in(
    client: FlaskClient, name: str, password: str | None = None, **environ: str
) -> TestResponse:
    """Post the sign-in form (with its CSRF token) as a browser would."""
    environ = environ or REMOTE
    token = csrf_token(client, "/login", **environ)
    return client.post(
        "/login",
        data={"name": name, "password": password or PASSWORDS[name], "csrf_token": token},
        environ_base=environ,
    )


def sync_site(storage: Storage) -> Iterator[Site]:
    """The test newsroom with its users, the wire's subscription filed under a section
    (as an admin would): what the Google Reader and Fever API tests read."""
    with FeedServer() as server:
        built = build_site(server, storage)
        feeds = tuple(
            replace(feed, section="US News") if feed.url.endswith("/wire.xml") else feed
            for feed in built.config.feeds
        )
        built.aggregator.apply_config(replace(built.config, feeds=feeds))
        add_users(built.aggregator)
        yield built
        built.close()
