"""Contract tests of the Google Reader API (/api/greader) against the requests and
responses of the implementations apps are written for: FreshRSS (p/api/greader.php) and
Miniflux (internal/googlereader): ClientLogin's ``SID/LSID/Auth`` lines,
``Authorization: GoogleLogin auth=…``, the ``T`` action token, ``user/-/state/com.google/…``
and ``user/-/label/…`` streams, ``feed/<id>`` subscriptions, long (hex) and short
(decimal) item ids, ``continuation``, ``OK`` bodies; and the errors: 401 (with
``Google-Bad-Token``) for a missing, bad or expired token, 400 for malformed or unknown
input (which changes nothing), never a 500.

On a database filled by the real pipeline from feeds served on 127.0.0.1, with two
users: every assertion about state is also checked against the other user's.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import lxml.etree
import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from aggregator.core import Aggregator
from aggregator.core._users import API_TOKEN_IDLE
from aggregator.scopes import ALL
from aggregator.storage import Storage
from aggregator.types import User
from aggregator.web import create_app
from tests.accounts import PASSWORDS, sync_site
from tests.reader_site import Site

API = "/api/greader/reader/api/0"
READING_LIST = "user/-/state/com.google/reading-list"
READ = "user/-/state/com.google/read"
STARRED = "user/-/state/com.google/starred"
ATOM = "{http://www.w3.org/2005/Atom}"
GR = "{http://www.google.com/schemas/reader/atom/}"


class Reader:
    """An app signed in to the API: its token and the requests it sends."""

    def __init__(self, client: FlaskClient, user: User, token: str) -> None:
        self.client, self.user, self.token = client, user, token

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"GoogleLogin auth={self.token}"}

    def get(self, path: str, **query: Any) -> TestResponse:
        return self.client.get(API + path, query_string=query, headers=self.auth)

    def json(self, path: str, **query: Any) -> Any:
        response = self.get(path, output="json", **query)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "application/json"
        return response.get_json()

    def post(self, path: str, data: Any) -> TestResponse:
        return self.client.post(API + path, data=data, headers=self.auth)


@pytest.fixture
def site(storage: Storage) -> Iterator[Site]:
    yield from sync_site(storage)


@pytest.fixture
def client(site: Site) -> FlaskClient:
    return create_app(site.aggregator, test_config={"TESTING": True}).test_client()


def app_password(aggregator: Aggregator, name: str) -> str:
    return aggregator.create_app_password(aggregator.user_named(name).id, "tests").secret


def client_login(client: FlaskClient, name: str, password: str, **extra: str) -> TestResponse:
    return client.post(
        "/api/greader/accounts/ClientLogin",
        data={"Email": name, "Passwd": password, "service": "reader", **extra},
    )


def signed_in(client: FlaskClient, site: Site, name: str) -> Reader:
    response = client_login(client, name, app_password(site.aggregator, name))
    token = response.get_data(as_text=True).split("Auth=")[1].strip()
    return Reader(client, site.aggregator.user_named(name), token)


@pytest.fixture
def alice(client: FlaskClient, site: Site) -> Reader:
    return signed_in(client, site, "alice")


@pytest.fixture
def bob(client: FlaskClient, site: Site) -> Reader:
    return signed_in(client, site, "bob")


def item_ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["items"]]


def short_id(long_id: str) -> str:
    return str(int(long_id.rsplit("/", 1)[1], 16))


# --- signing in ----------------------------------------------------------------------------


def test_client_login_answers_sid_lsid_auth(client: FlaskClient, site: Site) -> None:
    secret = app_password(site.aggregator, "alice")
    response = client_login(client, "alice", secret)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    lines = response.get_data(as_text=True).splitlines()
    assert [line.split("=", 1)[0] for line in lines] == ["SID", "LSID", "Auth"]
    auth = lines[2].split("=", 1)[1]
    assert auth.startswith("alice/") and lines[0] == f"SID={auth}"
    as_json = client_login(client, "alice", secret, output="json").get_json()
    assert set(as_json) == {"SID", "LSID", "Auth"}
    # GET with query parameters works too (some clients send it so).
    assert (
        client.get(
            "/api/greader/accounts/ClientLogin", query_string={"Email": "alice", "Passwd": secret}
        ).status_code
        == 200
    )
    for name, password in (
        ("alice", PASSWORDS["alice"]),  # the account password is not for apps
        ("bob", secret),
        ("alice", "wrong"),
        ("", ""),
    ):
        refused = client_login(client, name, password)
        assert refused.status_code == 401, (name, password)
        assert "Error=BadAuthentication" in refused.get_data(as_text=True)


def test_client_login_is_rate_limited(client: FlaskClient, site: Site) -> None:
    for _ in range(5):
        assert client_login(client, "alice", "wrong").status_code == 401
    locked = client_login(client, "alice", app_password(site.aggregator, "alice"))
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0


def test_a_missing_bad_or_expired_token_is_401(
    client: FlaskClient, site: Site, alice: Reader
) -> None:
    for headers in (
        {},
        {"Authorization": "GoogleLogin auth=alice/not-a-token"},
        {"Authorization": "GoogleLogin"},
        {"Authorization": "Bearer x"},
        {"Authorization": f"GoogleLogin token={alice.token}"},
    ):
        response = client.get(API + "/subscription/list?output=json", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["Google-Bad-Token"] == "true"
        assert response.headers["X-Reader-Google-Bad-Token"] == "true"
    assert alice.get("/subscription/list", output="json").status_code == 200
    site.now += API_TOKEN_IDLE + timedelta(minutes=1)
    expired = alice.get("/subscription/list", output="json")
    assert expired.status_code == 401 and "expired" in expired.get_data(as_text=True)


def test_token_and_user_info(alice: Reader) -> None:
    token = alice.get("/token")
    assert token.status_code == 200 and token.get_data(as_text=True) == alice.token
    info = alice.json("/user-info")
    assert info["userName"] == "alice" and info["userEmail"] == "alice"
    assert info["userId"] == info["userProfileId"] == str(alice.user.id)


# --- subscriptions, labels, counts ---------------------------------------------------------


def test_subscriptions_are_the_feeds_with_their_sections_as_labels(
    alice: Reader, site: Site
) -> None:
    subscriptions = alice.json("/subscription/list")["subscriptions"]
    feeds = {feed.id: feed for feed in site.aggregator.get_feeds()}
    assert {item["id"] for item in subscriptions} == {f"feed/{feed_id}" for feed_id in feeds}
    for item in subscriptions:
        assert set(item) >= {"id", "title", "categories", "url", "htmlUrl", "iconUrl"}
        feed = feeds[int(item["id"].split("/")[1])]
        assert item["url"] == feed.url and item["title"] == feed.title
    wire = next(item for item in subscriptions if item["url"].endswith("/wire.xml"))
    assert wire["categories"] == [{"id": "user/-/label/US News", "label": "US News"}]
    tags = alice.json("/tag/list")["tags"]
    assert tags[0] == {"id": STARRED}
    assert {"id": "user/-/label/US News", "label": "US News", "type": "folder"} in tags


def test_unread_counts_count_each_story_once(alice: Reader, bob: Reader, site: Site) -> None:
    body = alice.json("/unread-count")
    counts = {row["id"]: row["count"] for row in body["unreadcounts"]}
    total = site.aggregator.unread_counts(user=alice.user.id).of(ALL)
    assert counts[READING_LIST] == body["max"] == total
    by_feed = sum(count for key, count in counts.items() if key.startswith("feed/"))
    assert by_feed == total  # a story told by two outlets is one item, in one feed
    assert counts["user/-/label/US News"] == site.aggregator.unread_counts(user=alice.user.id).of(
        "section:us-news"
    )
    assert all(row["newestItemTimestampUsec"].isdigit() for row in body["unreadcounts"])
    first = alice.json("/stream/contents/" + READING_LIST, n=1)["items"][0]["id"]
    assert alice.post("/edit-tag", {"i": first, "a": READ}).get_data(as_text=True) == "OK"
    after = {row["id"]: row["count"] for row in alice.json("/unread-count")["unreadcounts"]}
    assert after[READING_LIST] == total - 1
    assert {row["id"]: row["count"] for row in bob.json("/unread-count")["unreadcounts"]}[
        READING_LIST
    ] == total


# --- streams -------------------------------------------------------------------------------


def test_stream_contents_items_have_the_reader_shape(alice: Reader, site: Site) -> None:
    body = alice.json("/stream/contents/" + READING_LIST, n=50)
    assert body["id"] == READING_LIST and "continuation" not in body
    assert isinstance(body["updated"], int) and body["self"][0]["href"]
    stories = site.aggregator.get_stories(ALL, user=alice.user.id).stories
    assert item_ids(body) == [
        f"tag:google.com,2005:reader/item/{item.story.id:016x}" for item in stories
    ]
    frigate = next(item for item in body["items"] if "frigate" in item["title"].lower())
    assert set(frigate) >= {
        "id", "crawlTimeMsec", "timestampUsec", "published", "updated", "title", "author",
        "canonical", "alternate", "summary", "content", "categories", "origin", "enclosure",
    }  # fmt: skip
    assert frigate["crawlTimeMsec"].isdigit() and frigate["timestampUsec"].isdigit()
    assert frigate["alternate"][0] == {"href": "https://news.example/frigate", "type": "text/html"}
    assert frigate["origin"]["streamId"].startswith("feed/")
    assert READING_LIST in frigate["categories"] and "user/-/label/US News" in frigate["categories"]
    assert READ not in frigate["categories"]
    assert "Also reported by" in frigate["summary"]["content"]  # the other outlet's report
    assert "<script" not in "".join(item["content"]["content"] for item in body["items"])


def test_streams_by_feed_label_state_and_filters(alice: Reader, site: Site) -> None:
    everything = item_ids(alice.json("/stream/contents/" + READING_LIST, n=50))
    # Each item is in the stream of exactly one feed: its lead report's.
    by_feed = [
        item_ids(alice.json(f"/stream/contents/feed/{feed.id}", n=50))
        for feed in site.aggregator.get_feeds()
    ]
    assert sorted(itertools.chain(*by_feed)) == sorted(everything)
    label = item_ids(alice.json("/stream/contents/user/-/label/US News", n=50))
    assert label and set(label) < set(everything)
    own = item_ids(alice.json(f"/stream/contents/user/{alice.user.id}/label/us news", n=50))
    assert own == label  # user/<own id>/ is user/-/; labels ignore case
    read, starred = everything[0], everything[1]
    alice.post("/edit-tag", {"i": [read, starred], "a": READ})
    alice.post("/edit-tag", {"i": starred, "a": STARRED, "T": alice.token})
    assert item_ids(alice.json("/stream/contents/" + READ)) == [read, starred]
    assert item_ids(alice.json("/stream/contents/" + STARRED)) == [starred]
    unread = item_ids(alice.json("/stream/contents/" + READING_LIST, xt=READ, n=50))
    assert unread == everything[2:]
    assert item_ids(alice.json("/stream/contents/" + READING_LIST, it=STARRED)) == [starred]
    oldest = item_ids(alice.json("/stream/contents/" + READING_LIST, r="o", n=50))
    assert oldest == everything[::-1]
    # ot/nt: Unix seconds, strictly newer/older than the item's time.
    items = alice.json("/stream/contents/" + READING_LIST, n=50)["items"]
    middle = items[len(items) // 2]["published"]
    newer = item_ids(alice.json("/stream/contents/" + READING_LIST, ot=middle, n=50))
    older = item_ids(alice.json("/stream/contents/" + READING_LIST, nt=middle, n=50))
    assert newer == [i["id"] for i in items if i["published"] > middle]
    assert older == [i["id"] for i in items if i["published"] < middle]


def test_continuation_walks_every_item_once(alice: Reader) -> None:
    everything = item_ids(alice.json("/stream/contents/" + READING_LIST, n=50))
    for path, key in (
        ("/stream/contents/" + READING_LIST, "items"),
        ("/stream/items/ids", "itemRefs"),
    ):
        seen: list[str] = []
        query: dict[str, Any] = {"n": 2, "s": READING_LIST}
        while True:
            body = alice.json(path, **query)
            seen.extend(item["id"] for item in body[key])
            if "continuation" not in body:
                break
            query["c"] = body["continuation"]
        expected = everything if key == "items" else [short_id(i) for i in everything]
        assert seen == expected, path


def test_item_ids_and_item_contents_take_every_id_form(alice: Reader) -> None:
    refs = alice.json("/stream/items/ids", s=READING_LIST, n=3)["itemRefs"]
    assert all(ref["id"].isdigit() and ref["timestampUsec"].isdigit() for ref in refs)
    long_ids = item_ids(alice.json("/stream/contents/" + READING_LIST, n=3))
    assert [ref["id"] for ref in refs] == [short_id(i) for i in long_ids]
    forms = [long_ids[0], refs[1]["id"], long_ids[2].rsplit("/", 1)[1]]  # long, decimal, hex
    response = alice.post("/stream/items/contents", {"i": forms, "output": "json"})
    assert response.status_code == 200
    assert item_ids(response.get_json()) == long_ids
    unknown = alice.post("/stream/items/contents", {"i": [long_ids[0], "999999999"]})
    assert item_ids(unknown.get_json()) == long_ids[:1]  # ids of no story are left out
    for malformed in ("tag:google.com,2005:reader/item/xyz", "12ab", "-", "0", "1e5"):
        bad = alice.post("/stream/items/contents", {"i": malformed})
        assert bad.status_code == 400, malformed
    assert alice.get("/stream/items/ids", s=[READING_LIST, STARRED]).status_code == 400
    assert alice.get("/stream/items/ids").status_code == 400


# --- changing state ------------------------------------------------------------------------


def test_edit_tag_marks_read_unread_starred_for_one_user_only(alice: Reader, bob: Reader) -> None:
    first, second = item_ids(alice.json("/stream/contents/" + READING_LIST, n=2))
    token = alice.get("/token").get_data(as_text=True)
    # As newsboat sends it: read, with kept-unread removed; then unread again.
    newsboat_read = f"i={first}&a={READ}&r=user/-/state/com.google/kept-unread&ac=edit&T={token}"
    answer = alice.client.post(
        API + "/edit-tag",
        data=newsboat_read,
        content_type="application/x-www-form-urlencoded",
        headers=alice.auth,
    )
    assert answer.status_code == 200 and answer.get_data(as_text=True) == "OK"
    assert item_ids(alice.json("/stream/contents/" + READ)) == [first]
    assert item_ids(bob.json("/stream/contents/" + READ)) == []
    alice.post(
        "/edit-tag",
        {
            "i": first,
            "r": READ,
            "a": [
                "user/-/state/com.google/kept-unread",
                "user/-/state/com.google/tracking-kept-unread",
            ],
        },
    )
    assert item_ids(alice.json("/stream/contents/" + READ)) == []
    # Short ids, several at once; the T field alone (no header) authenticates, as Miniflux.
    both = [short_id(first), short_id(second)]
    by_t = alice.client.post(API + "/edit-tag", data={"i": both, "a": STARRED, "T": alice.token})
    assert by_t.get_data(as_text=True) == "OK"
    assert item_ids(alice.json("/stream/contents/" + STARRED)) == [first, second]
    alice.post("/edit-tag", {"i": second, "r": STARRED})
    assert item_ids(alice.json("/stream/contents/" + STARRED)) == [first]
    assert item_ids(bob.json("/stream/contents/" + STARRED)) == []
    # Reeder's "x" and FeedMe's empty T are accepted; another T is not.
    assert alice.post("/edit-tag", {"i": first, "a": READ, "T": "x"}).status_code == 200
    wrong_t = alice.post("/edit-tag", {"i": second, "a": READ, "T": "not-the-token"})
    assert wrong_t.status_code == 401
    assert second not in item_ids(alice.json("/stream/contents/" + READ))


def test_bad_edits_are_refused_and_change_nothing(alice: Reader, bob: Reader) -> None:
    first, second = item_ids(alice.json("/stream/contents/" + READING_LIST, n=2))
    for form in (
        {"i": [first, "not-an-id"], "a": READ},  # one malformed id: nothing is marked
        {"i": first, "a": "user/-/state/com.google/bogus"},
        {"i": first, "a": f"user/{bob.user.id}/state/com.google/read"},  # another user's
        {"i": first, "a": "user/-/label/US News"},
        {"i": first, "a": READ, "r": READ},
        {"i": first},
        {"a": READ},
        {"i": first, "a": "feed/1"},
    ):
        refused = alice.post("/edit-tag", form)
        assert refused.status_code == 400, form
        assert refused.get_data(as_text=True).startswith("Bad request:")
    assert item_ids(alice.json("/stream/contents/" + READ)) == []
    assert item_ids(alice.json("/stream/contents/" + STARRED)) == []
    # Well-formed ids of no story are skipped (they may have been pruned).
    assert alice.post("/edit-tag", {"i": [first, "987654321"], "a": READ}).status_code == 200
    assert item_ids(alice.json("/stream/contents/" + READ)) == [first]
    own = alice.post("/edit-tag", {"i": second, "a": f"user/{alice.user.id}/state/com.google/read"})
    assert own.status_code == 200


def test_mark_all_as_read_by_stream_and_time(alice: Reader, bob: Reader, site: Site) -> None:
    wire = next(feed for feed in site.aggregator.get_feeds() if feed.url.endswith("/wire.xml"))
    in_wire = item_ids(alice.json(f"/stream/contents/feed/{wire.id}", n=50))
    # Items that arrived after ``ts`` stay unread.
    early = alice.post("/mark-all-as-read", {"s": f"feed/{wire.id}", "ts": "1000000000000000"})
    assert early.get_data(as_text=True) == "OK"
    assert item_ids(alice.json("/stream/contents/" + READ)) == []
    answer = alice.post("/mark-all-as-read", {"s": f"feed/{wire.id}", "T": alice.token})
    assert answer.status_code == 200 and answer.get_data(as_text=True) == "OK"
    assert sorted(item_ids(alice.json("/stream/contents/" + READ, n=50))) == sorted(in_wire)
    assert item_ids(bob.json("/stream/contents/" + READ)) == []
    alice.post("/mark-all-as-read", {"s": "user/-/label/US News"})
    alice.post("/mark-all-as-read", {"s": READING_LIST})
    assert item_ids(alice.json("/stream/contents/" + READING_LIST, xt=READ)) == []
    for form in (
        {"s": "feed/99999"},
        {"s": "user/-/label/Nope"},
        {},
        {"s": READING_LIST, "ts": "soon"},
    ):
        assert alice.post("/mark-all-as-read", form).status_code == 400, form
    assert item_ids(bob.json("/stream/contents/" + READ)) == []


def test_unknown_streams_and_formats_are_400(alice: Reader) -> None:
    for path, query in (
        ("/stream/contents/feed/99999", {}),
        ("/stream/contents/feed/http://unknown.example/feed", {}),
        ("/stream/contents/user/-/label/Nope", {}),
        ("/stream/contents/user/-/state/com.google/bogus", {}),
        ("/stream/contents/user/12345/state/com.google/read", {}),
        ("/stream/contents/bogus/1", {}),
        ("/stream/contents/" + READING_LIST, {"c": "not-a-continuation"}),
        ("/stream/contents/" + READING_LIST, {"n": "many"}),
        ("/stream/contents/" + READING_LIST, {"ot": "yesterday"}),
        ("/stream/contents/" + READING_LIST, {"xt": "feed/1"}),
        ("/stream/contents/" + READING_LIST, {"xt": READ, "it": READ}),
        ("/subscription/list", {"output": "xml"}),
    ):
        response = alice.get(path, **query)
        assert response.status_code == 400, (path, query)
    assert alice.post("/subscription/edit", {"s": "feed/1", "ac": "unsubscribe"}).status_code == 403
    assert (
        alice.post("/subscription/quickadd", {"quickadd": "https://x.example/"}).status_code == 403
    )


def test_nothing_a_client_sends_makes_a_500(alice: Reader, client: FlaskClient) -> None:
    weird = [
        "",
        " ",
        "\x00",
        "%",
        "feed/",
        "user/-/label/",
        "user/",
        "tag:google.com,2005:reader/item/",
        "9" * 40,
        "-1",
        "ünï",
        "a" * 5000,
    ]
    paths = [
        "/stream/contents/",
        "/stream/items/ids",
        "/stream/items/contents",
        "/edit-tag",
        "/mark-all-as-read",
        "/unread-count",
        "/user-info",
    ]
    for path, value in itertools.product(paths, weird):
        query = {
            "s": value,
            "i": value,
            "n": value,
            "c": value,
            "ot": value,
            "xt": value,
            "r": value,
        }
        assert alice.get(path + (value if path.endswith("/") else ""), **query).status_code < 500
        assert alice.post(path, {**query, "a": value, "ts": value, "T": value}).status_code < 500
    for value in weird:
        assert (
            client.post(
                "/api/greader/accounts/ClientLogin", data={"Email": value, "Passwd": value}
            ).status_code
            < 500
        )
        assert (
            client.get(
                API + "/token", headers={"Authorization": f"GoogleLogin auth={value}"}
            ).status_code
            == 401
        )


# --- the Atom streams (newsboat) -----------------------------------------------------------


def test_atom_streams_carry_google_reader_state_labels(alice: Reader, site: Site) -> None:
    first = item_ids(alice.json("/stream/contents/" + READING_LIST, n=1))[0]
    alice.post("/edit-tag", {"i": first, "a": [READ, STARRED]})
    response = alice.client.get(
        "/api/greader/reader/atom/" + READING_LIST.replace("/", "%2F"),
        query_string={"n": 2},
        headers=alice.auth,
    )
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    assert "no-store" in response.headers["Cache-Control"]
    feed = lxml.etree.fromstring(response.get_data())
    entries = feed.findall(ATOM + "entry")
    assert len(entries) == 2 and feed.findtext(GR + "continuation")
    labels = [
        {
            c.get("label")
            for c in entry.findall(ATOM + "category")
            if c.get("scheme") == "http://www.google.com/reader/"
        }
        for entry in entries
    ]
    assert entries[0].findtext(ATOM + "id") == first
    assert {"read", "starred", "reading-list"} <= labels[0] and "fresh" not in labels[0]
    assert "fresh" in labels[1] and "read" not in labels[1]
    wire = next(feed for feed in site.aggregator.get_feeds() if feed.url.endswith("/wire.xml"))
    by_feed = alice.client.get(
        f"/api/greader/reader/atom/feed%2F{wire.id}", query_string={"n": 50}, headers=alice.auth
    )
    titles = [
        entry.findtext(ATOM + "title")
        for entry in lxml.etree.fromstring(by_feed.get_data()).findall(ATOM + "entry")
    ]
    assert "Navy commissions a new frigate" in titles
    assert alice.client.get(f"/api/greader/reader/atom/feed%2F{wire.id}").status_code == 401
    assert (
        alice.client.get("/api/greader/reader/atom/feed%2F99999", headers=alice.auth).status_code
        == 400
    )
