"""Contract tests of the Fever API (/api/fever) against the requests and responses of
FreshRSS (p/api/fever.php) and Miniflux (internal/fever): ``api_key`` = md5 of
"name:password" in a POST, ``api_version`` 3 and ``auth`` in every answer, ``groups``
with ``feeds_groups``, ``feeds``, ``items`` (50, by ``since_id``/``max_id``/``with_ids``,
``total_items``), ``unread_item_ids``/``saved_item_ids`` as comma-separated strings,
``mark=item|feed|group&as=…&id=…&before=…``.

Where both answer a wrong key with 200 and ``auth: 0``, we answer 401 with that body;
a malformed parameter is 400 (and changes nothing), never a 500.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from aggregator.scopes import ALL
from aggregator.storage import Storage
from aggregator.web import create_app
from aggregator.web.sync_items import group_id
from tests.accounts import PASSWORDS, sync_site
from tests.reader_site import Site


@pytest.fixture
def site(storage: Storage) -> Iterator[Site]:
    yield from sync_site(storage)


@pytest.fixture
def client(site: Site) -> FlaskClient:
    return create_app(site.aggregator, test_config={"TESTING": True}).test_client()


def api_key(site: Site, name: str) -> str:
    secret = site.aggregator.create_app_password(site.aggregator.user_named(name).id, "fever")
    return hashlib.md5(f"{name}:{secret.secret}".encode()).hexdigest()


class Fever:
    def __init__(self, client: FlaskClient, key: str) -> None:
        self.client, self.key = client, key

    def call(self, query: str = "", status: int = 200, **form: Any) -> Any:
        response = self.raw(query, **form)
        assert response.status_code == status, response.get_data(as_text=True)
        body = response.get_json()
        assert body["api_version"] == 3
        return body

    def raw(self, query: str = "", **form: Any) -> TestResponse:
        return self.client.post(f"/api/fever/?api{query}", data={"api_key": self.key, **form})


@pytest.fixture
def alice(client: FlaskClient, site: Site) -> Fever:
    return Fever(client, api_key(site, "alice"))


@pytest.fixture
def bob(client: FlaskClient, site: Site) -> Fever:
    return Fever(client, api_key(site, "bob"))


def ids(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def test_authentication(client: FlaskClient, site: Site, alice: Fever) -> None:
    body = alice.call()
    assert body["auth"] == 1 and isinstance(body["last_refreshed_on_time"], int)
    assert body["last_refreshed_on_time"] > 0
    account_password = hashlib.md5(f"alice:{PASSWORDS['alice']}".encode()).hexdigest()
    for key in ("", "0" * 32, account_password, "not-hex"):
        refused = client.post("/api/fever/?api", data={"api_key": key})
        assert refused.status_code == 401, key
        assert refused.get_json() == {"api_version": 3, "auth": 0}
    # Miniflux also reads the key from the query string.
    assert client.get(f"/api/fever?api&api_key={alice.key}").get_json()["auth"] == 1


def test_groups_and_feeds(alice: Fever, site: Site) -> None:
    body = alice.call("&groups")
    sections = site.aggregator.config.sections
    assert body["groups"] == [{"id": group_id(s.slug), "title": s.name} for s in sections]
    wire = next(feed for feed in site.aggregator.get_feeds() if feed.url.endswith("/wire.xml"))
    assert body["feeds_groups"] == [{"group_id": group_id("us-news"), "feed_ids": str(wire.id)}]
    feeds = alice.call("&feeds")["feeds"]
    assert {feed["id"] for feed in feeds} == {feed.id for feed in site.aggregator.get_feeds()}
    assert set(feeds[0]) == {
        "id", "favicon_id", "title", "url", "site_url", "is_spark", "last_updated_on_time",
    }  # fmt: skip
    assert alice.call("&favicons")["favicons"] == []


def test_items_page_by_since_id_max_id_and_with_ids(alice: Fever, site: Site) -> None:
    stories = sorted(item.story.id for item in site.aggregator.get_stories(ALL).stories)
    body = alice.call("&items")
    assert body["total_items"] == len(stories)
    assert [item["id"] for item in body["items"]] == stories[::-1]  # newest first
    item = body["items"][0]
    assert set(item) == {
        "id", "feed_id", "title", "author", "html", "url", "is_saved", "is_read", "created_on_time",
    }  # fmt: skip
    assert (item["is_read"], item["is_saved"]) == (0, 0)
    since = alice.call(f"&items&since_id={stories[1]}")["items"]
    assert [i["id"] for i in since] == stories[2:]  # ascending, after the id
    below = alice.call(f"&items&max_id={stories[-1]}")["items"]
    assert [i["id"] for i in below] == stories[-2::-1]
    chosen = alice.call(f"&items&with_ids={stories[0]},{stories[2]},999999")["items"]
    assert [i["id"] for i in chosen] == [stories[0], stories[2]]
    wire = next(feed for feed in site.aggregator.get_feeds() if feed.url.endswith("/wire.xml"))
    by_feed = alice.call(f"&items&feed_ids={wire.id}")["items"]
    assert by_feed and {i["feed_id"] for i in by_feed} == {wire.id}
    by_group = alice.call(f"&items&group_ids={group_id('us-news')}")["items"]
    assert by_group and len(by_group) < len(stories)
    frigate = next(i for i in body["items"] if "frigate" in i["title"].lower())
    assert (
        "Also reported by" in frigate["html"] and frigate["url"] == "https://news.example/frigate"
    )


def test_marks_change_one_users_state(alice: Fever, bob: Fever, site: Site) -> None:
    unread = ids(alice.call("&unread_item_ids")["unread_item_ids"])
    assert unread == sorted(item.story.id for item in site.aggregator.get_stories(ALL).stories)
    first, second = unread[:2]
    answer = alice.call(mark="item", id=str(first), **{"as": "read"})
    assert first not in ids(answer["unread_item_ids"])
    saved = alice.call(mark="item", id=str(second), **{"as": "saved"})
    assert ids(saved["saved_item_ids"]) == [second]
    assert ids(alice.call("&saved_item_ids")["saved_item_ids"]) == [second]
    assert ids(bob.call("&unread_item_ids")["unread_item_ids"]) == unread
    assert ids(bob.call("&saved_item_ids")["saved_item_ids"]) == []
    alice.call(mark="item", id=str(first), **{"as": "unread"})
    alice.call(mark="item", id=str(second), **{"as": "unsaved"})
    assert ids(alice.call("&unread_item_ids")["unread_item_ids"]) == unread
    assert alice.call("&saved_item_ids")["saved_item_ids"] == ""
    items = {i["id"]: i for i in alice.call("&items")["items"]}
    assert items[first]["is_read"] == 0


def test_mark_feed_and_group_read_before_a_time(alice: Fever, bob: Fever, site: Site) -> None:
    wire = next(feed for feed in site.aggregator.get_feeds() if feed.url.endswith("/wire.xml"))
    led_by_wire = {i["id"] for i in alice.call(f"&items&feed_ids={wire.id}")["items"]}
    alice.call(mark="feed", id=str(wire.id), before="1000000000", **{"as": "read"})
    assert set(ids(alice.call("&unread_item_ids")["unread_item_ids"])) >= led_by_wire
    later = str(int(site.now.timestamp()) + 7200)
    answer = alice.call(mark="feed", id=str(wire.id), before=later, **{"as": "read"})
    assert not led_by_wire & set(ids(answer["unread_item_ids"]))
    alice.call(mark="group", id=str(group_id("us-news")), before=later, **{"as": "read"})
    alice.call(mark="group", id="0", before=later, **{"as": "read"})  # 0: everything
    assert alice.call("&unread_item_ids")["unread_item_ids"] == ""
    assert bob.call("&unread_item_ids")["unread_item_ids"] != ""


def test_bad_requests_are_400_and_change_nothing(alice: Fever, site: Site) -> None:
    before = alice.call("&unread_item_ids")["unread_item_ids"]
    first = ids(before)[0]
    for form in (
        {"mark": "item", "id": "x", "as": "read"},
        {"mark": "item", "id": str(first), "as": "starred"},
        {"mark": "item", "as": "read"},
        {"mark": "feed", "id": "99999", "as": "read"},
        {"mark": "group", "id": "12345", "as": "read"},
        {"mark": "feed", "id": "1", "as": "unread"},
        {"mark": "story", "id": str(first), "as": "read"},
        {"mark": "group", "id": "0", "as": "read", "before": "yesterday"},
    ):
        assert alice.call(status=400, **form)["error"], form
    for query in (
        "&items&since_id=x",
        "&items&max_id=-1",
        "&items&with_ids=1,a",
        "&items&feed_ids=%00",
    ):
        assert alice.raw(query).status_code == 400, query
    assert alice.call("&unread_item_ids")["unread_item_ids"] == before
    assert alice.client.post("/api/fever/?api=xml", data={"api_key": alice.key}).status_code == 400


def test_nothing_a_client_sends_makes_a_500(alice: Fever) -> None:
    weird = ["", "\x00", "%", "-1", "9" * 40, "ünï", "1,,2", ","]
    names = [
        "since_id",
        "max_id",
        "with_ids",
        "feed_ids",
        "group_ids",
        "mark",
        "as",
        "id",
        "before",
    ]
    for name, value in itertools.product(names, weird):
        assert alice.raw(f"&items&{name}={value}").status_code < 500
        assert (
            alice.raw("", **{name: value, "mark": "item", "as": "read", "id": value}).status_code
            < 500
        )
